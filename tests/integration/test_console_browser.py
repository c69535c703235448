"""The console in a real headless Chromium (Debian's, driven by Playwright) against the real
platform: each role signs in, walks its pages and acts on a ticket, and sees only its own area.
Screenshots of the main pages go to docs/console/ for the README."""
import base64
import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cli.demo_city import SMALL
from cli.demo_work import TEAMS, seed_teams
from cli.seed import creator, seed_demo
from tests.support.console import headless_chromium, signed_in, wait_until_answering
from tests.support.hierarchy import GRIDS
from tests.support.town import PROMISES, TICKETS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs/console"
TENANT = "demo"  # the tenant the platform's console signs people in to
# A 1×1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def community(platform):
    """The small demo community, a category and a ticket in a flat of each of two grids."""
    operator = platform.client(tenant=TENANT, subject="console-seeder")
    node, _ = seed_demo(operator, SMALL, log=lambda line: None)
    grids = operator.call(f"{GRIDS}/ListNodes", {"parent_id": node["id"]})["nodes"]
    operator.call(f"{GRIDS}/AssignPost", {"request_id": "console-post", "node_id": grids[0]["id"], "kind": "GRID_WORKER",
                                          "holder": {"subject": "worker-wang", "display_name": "王芳"}})
    category = operator.call(f"{TICKETS}/CreateCategory", {
        "request_id": "console-heating", "name": "暖气不热", "group": "供暖", "promises": PROMISES,
        "routing": {"assignee_kind": "GRID_WORKER"}})
    tickets = {}
    for grid in grids[:2]:
        building = operator.call(f"{GRIDS}/ListNodes", {"parent_id": grid["id"]})["nodes"][0]
        flat = operator.call(f"{GRIDS}/ListFlats", {"building_id": building["id"]})["flats"][0]
        tickets[grid["id"]] = operator.call(f"{TICKETS}/CreateTicket", {
            "request_id": f"console-{grid['id']}", "kind": "REQUEST", "channel": "HOTLINE",
            "category_id": category["id"], "node_id": flat["id"], "description": f"{building['display_name']}暖气片冰凉"})
    property_company = operator.call(f"{GRIDS}/CreateOrganisation", {
        "request_id": "console-property", "node_id": node["id"], "kind": "PROPERTY_COMPANY", "display_name": "绿城物业"})
    seed_teams(creator(operator, "console"), operator, node)
    wait_until_answering(platform.console_url)
    return {"node": node, "grids": grids, "tickets": tickets, "operator": operator,
            "property_company": property_company}


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as chromium:
        yield chromium


def test_the_operator_walks_from_the_city_to_every_flat_of_a_building(browser, platform, community):
    page = signed_in(browser, platform.console_url, "city_operator")
    card = page.locator("[data-test=card]", has_text=SMALL.community)
    expect(card).to_contain_text("70")  # residents, as a number with its label, not a string of digits
    page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)

    card.click()
    expect(page.locator("[data-test=node-name]")).to_contain_text(SMALL.community)
    expect(page.locator("[data-test=tag-chart] canvas")).to_have_count(1)  # ECharts, served by the console
    expect(page.locator("[data-test=card]")).to_have_count(SMALL.grids)
    page.wait_for_timeout(1200)  # the charts' opening animation
    page.screenshot(path=SCREENSHOTS / "community.png", full_page=True)

    page.locator("[data-test=card]").first.click()
    page.locator("[data-test=card]").first.click()
    building_id = page.url.rsplit("/", 1)[1]
    view = community["operator"].call(f"{GRIDS}/GetBuildingView", {"building_id": building_id})
    flats = page.locator("[data-test=flat]")
    expect(flats).to_have_count(len(view["flats"]))
    for flat in view["flats"]:
        cell = flats.filter(has_text=f"{flat['unit']}-{flat['number']}")
        expect(cell).to_have_class(f"flat {flat['occupancy'].lower()}")
    page.screenshot(path=SCREENSHOTS / "building.png", full_page=True)

    lived_in = next(flat for flat in view["flats"] if community["operator"].call(
        "civicgrid.residents.v1.Residents/ListResidents", {"node_id": flat["id"]}).get("residents"))
    flats.filter(has_text=f"{lived_in['unit']}-{lived_in['number']}").locator("a").click()
    expect(page.locator("[data-test=flat-address]")).to_contain_text(f"{lived_in['unit']}-{lived_in['number']}")
    expect(page.locator("[data-test=member]").first).to_be_visible()
    for phone in page.locator("[data-test=phone]").all_inner_texts():
        assert "*" in phone or not phone  # masked: the operator holds no pii_full grant
    page.screenshot(path=SCREENSHOTS / "flat.png", full_page=True)


