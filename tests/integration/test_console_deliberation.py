"""The console's deliberation (议事会) and polls in a real headless Chromium against the real
platform: community staff convene a meeting, build its agenda from the suggested one, take it
through 四议两公开 (with the refusals a stale page and a rejection without a reason get), start a
project from the adopted item and complete it; staff put a poll to a building, a resident of it
answers, staff watch the count and close it, the resident reads the results. Screenshots go to
docs/console/ for the README."""
import base64
import re
import sys
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cli.demo_city import SMALL
from cli.seed import seed_demo
from tests.conftest import free_port
from tests.support.console import headless_chromium, signed_in, web_process
from tests.support.hierarchy import GRIDS, RESIDENTS
from tests.support.town import PROMISES, TICKETS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs/console"
# A tenant of this module's own, with a console signing people in to it: the platform's console
# and its demo tenant belong to test_console_browser.py, whose pages count what they hold.
TENANT = "demo-deliberation"
STAFF_NAME = "李娜"
WORKER_NAME = "赵磊"
SUGGESTIONS = ("小区增设电动车充电桩，避免楼道充电", "健身器材老化，希望更换")


@pytest.fixture(scope="module")
def console_url(platform):
    port = free_port()
    env = {**platform.env, "CONSOLE_PORT": str(port), "CONSOLE_GATEWAY": platform.address, "CONSOLE_TENANT": TENANT,
           "CONSOLE_DEV_SIGNIN": "true", "CONSOLE_SESSION_SECRET": uuid.uuid4().hex}
    with web_process([sys.executable, "-m", "console"], env, port, "/signin", cwd=ROOT) as url:
        yield url


@pytest.fixture(scope="module")
def community(platform, console_url):
    """The small demo community (as the browser tests seed it: each seeding step repeats as a
    no-op), its staff post held by 李娜, its second grid's by 赵磊, and two suggestions there."""
    operator = platform.client(tenant=TENANT, subject="console-seeder")
    node, _ = seed_demo(operator, SMALL, log=lambda line: None)
    grids = operator.call(f"{GRIDS}/ListNodes", {"parent_id": node["id"]})["nodes"]
    operator.call(f"{GRIDS}/AssignPost", {"request_id": "deliberation-staff-post", "node_id": node["id"],
                                          "kind": "COMMUNITY_STAFF",
                                          "holder": {"subject": "staff-li", "display_name": STAFF_NAME}})
    operator.call(f"{GRIDS}/AssignPost", {"request_id": "deliberation-worker-post", "node_id": grids[1]["id"],
                                          "kind": "GRID_WORKER",
                                          "holder": {"subject": "worker-zhao", "display_name": WORKER_NAME}})
    category = operator.call(f"{TICKETS}/CreateCategory", {
        "request_id": "deliberation-facilities", "name": "公共设施", "group": "社区建设", "promises": PROMISES,
        "routing": {"assignee_kind": "GRID_WORKER"}})
    grid = grids[1]
    building = operator.call(f"{GRIDS}/ListNodes", {"parent_id": grid["id"]})["nodes"][0]
    flat = operator.call(f"{GRIDS}/ListFlats", {"building_id": building["id"]})["flats"][0]
    resident = platform.client(tenant=TENANT, role="resident", scope=(flat["id"],), subject="deliberation-resident")
    suggestions = [resident.call(f"{TICKETS}/CreateTicket", {
        "request_id": f"deliberation-suggestion-{number}", "kind": "SUGGESTION", "channel": "SELF_SERVICE",
        "category_id": category["id"], "node_id": flat["id"], "description": text})
        for number, text in enumerate(SUGGESTIONS)]
    return {"node": node, "grid": grid, "operator": operator, "suggestions": suggestions}


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


def advance(page, step):
    page.click("[data-test=advance]")
    expect(page.locator("[data-test=current-step]")).to_have_count(1)
    expect(page.locator("li.current b")).to_have_text(step)


