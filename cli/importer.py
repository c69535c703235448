"""Bulk import of a community from a CSV file, through the gateway's ImportResidents.

The file is read and checked whole before anything is sent (encoding, columns, numbers), so a
file-level mistake writes nothing. Rows then go in batches; each row is imported whole or comes
back as an error with its row number (the header is row 1), column and reason. Re-running the
same file changes nothing: the service keys every write by the row's content.
"""
import csv
import io
import json
import re

from tqdm import tqdm

IMPORT_METHOD = "civicgrid.residents.v1.Residents/ImportResidents"
COLUMNS = ("building", "unit", "floor", "flat", "occupancy", "household", "name", "relation", "birth_date",
           "gender", "national_id", "phone", "tags")
REQUIRED_COLUMNS = ("building", "flat", "household", "name")
# Big enough that per-call costs (RPC hops, a held event batch) are spread thin, well
# inside ImportResidents' 1,000-row limit.
BATCH_ROWS = 500
TAG_SEPARATORS = re.compile(r"[;；、,，]")
# What Excel saves a "CSV" as on a Chinese Windows, when the file is not UTF-8.
EXCEL_CHINESE_ENCODING = "gb18030"
# Column headings as a Chinese form writes them, beside the column names.
CHINESE_COLUMNS = {
    "楼栋": "building", "单元": "unit", "楼层": "floor", "房号": "flat", "居住情况": "occupancy", "户": "household",
    "户名": "household", "姓名": "name", "与户主关系": "relation", "出生日期": "birth_date", "性别": "gender",
    "身份证号": "national_id", "公民身份号码": "national_id", "电话": "phone", "联系电话": "phone", "标签": "tags",
}
# Chinese values beside the codes, per column.
CHINESE_VALUES = {
    "occupancy": {"自住": "OWNER_OCCUPIED", "出租": "RENTED", "空置": "VACANT"},
    "relation": {"户主": "head", "本人": "head", "配偶": "spouse", "子女": "child", "子": "child", "女": "child",
                 "父母": "parent", "父亲": "parent", "母亲": "parent", "祖父母": "grandparent", "孙子女": "grandchild",
                 "兄弟姐妹": "sibling", "儿媳": "in_law", "女婿": "in_law", "租户": "tenant", "其他": "other"},
    "gender": {"男": "MALE", "女": "FEMALE"},
    "tags": {"老年人": "elderly", "独居": "living_alone", "独居老人": "living_alone", "退役军人": "veteran",
             "残疾人": "disabled", "特扶家庭": "special_service_family", "育龄妇女": "childbearing_age_woman",
             "已全程接种": "fully_vaccinated", "空巢": "empty_nest", "空巢老人": "empty_nest", "儿童": "child",
             "社区矫正": "community_correction", "安置帮教": "resettlement", "精神障碍": "mental_disability"},
}


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing was sent."""


def load_building_map(path):
    """A JSON object mapping the CSV's building labels to building node ids."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            mapping = json.load(handle)
    except (OSError, ValueError) as error:
        raise ImportFileError(f"--building-map {path}: {error}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ImportFileError(f"--building-map {path}: must be a JSON object of label -> building id")
    return mapping


def read_rows(path, building_map=None, encoding=None):
    """Returns (rows ready to send, errors found locally)."""
    text = decoded(path, encoding)
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [CHINESE_COLUMNS.get(name.strip(), name.strip()) for name in reader.fieldnames or []]
    check_columns(reader.fieldnames)
    rows, errors = [], []
    for number, record in enumerate(reader, start=2):
        row, problem = request_row(number, record, building_map)
        if problem:
            errors.append(problem)
        else:
            rows.append(row)
    if not rows and not errors:
        raise ImportFileError(f"{path}: no rows below the header")
    return rows, errors


def decoded(path, encoding=None):
    """The file's text: in `encoding` when declared, else UTF-8 (with or without Excel's
    byte-order mark) or, failing that, GB18030 (which GBK files are too)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImportFileError(str(error)) from None
    for candidate in [encoding] if encoding else ["utf-8-sig", EXCEL_CHINESE_ENCODING]:
        try:
            return data.decode(candidate)
        except LookupError:
            raise ImportFileError(f"--encoding {encoding}: no such encoding") from None
        except UnicodeDecodeError as error:
            failure = error
    line = data[:failure.start].count(b"\n") + 1
    tried = encoding or "UTF-8 nor GB18030"
    raise ImportFileError(f"{path}: row {line} is not {tried} (byte {failure.start}); "
                          "save the file as CSV UTF-8, or as CSV from a Chinese Excel") from None


def check_columns(header):
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if unknown or missing:
        problems = ([f"unknown columns {unknown}"] if unknown else []) + (
            [f"missing columns {missing}"] if missing else [])
        raise ImportFileError(f"header: {'; '.join(problems)}; expected columns: {', '.join(COLUMNS)}")


def request_row(number, record, building_map):
    if None in record:
        return None, {"row": number, "field": "row", "reason": "has more values than the header has columns"}
    row = {"row": number}
    for column, value in record.items():
        value = (value or "").strip()
        if value:
            row[column] = CHINESE_VALUES.get(column, {}).get(value, value) if column != "tags" else value
    if "floor" in row:
        try:
            row["floor"] = int(row["floor"])
        except ValueError:
            return None, {"row": number, "field": "floor", "reason": "must be a whole number"}
    if "tags" in row:
        row["tags"] = [CHINESE_VALUES["tags"].get(tag.strip(), tag.strip())
                       for tag in TAG_SEPARATORS.split(row["tags"]) if tag.strip()]
    if building_map is not None and "building" in row:
        if row["building"] not in building_map:
            return None, {"row": number, "field": "building", "reason": "is not in the building map"}
        row["building"] = building_map[row["building"]]
    return row, None


def import_csv(gateway, path, building_map=None, progress=None, batch_rows=BATCH_ROWS, encoding=None):
    """Imports the file; returns the totals and every row error, sorted by row. Progress goes to
    the `progress` stream (the CLI gives stderr) when one is given."""
    rows, errors = read_rows(path, building_map, encoding)
    return import_rows(gateway, rows, progress, batch_rows, failed_locally=errors)


def import_rows(gateway, rows, progress=None, batch_rows=BATCH_ROWS, failed_locally=()):
    """Sends rows (ImportResidents rows: `row` number, the CSV's columns, buildings as node ids)
    in batches; returns the totals and every row error, sorted by row. `failed_locally` are
    errors of rows checked before sending: reported with the rest and counted as done."""
    totals = {"flats_created": 0, "households_created": 0, "residents_created": 0, "rows_unchanged": 0}
    errors = list(failed_locally)
    with progress_bar(progress, len(rows) + len(errors), len(errors)) as bar:
        for start in range(0, len(rows), batch_rows):
            batch = rows[start:start + batch_rows]
            result = gateway.call(IMPORT_METHOD, {"rows": batch}, timeout=30)
            for key in totals:
                totals[key] += result.get(key, 0)
            errors += result.get("errors", [])
            bar.set_postfix_str(f"{len(errors)} errors", refresh=False)
            bar.update(len(batch))
    return {**totals, "errors": sorted(errors, key=lambda error: error.get("row", 0))}


def progress_bar(stream, total, done):
    """`importing [#########.....] 300/500 rows, 2 errors` on `stream`; nothing without one."""
    return tqdm(total=total, initial=done, file=stream, disable=stream is None, ascii=".#",
                bar_format="importing [{bar:30}] {n}/{total} rows{postfix}", postfix=f"{done} errors")
