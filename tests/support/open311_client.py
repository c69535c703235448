"""A small Open311 GeoReport v2 client, written to the standard (wiki.open311.org/GeoReport_v2),
for the door's tests.

PyPI was checked for a maintained client: `open311` (1.1, 2011) and `three` (0.8, 2013) are
unmaintained; `georeport` (0.3.1, 2025) is kept up but reads only — it cannot POST a request,
never sends api_key on GETs (which this door needs unless it has a public token), has no
page/page_size and raises on an error instead of reading the standard's error list. So this one
speaks the standard over requests, parses XML with the stdlib, and gives back the HTTP status
with every answer, errors included."""
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

import requests

# XML elements that are lists, and the element of each of their items.
XML_LISTS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
             "values": "value", "endpoints": "endpoint", "formats": "format"}


@dataclass
class Answer:
    status: int
    body: object
    content_type: str


class Open311Client:
    def __init__(self, root, api_key=None, fmt="json", timeout=30):
        self.root = root.rstrip("/")
        self.api_key = api_key
        self.fmt = fmt
        self.timeout = timeout

    def discovery(self):
        return self._get("discovery")

    def services(self):
        return self._get("services")

    def service_definition(self, service_code):
        return self._get(f"services/{service_code}")

    def requests(self, **filters):
        """GET requests with the standard's filters (service_request_id, service_code, status,
        start_date, end_date) and page/page_size."""
        return self._get("requests", filters)

    def request(self, service_request_id):
        return self._get(f"requests/{service_request_id}")

    def post_request(self, service_code, attributes=None, **fields):
        """POST requests, form-encoded; `attributes` are sent as attribute[code]=value."""
        form = {"service_code": service_code, **fields,
                **{f"attribute[{code}]": value for code, value in (attributes or {}).items()}}
        if self.api_key is not None:
            form["api_key"] = self.api_key
        return self._answer(requests.post(f"{self.root}/requests.{self.fmt}", data=form, timeout=self.timeout))

    def _get(self, resource, params=None):
        params = {**(params or {}), **({"api_key": self.api_key} if self.api_key is not None else {})}
        return self._answer(requests.get(f"{self.root}/{resource}.{self.fmt}", params=params, timeout=self.timeout))

    def _answer(self, response):
        content_type = response.headers.get("Content-Type", "")
        if "xml" in content_type:
            body = from_xml(ElementTree.fromstring(response.content))
        else:
            body = response.json()
        return Answer(response.status_code, body, content_type)


def from_xml(element):
    """An XML answer as JSON would give it: lists for list elements, text for leaves (typed
    values stay strings, as XML has them)."""
    if element.tag in XML_LISTS:
        return [from_xml(child) for child in element]
    if len(element) == 0:
        return element.text or ""
    return {child.tag: from_xml(child) for child in element}