def test_staff_run_a_meeting_through_the_procedure_and_carry_out_what_it_adopted(browser, console_url, community):
    grid = community["grid"]
    adopted, other = community["suggestions"]
    page = signed_in(browser, console_url, "community_staff")
    assert page.locator("[data-test=who]").inner_text().startswith(STAFF_NAME)
    page.goto(f"{console_url}/nodes/{grid['id']}")
    page.click("[data-test=meetings]")
    page.fill("[data-test=meeting-title]", "十二月网格议事会")
    page.fill("[data-test=meeting-held-at]", "2026-12-20T19:30")
    page.locator("[data-test=convene] label", has_text=WORKER_NAME).locator("input").check()  # the grid's worker
    page.click("[data-test=convene-meeting]")

    expect(page.locator("[data-test=meeting-title]")).to_contain_text("十二月网格议事会")
    meta = page.locator("p.meta").first.inner_text()
    # The tenant's zone; the convenor and the attendee by name.
    assert "2026-12-20 19:30" in meta and STAFF_NAME in meta and WORKER_NAME in meta
    steps = page.locator("[data-test=procedure] li")
    expect(steps).to_have_text([re.compile(name) for name in (
        "提议", "两委商议", "党员大会审议", "村（居）民代表会议决议", "决议公开", "实施结果公开")])
    expect(page.locator("li.current b")).to_have_text("提议")
    expect(page.locator("[data-test=step-PROPOSED] [data-test=step-taken]")).to_contain_text(STAFF_NAME)
    assert not re.search(r"[0-9a-f]{32}", page.locator("main").inner_text())  # names, never ids

    suggested = page.locator("[data-test=suggestion]")
    expect(suggested).to_have_count(2)
    assert "公共设施" in suggested.first.inner_text()
    suggested.filter(has_text=SUGGESTIONS[0]).locator("[data-test=add-to-agenda]").click()
    expect(page.locator("[data-test=agenda-item]")).to_have_count(1)
    assert page.locator("[data-test=agenda-item] td").all_inner_texts()[:2] == [SUGGESTIONS[0], "1"]  # its reporter
    expect(page.locator("[data-test=suggestion]")).to_have_count(1)
    meeting_url = page.url

    stale = signed_in(browser, console_url, "community_staff")  # the same meeting in another window, left at 提议
    stale.goto(meeting_url)
    advance(page, "两委商议")
    expect(page.locator("[data-test=step-PROPOSED]")).to_have_class(re.compile("done"))
    answer = stale.expect_response(lambda response: response.request.method == "POST")
    with answer as refused:
        stale.click("[data-test=advance]")
    assert refused.value.status == 409
    expect(stale.locator("h1")).to_have_text("操作未成功")
    expect(stale.locator("[data-test=refusal]")).to_contain_text("not PROPOSED")
    stale.click("[data-test=back]")
    expect(stale.locator("li.current b")).to_have_text("两委商议")  # read again, it shows the step taken
    stale.close()

    page.fill("[data-test=form-advance] input[name=note]", "两委会议一致同意提交审议")
    advance(page, "党员大会审议")
    expect(page.locator("[data-test=step-DELIBERATION]")).to_contain_text("两委会议一致同意提交审议")
    expect(page.locator("[data-test=suggestion]")).to_have_count(0)  # the agenda is settled
    item = page.locator("[data-test=agenda-item]")
    item.locator("[data-test=reason]").press("Enter")  # Enter decides nothing: adopt is not the default
    expect(item.locator("[data-test=decision]")).to_have_text("")
    item.locator("[data-test=reject]").click()  # no reason given
    expect(page.locator("h1")).to_have_text("操作未成功")
    expect(page.locator("[data-test=refusal]")).to_contain_text("reason: is required to reject")
    page.click("[data-test=back]")
    expect(item.locator("[data-test=decision]")).to_have_text("")
    item.locator("[data-test=adopt]").click()
    expect(item.locator("[data-test=decision]")).to_have_text("采纳")
    assert STAFF_NAME in item.inner_text()  # who decided

    advance(page, "村（居）民代表会议决议")
    advance(page, "决议公开")
    page.fill("[data-test=minutes-text]", "到会11人，一致同意在3号楼旁增设充电桩。")
    page.click("[data-test=record-minutes]")
    expect(page.locator("[data-test=minutes]")).to_have_text("到会11人，一致同意在3号楼旁增设充电桩。")
    expect(page.locator("[data-test=form-decide]")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS / "meeting.png", full_page=True)

    page.click("[data-test=start-project] summary")
    page.fill("[data-test=project-title]", "增设电动车充电桩")
    page.fill("[data-test=project-milestones]", "选址公示\n\n安装调试\n")
    page.fill("[data-test=project-budget]", "社区惠民资金")
    page.click("[data-test=create-project]")
    expect(page.locator("[data-test=project-state]")).to_have_text("实施中")
    milestones = page.locator("[data-test=milestone]")
    expect(milestones).to_have_count(2)
    expect(milestones.locator("[data-test=progress]")).to_have_text(["0%", "0%"])
    expect(page.locator("[data-test=form-complete]")).to_have_count(0)
    for index, progress, note in ((0, "100", "公示期满无异议"), (1, "60", "设备到场"), (1, "100", "通电验收")):
        form = milestones.nth(index).locator("[data-test=form-milestone]")
        form.locator("[data-test=progress-input]").fill(progress)
        form.locator("[data-test=milestone-note]").fill(note)
        form.locator("[data-test=update-milestone]").click()
        expect(milestones.nth(index).locator("[data-test=progress]")).to_have_text(f"{progress}%")
        expect(milestones.nth(index)).to_contain_text(note)
    expect(page.locator("[data-test=form-milestone]")).to_have_count(0)
    page.fill("[data-test=outcome-text]", "充电桩12个已投入使用")
    page.click("[data-test=complete-project]")
    expect(page.locator("[data-test=project-state]")).to_have_text("已完工")
    expect(page.locator("[data-test=outcome]")).to_contain_text("充电桩12个已投入使用")
    page.screenshot(path=SCREENSHOTS / "project.png", full_page=True)

    page.click("[data-test=suggestion-link]")
    expect(page.locator("[data-test=state]")).to_have_text("已办结")
    timeline = page.locator("[data-test=timeline]")
    expect(timeline).to_contain_text("议事会决定：采纳")
    expect(timeline).to_contain_text("增设电动车充电桩: 充电桩12个已投入使用")

    page.goto(meeting_url)
    expect(page.locator("[data-test=project-link]")).to_have_count(1)
    advance(page, "实施结果公开")
    expect(page.locator("[data-test=advance]")).to_have_count(0)  # the procedure is over
    expect(page.locator("[data-test=procedure] li.done")).to_have_count(6)
    other_page = community["operator"].call(f"{TICKETS}/GetTicket", {"id": other["id"]})
    assert other_page["state"] not in ("RESOLVED", "CLOSED") and not other_page.get("deliberation", {}).get("decision")

    page.goto(f"{console_url}/nodes/{grid['id']}/meetings")
    expect(page.locator("[data-test=meeting-state]")).to_have_text(["实施结果公开"])
    expect(page.locator("[data-test=project]")).to_contain_text("已完工")


