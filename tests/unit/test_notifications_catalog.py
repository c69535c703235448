"""The event catalog partners build against: its shape is pinned here."""
from services.events import CONTRACTS, FIELD_MEANINGS
from services.notifications import catalog
from services.notifications.rules import REDACTED_FIELDS
from services.residents.events import ResidentTagged


def test_catalog_lists_every_registered_event_type_once():
    entries = catalog.catalog()
    assert [entry["type"] for entry in entries] == sorted(CONTRACTS)
    assert all(entry["version"] >= 1 and entry["source_service"] for entry in entries)


def test_catalog_entry_shape():
    [entry] = [e for e in catalog.catalog() if e["type"] == "civicgrid.grids.flat.created.v1"]
    assert entry == {
        "type": "civicgrid.grids.flat.created.v1", "source_service": "grids", "name": "flat.created",
        "version": 1, "description": "A flat was registered in a building.",
        "fields": [{"name": name, "type": kind, "required": True, "withheld_from": [],
                    "description": FIELD_MEANINGS[name]} for name, kind in [
            ("id", "string"), ("building_id", "string"), ("unit", "string"), ("floor", "integer"),
            ("number", "string"), ("occupancy", "string"), ("path", "array<string>")]]}


def test_every_event_type_and_every_field_is_described():
    """A contract without a docstring, or a field neither described on the contract nor in
    FIELD_MEANINGS, is named here."""
    entries = catalog.catalog()
    undescribed = [entry["type"] for entry in entries if not entry["description"]] + [
        f"{entry['type']} field {field['name']}" for entry in entries for field in entry["fields"]
        if not field["description"]]
    assert not undescribed, "no description for:\n" + "\n".join(undescribed)


def test_a_contract_describes_its_field_where_the_name_alone_does_not():
    [entry] = [e for e in catalog.catalog() if e["type"] == ResidentTagged.event_type]
    fields = {field["name"]: field for field in entry["fields"]}
    assert fields["tags"]["description"] == ResidentTagged.model_fields["tags"].description != FIELD_MEANINGS["tags"]
    assert fields["tagged_by"]["description"] == FIELD_MEANINGS["tagged_by"]


def test_the_glossary_names_only_fields_some_contract_takes_its_meaning_from():
    taken = {name for model in catalog.load_contracts().values()
             for name, field in model.model_fields.items() if not field.description}
    assert sorted(set(FIELD_MEANINGS) - taken) == []


def test_an_event_type_is_described_by_its_own_docstring_on_one_line():
    [entry] = [e for e in catalog.catalog() if e["type"] == "civicgrid.grids.node.moved.v1"]
    assert entry["description"].startswith("A grid moved to another community or district, or a building")
    assert "\n" not in entry["description"] and "  " not in entry["description"]


def test_catalog_tells_which_partner_kinds_a_field_is_withheld_from():
    [entry] = [e for e in catalog.catalog() if e["type"] == "civicgrid.residents.resident.registered.v1"]
    fields = {field["name"]: field for field in entry["fields"]}
    assert fields["birth_date"]["withheld_from"] == ["other", "property_company"]
    assert fields["path"]["withheld_from"] == []


def test_markdown_document_has_a_section_and_a_row_per_field():
    entries = catalog.catalog()
    document = catalog.markdown(entries)
    assert document.count("\n## civicgrid.") == len(entries)
    assert f"| birth_date | string | yes | other, property_company | {FIELD_MEANINGS['birth_date']} |" in document


def test_markdown_document_says_what_each_partner_kind_never_receives():
    document = catalog.markdown(catalog.catalog())
    header = document.split("\n## ", 1)[0]
    for kind, hidden in REDACTED_FIELDS.items():
        assert f"- {kind} never receives: {', '.join(sorted(hidden))}." in header
