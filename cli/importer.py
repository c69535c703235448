"""Bulk import of a community from a CSV file, through the gateway's ImportResidents.

The file is read and checked whole before anything is sent (encoding, columns, numbers), so a
file-level mistake writes nothing. Rows then go in batches; each row is imported whole or comes
back as an error with its row number (the header is row 1), column and reason. Re-running the
same file changes nothing: the service keys every write by the row's content.
"""
import csv
import io
import json

from tqdm import tqdm

IMPORT_METHOD = "civicgrid.residents.v1.Residents/ImportResidents"
COLUMNS = ("building", "unit", "floor", "flat", "occupancy", "household", "name", "relation", "birth_date",
           "gender", "national_id", "phone", "tags")
REQUIRED_COLUMNS = ("building", "flat", "household", "name")
# Big enough that per-call costs (RPC hops, a held event batch) are spread thin, well
# inside ImportResidents' 1,000-row limit.
BATCH_ROWS = 500
TAG_SEPARATOR = ";"


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


def read_rows(path, building_map=None):
    """Returns (rows ready to send, errors found locally)."""
    text = decoded(path)
    reader = csv.DictReader(io.StringIO(text))
    check_columns(reader.fieldnames or [])
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


def decoded(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImportFileError(str(error)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ImportFileError(f"{path}: row {line} is not UTF-8 (byte {error.start}); "
                              "save the file as CSV UTF-8 (GBK is not accepted)") from None


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
            row[column] = value
    if "floor" in row:
        try:
            row["floor"] = int(row["floor"])
        except ValueError:
            return None, {"row": number, "field": "floor", "reason": "must be a whole number"}
    if "tags" in row:
        row["tags"] = [tag.strip() for tag in row["tags"].split(TAG_SEPARATOR) if tag.strip()]
    if building_map is not None and "building" in row:
        if row["building"] not in building_map:
            return None, {"row": number, "field": "building", "reason": "is not in the building map"}
        row["building"] = building_map[row["building"]]
    return row, None


def import_csv(gateway, path, building_map=None, progress=None, batch_rows=BATCH_ROWS):
    """Imports the file; returns the totals and every row error, sorted by row. Progress goes to
    the `progress` stream (the CLI gives stderr) when one is given."""
    rows, errors = read_rows(path, building_map)
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