def test_staff_poll_a_building_a_resident_answers_and_reads_the_results_once_closed(browser, console_url, community):
    operator = community["operator"]
    # The first demo resident the sign-in page offers: the head of the community's first household.
    household = operator.call(f"{RESIDENTS}/ListHouseholds", {"node_id": community["node"]["id"],
                                                               "page_size": 3})["households"][0]
    building_id = operator.call(f"{GRIDS}/GetFlat", {"id": household["flat_id"]})["building_id"]
    building = operator.call(f"{GRIDS}/GetNode", {"id": building_id})

    staff = signed_in(browser, console_url, "community_staff")
    staff.goto(f"{console_url}/nodes/{building_id}/polls")
    expect(staff.locator("h1")).to_contain_text(building["display_name"])
    staff.click("[data-test=new-poll]")
    staff.fill("[data-test=poll-title]", "加装电梯意见征集")
    staff.fill("[data-test=poll-description]", "请每户选择一项，结束后公布结果。")
    staff.fill("[data-test=question-1]", "您是否同意本楼加装电梯？")
    staff.fill("[data-test=choices-1]", "同意\n不同意\n")
    staff.click("[data-test=create-poll]")
    expect(staff.locator("[data-test=poll-state]")).to_have_text("进行中")
    expect(staff.locator("[data-test=answer-count]")).to_have_text("0")
    assert building["display_name"] in staff.locator("p.meta").first.inner_text()

    resident = signed_in(browser, console_url, "resident")
    resident.goto(f"{console_url}/me")
    resident.locator("[data-test=my-poll]", has_text="加装电梯意见征集").locator("a").click()
    expect(resident.locator("[data-test=poll-results]")).to_have_count(0)  # not before it closes
    resident.locator("label", has_text="不同意").locator("[data-test=choice]").check()
    resident.click("[data-test=answer-poll]")
    expect(resident.locator("[data-test=answered]")).to_contain_text("您的答卷已提交")

    # The staff page counts the answer in by itself (it refreshes every 10 s).
    expect(staff.locator("[data-test=answer-count]")).to_have_text("1", timeout=20_000)
    expect(staff.locator("[data-test=poll-results] li", has_text="不同意")).to_contain_text("1 (100%)")
    staff.screenshot(path=SCREENSHOTS / "poll.png", full_page=True)
    staff.click("[data-test=close-poll]")
    expect(staff.locator("[data-test=poll-state]")).to_have_text("已关闭")
    expect(staff.locator("[data-test=close-poll]")).to_have_count(0)

    resident.reload()
    expect(resident.locator("[data-test=answer-count]")).to_have_text("1")
    expect(resident.locator("[data-test=poll-results] li", has_text="不同意")).to_contain_text("1 (100%)")
    expect(resident.locator("[data-test=poll-results] li").first).to_contain_text("同意 · 0 (0%)")
    resident.screenshot(path=SCREENSHOTS / "resident-poll.png", full_page=True)


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==")


