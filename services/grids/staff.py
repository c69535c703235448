"""The rules of staff posts, free of storage and RPC: which post is held at which kind of node,
what makes a post unique, and who holds the posts nearest to a place."""
from services.errors import AlreadyExists, InvalidArgument
from services.grids.schemas import POST_NODE_KINDS, SOLE_POSTS
from services.storage import content_id


def require_post_fits(kind, node):
    fitting = POST_NODE_KINDS[kind]
    if node["kind"] not in fitting:
        raise InvalidArgument.field("kind", f"a {kind} serves a {' or '.join(fitting)}, not a {node['kind']}")


def holder_key(command):
    """What must be unique besides the post at the node: nothing for a sole post, else the person."""
    return "" if command.kind in SOLE_POSTS else command.holder.subject


def new_post(tenant, command, node):
    """A post's fields; its id says what must be unique: the post at the node, or the person in
    the post there."""
    return {"id": content_id(tenant, node["_id"], command.kind, holder_key(command)), "node_id": node["_id"],
            "node_kind": node["kind"], "kind": command.kind, "holder": command.holder.model_dump(),
            "path": node["path"]}


def post_taken(command, node):
    if holder_key(command):
        return AlreadyExists(f"{command.holder.subject} holds this post here already",
                             [{"field": "holder.subject", "description": "already held"}])
    return AlreadyExists(f"the {node['kind'].lower()} has a {command.kind} already",
                         [{"field": "kind", "description": "already held"}])


def require_same_holder(post, changes):
    """A post is its holder's: UpdatePost corrects their name or phone, never who they are."""
    if changes["holder"]["subject"] != post["holder"]["subject"]:
        raise InvalidArgument.field(
            "post.holder.subject", "is who holds the post; RemovePost and AssignPost hand it to someone else")


def nearest_staff(path, kinds, posts):
    """For each kind of post asked (in order, once each), its holders at the node of `path`
    nearest to its end, among `posts` held on `path`."""
    depth = {node_id: index for index, node_id in enumerate(path)}
    found = []
    for kind in dict.fromkeys(kinds):
        held = [post for post in posts if post["kind"] == kind]
        if not held:
            found.append({"post": kind, "node_id": "", "holders": []})
            continue
        nearest = max(depth[post["node_id"]] for post in held)
        at_nearest = sorted((post for post in held if depth[post["node_id"]] == nearest), key=lambda post: post["_id"])
        found.append({"post": kind, "node_id": path[nearest],
                      "holders": [post["holder"] | {"post_id": post["_id"]} for post in at_nearest]})
    return found