def test_the_queue_names_categories_and_places_in_chinese_and_local_time(browser, platform, community):
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/tickets")
    rows = page.locator("[data-test=ticket-row]")
    expect(rows).to_have_count(2)
    text = rows.first.inner_text()
    assert "暖气不热" in text and "号楼" in text and "已提交" in text
    assert not re.search(r"[0-9a-f]{32}", page.locator("main").inner_text())  # names, never ids
    page.screenshot(path=SCREENSHOTS / "queue.png", full_page=True)


def test_a_grid_worker_takes_a_ticket_from_submitted_to_resolved(browser, platform, community):
    grid = community["grids"][0]
    page = signed_in(browser, platform.console_url, "grid_worker")
    assert page.locator("[data-test=who]").inner_text() == f"王芳 · 网格员 · {grid['display_name']}"
    page.goto(f"{platform.console_url}/tickets/{community['tickets'][grid['id']]['id']}")
    for action, state in (("triage", "已受理"), ("assign", "已派单"), ("start", "处理中")):
        page.click(f"[data-test=action-{action}]")
        expect(page.locator("[data-test=state]")).to_have_text(state)
    timeline = page.locator("[data-test=timeline] li")
    page.fill("[data-test=form-pause] input[name=reason]", "等待配件")
    page.click("[data-test=action-pause]")
    expect(timeline.last).to_contain_text("计时暂停")
    page.click("[data-test=action-resume]")
    expect(timeline.last).to_contain_text("计时恢复")
    page.fill("input[name=resolution]", "更换了暖气阀门")
    page.click("[data-test=action-resolve]")
    expect(page.locator("[data-test=state]")).to_have_text("已办结")
    expect(timeline).to_have_count(7)
    page.screenshot(path=SCREENSHOTS / "ticket.png", full_page=True)


def test_staff_take_in_a_party_ask_for_volunteers_and_escalate(browser, platform, community):
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/tickets/{community['tickets'][community['grids'][1]['id']]['id']}")
    timeline = page.locator("[data-test=timeline] li")
    expect(page.locator("[data-test=action-pause]")).to_have_count(0)  # the assignee's to take
    page.select_option("[data-test=organisation]", label="绿城物业")
    page.fill("[data-test=form-add_party] input[name=note]", "请物业派人检修")
    page.click("[data-test=action-add_party]")
    expect(timeline.last).to_contain_text("请物业派人检修")
    page.fill("[data-test=task-title]", "帮忙搬运暖气片")
    page.fill("[data-test=form-request_volunteers] input[name=start]", "2030-01-05T09:00")
    page.fill("[data-test=task-end]", "2030-01-05T12:00")
    page.click("[data-test=action-request_volunteers]")
    expect(timeline.last).to_contain_text("帮忙搬运暖气片：需要 1 人")
    page.fill("[data-test=form-escalate] input[name=reason]", "需要社区协调")
    page.click("[data-test=action-escalate]")
    expect(timeline.last).to_contain_text("需要社区协调")

    page.goto(f"{platform.console_url}/tickets")
    page.select_option("[data-test=queue]", "ORGANISATION_QUEUE")
    page.select_option("[data-test=organisation-queue]", label="绿城物业")
    page.click("form.filters button")
    rows = page.locator("[data-test=ticket-row]")
    expect(rows).to_have_count(1)  # the one ticket the company was taken into
    expect(rows.first).to_contain_text(community["tickets"][community["grids"][1]["id"]]["description"])


def test_a_grid_worker_sees_only_their_grid(browser, platform, community):
    mine, other = community["grids"][0], community["grids"][1]
    page = signed_in(browser, platform.console_url, "grid_worker")
    page.goto(f"{platform.console_url}/tickets")
    expect(page.locator("[data-test=ticket-row]")).to_have_count(1)
    assert community["tickets"][other["id"]]["description"] not in page.content()

    answer = page.goto(f"{platform.console_url}/nodes/{other['id']}")
    assert answer.status in (403, 404)
    assert "无权查看" in page.content() or "未找到" in page.content()
    answer = page.goto(f"{platform.console_url}/nodes/{mine['id']}")
    assert answer.status == 200


