"""The event catalog partners build against: its shape is pinned here."""
from services.events import CONTRACTS
from services.notifications import catalog


def test_catalog_lists_every_registered_event_type_once():
    entries = catalog.catalog()
    assert [entry["type"] for entry in entries] == sorted(CONTRACTS)
    assert all(entry["version"] >= 1 and entry["source_service"] for entry in entries)


def test_catalog_entry_shape():
    [entry] = [e for e in catalog.catalog() if e["type"] == "civicgrid.grids.flat.created.v1"]
    assert entry == {
        "type": "civicgrid.grids.flat.created.v1", "source_service": "grids", "name": "flat.created",
        "version": 1, "description": "",
        "fields": [{"name": name, "type": kind, "required": True, "withheld_from": []} for name, kind in [
            ("id", "string"), ("building_id", "string"), ("unit", "string"), ("floor", "integer"),
            ("number", "string"), ("occupancy", "string"), ("path", "array<string>")]]}


def test_catalog_tells_which_partner_kinds_a_field_is_withheld_from():
    [entry] = [e for e in catalog.catalog() if e["type"] == "civicgrid.residents.resident.registered.v1"]
    fields = {field["name"]: field for field in entry["fields"]}
    assert fields["birth_date"]["withheld_from"] == ["other", "property_company"]
    assert fields["path"]["withheld_from"] == []


def test_markdown_document_has_a_section_and_a_row_per_field():
    entries = catalog.catalog()
    document = catalog.markdown(entries)
    assert document.count("\n## civicgrid.") == len(entries)
    assert "| birth_date | string | yes | other, property_company |" in document