def published_project_of(operator, community, reporter, flat_id):
    """A community meeting that adopted `reporter`'s suggestion (made at their flat) and published it, and the project
    that carried it out, with a photo of the work."""
    category = operator.call(f"{TICKETS}/CreateCategory", {
        "request_id": "deliberation-facilities", "name": "公共设施", "group": "社区建设", "promises": PROMISES,
        "routing": {"assignee_kind": "GRID_WORKER"}})
    suggestion = reporter.call(f"{TICKETS}/CreateTicket", {
        "request_id": "deliberation-benches", "kind": "SUGGESTION", "channel": "SELF_SERVICE",
        "category_id": category["id"], "node_id": flat_id, "description": "小广场增设休息长椅"})
    meeting = operator.call(f"{TICKETS}/CreateMeeting", {
        "request_id": "deliberation-community-meeting", "node_id": community["node"]["id"], "title": "社区议事会",
        "held_at": "2026-11-20T06:00:00Z"})
    if meeting["state"] == "PROPOSED":
        operator.call(f"{TICKETS}/AddAgendaItem", {"id": meeting["id"], "ticket_id": suggestion["id"]})
        for state in ("PROPOSED", "COMMITTEE_REVIEW"):
            operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"], "from_state": state})
        operator.call(f"{TICKETS}/DecideAgendaItem", {"id": meeting["id"], "ticket_id": suggestion["id"],
                                                      "decision": "ADOPTED"})
        for state in ("DELIBERATION", "RESOLVED"):
            operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"], "from_state": state})
    project = operator.call(f"{TICKETS}/CreateProject", {
        "request_id": "deliberation-benches-project", "meeting_id": meeting["id"], "ticket_id": suggestion["id"],
        "title": "增设休息长椅", "milestone_titles": ["安装"]})
    if project["state"] == "ACTIVE":
        operator.call(f"{TICKETS}/UpdateMilestone", {"id": project["id"], "milestone_index": 0, "progress_percent": 100,
                                                     "note": "6 张长椅已安装",
                                                     "photos": [{"content_type": "image/png",
                                                                 "data": base64.b64encode(PNG).decode()}]})
        operator.call(f"{TICKETS}/CompleteProject", {"id": project["id"], "outcome": "长椅已投入使用"})
    return meeting, project


def test_a_resident_reads_what_the_community_published_and_rates_its_project(browser, platform, console_url,
                                                                             community):
    operator = community["operator"]
    household = operator.call(f"{RESIDENTS}/ListHouseholds", {"node_id": community["node"]["id"],
                                                               "page_size": 3})["households"][0]
    head = next(member for member in operator.call(f"{RESIDENTS}/ListResidents", {
        "node_id": household["flat_id"], "page_size": 20})["residents"] if member["household_id"] == household["id"])
    reporter = platform.client(tenant=TENANT, role="resident", scope=(household["flat_id"],), subject=head["id"])
    meeting, project = published_project_of(operator, community, reporter, household["flat_id"])

    resident = signed_in(browser, console_url, "resident")
    resident.goto(f"{console_url}/me")
    expect(resident.locator("[data-test=published-meeting]", has_text="社区议事会")).to_contain_text("决议公开")
    resident.locator("[data-test=published-project]", has_text="增设休息长椅").locator("a").click()
    expect(resident.locator("[data-test=project-state]")).to_have_text("已完工")
    expect(resident.locator("[data-test=milestone-photo]")).to_have_count(1)
    expect(resident.locator("[data-test=rating-summary]")).to_have_text("暂无评价。")
    resident.check("[data-test=satisfaction-4]")
    resident.fill("[data-test=rating-comment]", "坐着很舒服")
    resident.click("[data-test=rate-project]")
    expect(resident.locator("[data-test=rating-summary]")).to_contain_text("1")
    expect(resident.locator("[data-test=rating]")).to_contain_text("坐着很舒服")
    expect(resident.locator("[data-test=form-rate]")).to_have_count(0)
    resident.screenshot(path=SCREENSHOTS / "resident-project.png", full_page=True)

    resident.goto(f"{console_url}/meetings/{meeting['id']}")
    expect(resident.locator("[data-test=decision]")).to_have_text(["采纳"])
    expect(resident.locator("[data-test=advance]")).to_have_count(0)