def test_a_work_list_shows_address_and_flat_and_exports_whole_to_csv(browser, platform, community):
    node_id = community["node"]["id"]
    figures = community["operator"].call(f"{GRIDS}/GetNodeFigures", {"node_id": node_id})
    elderly = int(figures["residents_by_tag"]["elderly"])
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/nodes/{node_id}")
    page.click("[data-test=work-list]")
    expect(page.locator("[data-test=resident-row]")).to_have_count(min(50, int(figures["residents"])))
    page.goto(f"{platform.console_url}/nodes/{node_id}/residents?tag=elderly")
    rows = page.locator("[data-test=resident-row]")
    expect(rows).to_have_count(elderly)
    for text in rows.all_inner_texts():
        assert "老年人" in text and re.search(r"\d+号楼 \d+-\d+", text), text
    page.screenshot(path=SCREENSHOTS / "work-list.png", full_page=True)

    exported = page.request.get(platform.console_url + page.locator("[data-test=export]").get_attribute("href"))
    assert exported.ok and exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.body().decode("utf-8-sig"))))
    assert lines[0] == ["姓名", "性别", "年龄", "住址", "电话", "标签"]
    assert len(lines) - 1 == elderly and all("老年人" in line[5] for line in lines[1:])


def test_a_grid_worker_logs_a_care_visit_and_the_household_leaves_the_list(browser, platform, community):
    grid = community["grids"][0]
    page = signed_in(browser, platform.console_url, "grid_worker")
    page.goto(f"{platform.console_url}/nodes/{grid['id']}/care?days=30")
    rows = page.locator("[data-test=care-row]")
    before = rows.count()
    assert before > 0
    first = rows.first.inner_text()
    assert re.search(r"\d+号楼 \d+-\d+", first) and "从未走访" in first
    page.screenshot(path=SCREENSHOTS / "care.png", full_page=True)
    rows.first.locator("input[name=findings]").fill("老人身体尚好，已提醒冬季防滑")
    rows.first.locator("[data-test=log-visit]").click()
    expect(page.locator("[data-test=care-row]")).to_have_count(before - 1)


def test_staff_record_a_residents_report_by_building_flat_and_category(browser, platform, community):
    page = signed_in(browser, platform.console_url, "grid_worker")
    page.goto(f"{platform.console_url}/tickets")
    page.click("[data-test=new-ticket]")
    building = page.locator("[data-test=building] option").nth(1)
    building_name = building.inner_text()
    page.select_option("[data-test=building]", value=building.get_attribute("value"))
    flat = page.locator("[data-test=flat] option").nth(1)
    expect(flat).to_be_attached()
    flat_label = flat.inner_text()
    page.select_option("[data-test=flat]", value=flat.get_attribute("value"))
    page.fill("[data-test=description]", "楼道灯不亮，老人夜里出门不便")
    page.click("[data-test=create]")
    expect(page.locator("[data-test=state]")).to_have_text("已提交")
    assert f"{building_name} {flat_label}" in page.locator("h1").inner_text()


def test_a_resident_reports_gives_feedback_and_reads_the_communitys_notice(browser, platform, community):
    operator = community["operator"]
    resident = signed_in(browser, platform.console_url, "resident")
    expect(resident).to_have_url(re.compile(r"/me$"))
    resident.click("[data-test=report]")
    resident.select_option("[data-test=category]", label="暖气不热")
    resident.fill("[data-test=description]", "卧室暖气片冰凉，家里有老人")
    resident.set_input_files("[data-test=photos]", {"name": "暖气片.png", "mimeType": "image/png", "buffer": PNG})
    resident.click("[data-test=send]")
    expect(resident.locator("[data-test=state]")).to_have_text("已提交")
    photo = resident.locator("[data-test=photo]")
    expect(photo).to_have_count(1)
    assert photo.evaluate("image => image.complete && image.naturalWidth") == 1  # served through the gateway
    ticket_id = resident.url.rsplit("/", 1)[1]
    for method, body in (("TriageTicket", {"decision": "ACCEPT"}), ("AssignTicket", {}), ("StartTicket", {}),
                         ("ResolveTicket", {"resolution": "已排气，暖气恢复"})):
        operator.call(f"{TICKETS}/{method}", {"id": ticket_id, **body})
    resident.reload()
    resident.select_option("[data-test=satisfaction]", "4")
    resident.click("[data-test=action-feedback]")
    expect(resident.locator("[data-test=state]")).to_have_text("已评价")

    staff = signed_in(browser, platform.console_url, "city_operator")
    staff.goto(f"{platform.console_url}/nodes/{community['node']['id']}")
    staff.click("[data-test=new-notice]")
    staff.fill("[data-test=title]", "停水通知")
    staff.fill("[data-test=body]", "明天上午9点至12点小区停水检修，请提前储水。")
    staff.click("[data-test=send-notice]")
    expect(staff.locator("[data-test=recipients]")).to_have_text(str(SMALL.people))
    expect(staff.locator("[data-test=read]")).to_have_text("0")

    resident.goto(f"{platform.console_url}/me")
    expect(resident.locator("[data-test=my-ticket]")).to_have_count(1)
    expect(resident.locator("[data-test=message]", has_text="停水通知")).to_have_count(1)
    resident.screenshot(path=SCREENSHOTS / "resident.png", full_page=True)
    resident.locator("[data-test=message]", has_text="停水通知").locator("[data-test=mark-read]").click()
    staff.reload()
    expect(staff.locator("[data-test=read]")).to_have_text("1")


