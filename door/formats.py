"""Answers in the format the path asks for: JSON as is, XML with the standard's element names
(a list of services is <services><service>…, of requests <service_requests><request>…, of
errors <errors><error>…)."""
import json
import xml.etree.ElementTree as ElementTree

# The element of a list, and of each item in it, by what the list holds.
LIST_ELEMENTS = {"services": ("services", "service"), "requests": ("service_requests", "request"),
                 "errors": ("errors", "error")}
# The element of each item of a list field inside an answer.
ITEM_ELEMENTS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}
# The root element of an answer that is one object.
OBJECT_ELEMENTS = {"definition": "service_definition", "discovery": "discovery"}


def as_json(payload):
    return json.dumps(payload, ensure_ascii=False)


def as_xml(kind, payload):
    """`payload` (a list for services, requests and errors; else an object) as an XML document."""
    if kind in LIST_ELEMENTS:
        root_name, item_name = LIST_ELEMENTS[kind]
        root = ElementTree.Element(root_name)
        for item in payload:
            filled(ElementTree.SubElement(root, item_name), item)
    else:
        root = filled(ElementTree.Element(OBJECT_ELEMENTS[kind]), payload)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def filled(element, value):
    """`element` holding `value`: an object's fields as children, a list's items as children
    named for it, true/false in lower case, nothing for None."""
    if isinstance(value, dict):
        for name, field in value.items():
            if field is not None:
                filled(ElementTree.SubElement(element, name), field)
    elif isinstance(value, list):
        for item in value:
            filled(ElementTree.SubElement(element, ITEM_ELEMENTS.get(element.tag, "item")), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
    return element


def rendered(kind, payload, fmt):
    """The body and content type of an answer."""
    if fmt == "xml":
        return as_xml(kind, payload), "text/xml; charset=utf-8"
    return as_json(payload), "application/json; charset=utf-8"
