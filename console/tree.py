"""Walking the tenant's tree of places through the gateway, as the signed-in person."""
from concurrent.futures import ThreadPoolExecutor

ABOVE_COMMUNITIES = ("CITY", "STREET", "DISTRICT")
STAFF_POSTS = ("COMMUNITY_STAFF", "GRID_WORKER")
# Figures of the nodes on one page are asked for at once: a city of 15 communities is 30 calls.
CALLS_AT_ONCE = 8
_calls = ThreadPoolExecutor(max_workers=CALLS_AT_ONCE, thread_name_prefix="gateway-call")


def children(gateway, token, parent_id):
    """The nodes right below `parent_id`; with none, the person's top nodes."""
    return gateway.call(token, "grids", "ListNodes", "ListNodesRequest", parent_id=parent_id, page_size=500)["nodes"]


def nodes_of_kind(gateway, token, kind):
    """The nodes of `kind` the person may see, found through the levels above them."""
    level, found = children(gateway, token, ""), []
    while level:
        found += [node for node in level if node["kind"] == kind]
        level = [child for node in level if node["kind"] in ABOVE_COMMUNITIES
                 for child in children(gateway, token, node["id"])]
    return found


def each(function, items):
    """`function` of every item, called at once, in the items' order."""
    return list(_calls.map(function, items))


def post_holders(gateway, token, node_id):
    """{node id: holder} of the staff posts at a node and below it."""
    posts = gateway.call(token, "grids", "ListPosts", "ListPostsRequest", node_id=node_id,
                         include_descendants=True, page_size=500)["posts"]
    return {post["node_id"]: post["holder"] for post in posts if post["kind"] in STAFF_POSTS}