def test_the_volunteers_board_ranks_people_with_reasons_and_dispatches_them(browser, platform, community):
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/nodes/{community['node']['id']}")
    page.click("[data-test=volunteers]")
    for column in ("done", "dispatched", "open"):
        expect(page.locator(f"[data-test=column-{column}] [data-test=task]")).to_have_count(len(TEAMS))
    expect(page.locator("[data-test=team-hours] tr")).to_have_count(len(TEAMS) + 1)
    assert "6.0" in page.locator("[data-test=team-hours]").inner_text()
    page.screenshot(path=SCREENSHOTS / "volunteers.png", full_page=True)

    page.locator("[data-test=column-open] [data-test=task]").first.click()
    ranked = page.locator("[data-test=ranked]")
    expect(ranked.first).to_be_visible()
    assert ranked.first.locator("td").nth(3).inner_text().strip(), "every ranking gives its reasons"
    ranked.first.locator("input[name=volunteer_id]").check()
    page.click("[data-test=dispatch]")
    expect(page.locator("h1 small")).to_have_text("已派出")
    assert "已派 1 / 需 2 人" in page.locator(".meta").inner_text()


def test_visit_quotas_name_each_post_holder_and_who_is_behind(browser, platform, community):
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/nodes/{community['node']['id']}/visit-quotas?quota=3")
    # The grid worker logged one visit in the care test above; other post holders (another
    # module's) may be listed beside her.
    row = page.locator("[data-test=visitor]", has_text="王芳")
    expect(row).to_have_count(1)
    assert row.inner_text().split() == ["王芳", "1", "3", "未完成"]


def test_a_grids_meetings_show_each_decision_and_the_projects_progress_in_chinese(browser, platform, community):
    operator, grid = community["operator"], community["grids"][0]
    suggestions = [operator.call(f"{TICKETS}/CreateTicket", {
        "request_id": f"console-suggestion-{number}", "kind": "SUGGESTION", "channel": "HOTLINE",
        "category_id": operator.call(f"{TICKETS}/GetTicket", {"id": community["tickets"][grid["id"]]["id"]})[
            "category_id"], "node_id": grid["id"], "description": text})
        for number, text in enumerate(("增设晾衣架", "垃圾桶移到消防通道旁"))]
    meeting = operator.call(f"{TICKETS}/CreateMeeting", {
        "request_id": "console-meeting", "node_id": grid["id"], "title": "三月网格议事会",
        "held_at": "2026-03-15T01:30:00Z"})
    if meeting["state"] == "PROPOSED":
        for ticket in suggestions:
            operator.call(f"{TICKETS}/AddAgendaItem", {"id": meeting["id"], "ticket_id": ticket["id"]})
        for _ in range(2):
            operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"]})
        operator.call(f"{TICKETS}/DecideAgendaItem", {"id": meeting["id"], "ticket_id": suggestions[0]["id"],
                                                      "decision": "ADOPTED"})
        operator.call(f"{TICKETS}/DecideAgendaItem", {"id": meeting["id"], "ticket_id": suggestions[1]["id"],
                                                      "decision": "REJECTED", "reason": "会堵住消防通道"})
        for _ in range(2):
            operator.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"]})
        project = operator.call(f"{TICKETS}/CreateProject", {
            "meeting_id": meeting["id"], "ticket_id": suggestions[0]["id"], "title": "增设晾衣架",
            "budget_line": "社区惠民资金", "milestone_titles": ["选址公示", "安装"]})
        operator.call(f"{TICKETS}/UpdateMilestone", {"id": project["id"], "milestone_index": 0, "progress_percent": 100})
    page = signed_in(browser, platform.console_url, "city_operator")
    page.goto(f"{platform.console_url}/nodes/{grid['id']}")
    page.click("[data-test=meetings]")
    expect(page.locator("[data-test=meeting-state]")).to_have_text(["决议公开"])
    assert [row.split("\t") for row in page.locator("[data-test=agenda-item]").all_inner_texts()] == [
        ["增设晾衣架", "0", "采纳"], ["垃圾桶移到消防通道旁", "0", "不予采纳：会堵住消防通道"]]
    assert [cell.strip() for cell in page.locator("[data-test=project]").inner_text().split("\t")] == [
        "增设晾衣架", "社区惠民资金", "选址公示 100%\n安装 0%", "实施中"]
    page.click("text=垃圾桶移到消防通道旁")
    expect(page.locator("body")).to_contain_text("议事会决定：不予采纳 会堵住消防通道")
