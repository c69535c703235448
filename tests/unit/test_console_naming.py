"""The console's remembered names: a category created since they were remembered is named."""
import uuid

from console.naming import Names


class Gateway:
    def __init__(self):
        self.categories, self.calls = [{"id": "c1", "name": "暖气不热"}], 0

    def call(self, token, service, method, request_type, **fields):
        assert method == "ListCategories"
        self.calls += 1
        return {"categories": list(self.categories)}


def test_a_category_created_since_the_names_were_remembered_is_looked_up_once_a_page():
    gateway, tenant = Gateway(), f"naming-{uuid.uuid4().hex}"
    assert Names(gateway, "token", tenant).category("c1") == "暖气不热"
    gateway.categories.append({"id": "c2", "name": "公共设施"})
    page = Names(gateway, "token", tenant)
    assert page.category("c2") == "公共设施" and gateway.calls == 2
    assert page.category("gone") == "" and page.category("gone") == "" and gateway.calls == 2
    assert Names(gateway, "token", tenant).category("c1") == "暖气不热" and gateway.calls == 2
