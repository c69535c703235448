"""The rules of the hierarchy, free of storage and RPC: which kind of node hangs below which, who
creates cities, where a node's path runs, and how grids are split and merged within their
community."""
from services.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.grids.schemas import ALLOWED_PARENTS, COMMUNITY_DEPTH, GRID_CHILD_KINDS, CreateNode
from services.storage import content_id


def require_kind(node, kind, field):
    if node["kind"] != kind:
        raise InvalidArgument.field(field, f"is a {node['kind']}, not a {kind}")
    return node


def require_attachable(node, kinds):
    """Posts aside, what is attached to a node (organisations, stations) fits some kinds only."""
    if node["kind"] not in kinds:
        raise InvalidArgument.field("node_id", f"is a {node['kind']}; attach to a {' or '.join(kinds)}")
    return node


def needs_parent(command, caller):
    """Whether a new node of `command.kind` goes below a parent. A city has none, and only a
    city operator with the whole tenant in scope creates one."""
    allowed = ALLOWED_PARENTS[command.kind]
    if allowed:
        if not command.parent_id:
            raise InvalidArgument.field("parent_id", f"a {command.kind} needs a parent ({' or '.join(allowed)})")
        return True
    if command.parent_id:
        raise InvalidArgument.field("parent_id", "a CITY has no parent")
    if not (caller.whole_tenant and caller.role == "city_operator"):
        raise PermissionDenied("only a city operator with the whole tenant in scope creates cities")
    return False


def path_below(kind, parent):
    """The path a node of `kind` starts from below `parent`, if it may hang there."""
    allowed = ALLOWED_PARENTS[kind]
    if parent["kind"] not in allowed:
        raise InvalidArgument.field("parent_id", f"a {kind} goes below {' or '.join(allowed)}, not {parent['kind']}")
    return parent["path"]


def new_node(node_id, command, parent_path):
    return {"id": node_id, "kind": command.kind, "display_name": command.display_name,
            "parent_id": command.parent_id, "path": [*parent_path, node_id]}


def require_movable(node):
    if node["kind"] != "GRID":
        raise InvalidArgument.field("id", f"is a {node['kind']}; only a GRID moves")


def require_grid_parent(parent):
    if parent["kind"] not in ALLOWED_PARENTS["GRID"]:
        raise InvalidArgument.field("parent_id", f"a GRID goes below COMMUNITY or DISTRICT, not {parent['kind']}")


def moved(node, parent):
    """(the changes that put `node` below `parent`, the data of its node.moved event)."""
    path = [*parent["path"], node["_id"]]
    return {"parent_id": parent["_id"], "path": path}, {
        "id": node["_id"], "kind": node["kind"], "display_name": node["display_name"],
        "previous_parent_id": node["parent_id"], "parent_id": parent["_id"],
        "previous_path": node["path"], "path": path}


def check_same_community(grid, other, field):
    """Grids are re-divided within their community; MoveNode takes a whole grid to another one."""
    if other["path"][COMMUNITY_DEPTH] != grid["path"][COMMUNITY_DEPTH]:
        raise InvalidArgument.field(field, "is a grid of another community; MoveNode moves a whole grid there")


# Splitting a grid

def require_one_split_target(command, grid):
    """A split names either an existing grid or a new grid's name; a new grid needs a request_id."""
    if bool(command.target_grid_id) == bool(command.new_grid_display_name):
        raise InvalidArgument.field("target_grid_id", "give either target_grid_id or new_grid_display_name")
    if command.target_grid_id == grid["_id"]:
        raise InvalidArgument.field("target_grid_id", "is the grid being split; name another grid")
    if not command.target_grid_id and not command.request_id:
        raise InvalidArgument.field("request_id", "is required to split into a new grid, so a retry finds it")


def grid_split_off(tenant, command, grid):
    """(id, CreateNode) of the new grid a split makes below the split grid's parent. The id
    derives from the split's request_id, so a re-run of the split makes no second grid."""
    grid_id = content_id(tenant, "split", grid["_id"], command.request_id)
    return grid_id, CreateNode(request_id=grid_id, kind="GRID", display_name=command.new_grid_display_name,
                               parent_id=grid["parent_id"])


def require_grid_child(child, field, grid, target_id):
    """A child that moves in a split: directly below the grid, or already below the target
    (moved by an earlier attempt of the same split)."""
    if child["kind"] not in GRID_CHILD_KINDS:
        raise InvalidArgument.field(field, f"is a {child['kind']}; a grid's {' or '.join(GRID_CHILD_KINDS)} children move")
    if child["parent_id"] not in (grid["_id"], target_id):
        raise InvalidArgument.field(field, f"is not directly below grid {grid['_id']}")


def split_data(grid, target, children, new_grid):
    return {"id": grid["_id"], "path": grid["path"], "target_id": target["_id"], "target_path": target["path"],
            "new_grid": new_grid, "child_ids": [child["_id"] for child in children]}


def closing_events(children, target, events):
    """Per child, the events its move carries besides its own: the last child still to move
    closes the step with `events`. With none left to move, the step was done and none carries them."""
    pending = [child for child in children if child["parent_id"] != target["_id"]]
    return [events if pending and child is pending[-1] else () for child in children]


# Merging grids

def require_other_grid(command):
    if command.source_id == command.target_id:
        raise InvalidArgument.field("target_id", "is the source grid; merge into another grid")


def was_merged(source_id, target):
    """The target records each grid merged into it, so a re-run after the merge finds it done."""
    return source_id in target.get("merged_from", ())


def require_posts_retired(source, posts, retire_posts):
    """Who leads the merged grid is a decision: the source's posts go only when the merge says so."""
    if posts and not retire_posts:
        raise FailedPrecondition(
            f"grid {source['_id']} has {len(posts)} staff posts; remove them first, or set retire_posts",
            [{"field": "retire_posts", "description": "is false and the source grid has posts"}])


def merged_data(source, target):
    return {"id": source["_id"], "display_name": source["display_name"], "path": source["path"],
            "target_id": target["_id"], "target_path": target["path"]}
