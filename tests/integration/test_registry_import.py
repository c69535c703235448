"""CSV import and the import/stats/worklist commands, through the real gateway and services."""
import json

import pytest

from cli.importer import ImportFileError, import_csv
from cli.main import main
from services.residents.pii import with_check_digit
from tests.support.hierarchy import GRIDS, RESIDENTS, build_hierarchy

pytestmark = pytest.mark.integration
HEADER = "building,unit,floor,flat,occupancy,household,name,relation,birth_date,gender,national_id,phone,tags\n"


def write(tmp_path, text, name="community.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture
def community(platform, unique):
    tenant = f"imp-{unique}"
    operator = platform.client(tenant=tenant)
    ids = build_hierarchy(operator, unique)
    second = operator.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": "B2", "parent_id": ids["GRID"]})
    return operator, ids, {"1号楼": ids["BUILDING"], "2号楼": second["id"]}, tenant


def test_import_reports_bad_rows_writes_good_ones_and_reruns_idempotently(platform, community, tmp_path):
    operator, ids, buildings, tenant = community
    wang_id = with_check_digit("11010119410302123")
    rows = (
        f"1号楼,1,3,301,OWNER_OCCUPIED,王家,王桂兰,head,1941-03-02,FEMALE,{wang_id},13812345678,elderly;living_alone\n"
        "1号楼,1,3,301,,王家,王小明,grandchild,2015-06-01,MALE,,,child\n"
        f"2号楼,,1,101,RENTED,李家,李明,head,,MALE,{with_check_digit('11010119800715123')},,\n"
        "3号楼,1,1,101,,赵家,赵红,head,1983-01-20,FEMALE,,,\n"
        "2号楼,,1,101,RENTED,李家,李华,spouse,1990-02-30,FEMALE,,,\n"
        f"2号楼,,2,201,,陈家,陈建国,head,1941-03-02,MALE,{wang_id},,\n"
        "2号楼,,x,202,,周家,周一,head,1970-01-01,MALE,,,\n"
        "2号楼,,2,203,,吴家,吴二,head,1970-01-01,MALE,,,astronaut\n"
        "2号楼,,3,301,,郑家,郑一,head,,MALE,110101198007151230,,\n"
    )
    path = write(tmp_path, HEADER + rows)
    first = import_csv(operator, path, buildings, progress=None)
    assert (first["flats_created"], first["households_created"], first["residents_created"]) == (1, 2, 3)
    assert [(e["row"], e["field"]) for e in first["errors"]] == [
        (5, "building"), (6, "birth_date"), (7, "national_id"), (8, "floor"), (9, "tags"), (10, "national_id")]
    assert "already registered" in first["errors"][2]["reason"]
    assert "check digit" in first["errors"][5]["reason"]
    residents = platform.database("residents").residents
    assert residents.count_documents({"tenant": tenant}) == 3
    # Rows that failed left nothing behind: no flat 201 and no household for 陈家.
    assert platform.database("grids").flats.count_documents({"tenant": tenant}) == 2
    assert platform.database("residents").households.count_documents({"tenant": tenant}) == 2

    again = import_csv(operator, path, buildings, progress=None)
    assert (again["flats_created"], again["households_created"], again["residents_created"],
            again["rows_unchanged"]) == (0, 0, 0, 3)
    assert [(e["row"], e["field"]) for e in again["errors"]] == [(e["row"], e["field"]) for e in first["errors"]]
    assert residents.count_documents({"tenant": tenant}) == 3
    # The existing flat 301 of build_hierarchy was reused, not duplicated.
    view = operator.call(f"{GRIDS}/GetBuildingView", {"building_id": ids["BUILDING"]})
    assert [f["number"] for f in view["flats"]] == ["301"]


@pytest.mark.parametrize("text, encoding, message", [
    ("building,flat,household\n1号楼,301,王家\n", "utf-8", "missing columns ['name']"),
    ("building,flat,household,name,color\n1号楼,301,王家,王,red\n", "utf-8", "unknown columns ['color']"),
    (HEADER + "1号楼,1,3,301,,王家,王桂兰,head,1941-03-02,FEMALE,,,\n", "utf-16", "row 1 is not UTF-8 nor GB18030"),
    (HEADER, "utf-8", "no rows"),
])
def test_a_file_with_wrong_columns_or_encoding_writes_nothing(platform, community, tmp_path, text, encoding,
                                                               message):
    operator, ids, buildings, tenant = community
    with pytest.raises(ImportFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_csv(operator, write(tmp_path, text, encoding=encoding), buildings, progress=None)
    assert platform.database("residents").residents.count_documents({"tenant": tenant}) == 0


def test_cli_import_stats_and_worklist(platform, community, tmp_path, capsys):
    operator, ids, buildings, tenant = community
    path = write(tmp_path, HEADER + "1号楼,1,5,501,,孙家,孙奶奶,head,1938-05-05,FEMALE,,13900001111,elderly;living_alone\n"
                                    "1号楼,1,5,501,,孙家,孙子,grandchild,2010-05-05,MALE,,,child\n")
    map_path = tmp_path / "buildings.json"
    map_path.write_text(json.dumps(buildings, ensure_ascii=False), encoding="utf-8")
    common = ["--gateway", platform.address, "--token", platform.token(tenant=tenant)]
    assert main([*common, "import", path, "--building-map", str(map_path)]) == 0
    output = capsys.readouterr()
    report = json.loads(output.out)
    assert (report["flats_created"], report["households_created"], report["residents_created"]) == (1, 1, 2)
    assert "2/2 rows" in output.err

    assert main([*common, "stats", ids["COMMUNITY"]]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["residents"], figures["households"], figures["flats"]) == ("2", "1", "2")

    assert main([*common, "worklist", ids["GRID"], "--tag", "elderly", "--tag", "living_alone"]) == 0
    assert capsys.readouterr().out.splitlines() == ["孙奶奶\t1938-05-05\t139****1111\telderly,living_alone"]

    bad = write(tmp_path, "name\nx\n", name="bad.csv")
    assert main([*common, "import", bad]) == 2
    assert "nothing imported" in capsys.readouterr().err


def test_a_clean_file_reruns_from_its_batch_notes_and_any_batching_changes_nothing(platform, community, tmp_path):
    operator, ids, buildings, tenant = community
    rows = "".join(f"2号楼,1,{n},{n}01,OWNER_OCCUPIED,孙家{n},孙{n},head,1970-01-0{n},MALE,,,\n" for n in range(1, 6))
    path = write(tmp_path, HEADER + rows)
    first = import_csv(operator, path, buildings, progress=None)
    assert (first["flats_created"], first["households_created"], first["residents_created"]) == (5, 5, 5)
    assert platform.database("residents").imported_batches.count_documents({"tenant": tenant}) == 1

    for batch_rows in (500, 2):  # the same batch again, then batches never seen: checked row by row
        again = import_csv(operator, path, buildings, progress=None, batch_rows=batch_rows)
        assert (again["flats_created"], again["households_created"], again["residents_created"],
                again["rows_unchanged"], again["errors"]) == (0, 0, 0, 5, [])
    assert platform.database("residents").residents.count_documents({"tenant": tenant}) == 5
    assert platform.database("grids").flats.count_documents({"tenant": tenant}) == 6


def test_a_national_id_registered_one_by_one_is_refused_in_an_import_until_its_holder_goes(
        platform, community, tmp_path):
    operator, ids, buildings, tenant = community
    national_id = with_check_digit("11010119600101123")
    household = operator.call("civicgrid.residents.v1.Residents/CreateHousehold",
                              {"flat_id": ids["FLAT"], "display_name": "周家"})
    holder = operator.call("civicgrid.residents.v1.Residents/CreateResident", {
        "household_id": household["id"], "display_name": "周一", "national_id": national_id})
    path = write(tmp_path, HEADER + f"2号楼,1,5,501,VACANT,吴家,吴一,head,,MALE,{national_id},,\n")

    refused = import_csv(operator, path, buildings, progress=None)
    assert [(e["row"], e["field"]) for e in refused["errors"]] == [(2, "national_id")]
    assert platform.database("grids").flats.count_documents({"tenant": tenant, "number": "501"}) == 0
    assert platform.database("residents").households.count_documents({"tenant": tenant, "display_name": "吴家"}) == 0

    operator.call("civicgrid.residents.v1.Residents/DeleteResident", {"id": holder["id"]})
    taken_over = import_csv(operator, path, buildings, progress=None)
    assert (taken_over["residents_created"], taken_over["errors"]) == (1, [])


def test_a_chinese_excel_csv_in_gbk_with_chinese_headings_and_values_imports(platform, community, tmp_path):
    operator, ids, buildings, tenant = community
    text = ("楼栋,单元,楼层,房号,居住情况,户,姓名,与户主关系,出生日期,性别,身份证号,电话,标签\r\n"
            "1号楼,1,4,401,出租,钱家,钱淑芬,户主,1940-08-08,女,,,老年人、独居\r\n"
            "1号楼,1,4,401,出租,钱家,钱小宝,孙子女,2016-01-01,男,,,儿童\r\n")
    report = import_csv(operator, write(tmp_path, text, encoding="gbk"), buildings, progress=None)
    assert (report["residents_created"], report["errors"]) == (2, [])
    [elder] = operator.call(f"{RESIDENTS}/ListResidents", {"node_id": ids["BUILDING"], "tags": ["living_alone"]})[
        "residents"]
    assert (elder["display_name"], elder["relation"], elder["gender"], sorted(elder["tags"])) == (
        "钱淑芬", "head", "FEMALE", ["elderly", "living_alone"])
    flats = operator.call(f"{GRIDS}/GetBuildingView", {"building_id": ids["BUILDING"]})["flats"]
    assert {flat["number"]: flat["occupancy"] for flat in flats}["401"] == "RENTED"

    declared = import_csv(operator, write(tmp_path, text, name="declared.csv", encoding="gb18030"), buildings,
                          progress=None, encoding="gb18030")
    assert (declared["residents_created"], declared["rows_unchanged"]) == (0, 2)
