"""Reading a community CSV before anything is sent: columns, encoding, row conversions."""
import pytest

from cli.importer import ImportFileError, read_rows

HEADER = "building,unit,floor,flat,household,name,tags\n"


def csv_file(tmp_path, text, encoding="utf-8-sig"):
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_rows_are_numbered_from_the_header_mapped_and_converted(tmp_path):
    rows, errors = read_rows(csv_file(tmp_path, HEADER + "1号楼,1,3,301,王家,王桂兰, elderly ;living_alone\n"
                                                         "9号楼,1,3,302,李家,李明,\n"
                                                         "1号楼,1,three,303,赵家,赵红,\n"
                                                         "1号楼,1,3,304,周家,周一,,extra\n"), {"1号楼": "b1"})
    assert rows == [{"row": 2, "building": "b1", "unit": "1", "floor": 3, "flat": "301", "household": "王家",
                     "name": "王桂兰", "tags": ["elderly", "living_alone"]}]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "building"), (4, "floor"), (5, "row")]


def test_without_a_building_map_the_building_column_holds_node_ids(tmp_path):
    rows, _ = read_rows(csv_file(tmp_path, HEADER + "node-1,,,101,H,N,\n"))
    assert rows[0]["building"] == "node-1" and "floor" not in rows[0]


@pytest.mark.parametrize("text, encoding, message", [
    ("building,flat,household\nb,1,h\n", "utf-8", r"missing columns \['name'\]"),
    ("building,flat,household,name,colour\nb,1,h,n,red\n", "utf-8", r"unknown columns \['colour'\]"),
    (HEADER + "b,1,1,101,王家,王,\n", "utf-16", "row 1 is not UTF-8 nor GB18030"),
])
def test_files_that_cannot_be_imported(tmp_path, text, encoding, message):
    with pytest.raises(ImportFileError, match=message):
        read_rows(csv_file(tmp_path, text, encoding))
