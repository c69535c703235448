"""The grids service: RPC entrypoints for the hierarchy, its flats, and the staff posts,
organisations and stations attached to its nodes. The rules live in `hierarchy`, `flats`,
`staff` and `stations`; the queries in `store`."""
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services import base
from services.commands import command
from services.errors import FailedPrecondition, InvalidArgument, NotFound
from services.grids import flats, hierarchy, schemas, staff, stations
from services.grids.events import (DutyAdded, DutyRemoved, FlatCreated, FlatDeleted, GridMerged, GridSplit,
                                   NodeCreated, NodeDeleted, NodeMoved, NodeUpdated, OrganisationCreated,
                                   OrganisationUpdated, PostAssigned, PostRemoved, PostUpdated, StationCreated,
                                   StationUpdated, flat_event, grids_event, node_event, record_event)
from services.grids.store import GridsRepository
from services.messaging import RpcProxy
from services.queries import one_of
from services.storage import MongoStore, new_id, public, read_each
from services.storage.snapshots import FIGURES_REFRESH_SECONDS
from services.validation import masked_changes


class GridsService(base.CivicService):
    name = "grids"
    store = MongoStore(GridsRepository)
    residents = RpcProxy("residents")

    # Nodes

    @command(schemas.CreateNode)
    def create_node(self, caller, command):
        return public(self._create_node(caller, command, new_id()))

    @command(schemas.GetById)
    def get_node(self, caller, command):
        return public(self._node(caller, command.id))

    @command(schemas.ListNodes)
    def list_nodes(self, caller, command):
        """The children of `parent_id`; without one, the caller's top nodes: the cities of a
        whole tenant, else the nodes of their scope."""
        if command.parent_id:
            self._node(caller, command.parent_id)
            query = {"tenant": caller.tenant, "parent_id": command.parent_id}
        elif caller.whole_tenant:
            query = caller.scoped({"kind": "CITY"})
        else:
            query = caller.scoped(one_of("_id", caller.scope))
        return self._page(self.store.nodes, query, command, "nodes")

    @command(schemas.UpdateNode)
    def update_node(self, caller, command):
        node_id, changes = masked_changes(schemas.NodeChanges, command.node, command.update_mask, "node")
        node = self._node(caller, node_id)
        event = node_event(NodeUpdated, caller.tenant, public(node) | changes, changed=sorted(changes))
        return public(self.store.nodes.update({"tenant": caller.tenant, "_id": node_id}, changes, [event]))

    @command(schemas.GetById)
    def delete_node(self, caller, command):
        node = self._node(caller, command.id)
        if self.store.has_children(caller.tenant, node["_id"]):
            raise FailedPrecondition("node has nodes or flats below it; move or delete them first")
        event = node_event(NodeDeleted, caller.tenant, public(node))
        self.store.nodes.retire({"tenant": caller.tenant, "_id": node["_id"]}, [event])
        return public(node)

    @command(schemas.MoveNode)
    def move_node(self, caller, command):
        """Moves a grid, with everything below it, to another community or district.

        The grid's new place and its event go in one write; the records below then follow
        (nodes, flats, posts, organisations, stations, duties). Residents keep their own
        copies of paths and follow from the event. Moving a grid again to where it already is
        writes no event and finishes the path rewrite a crashed move left halfway."""
        node = self._node(caller, command.id)
        hierarchy.require_movable(node)
        parent = self._node(caller, command.parent_id, field="parent_id")
        hierarchy.require_grid_parent(parent)
        return public(self._reparent(caller, node, parent))

    # Re-dividing grids. No multi-document transactions: every step is a single-document write
    # that a re-run of the same request skips once done, so a re-run finishes what a crash left.

    @command(schemas.SplitGrid)
    def split_grid(self, caller, command):
        """Moves some children of a grid (buildings, micro-grids) to a new grid below the same
        parent, or to another grid of the same community; returns that grid. Each child moves as
        in move_node, with its node.moved event; the last one's write also carries grid.split.

        A new grid's id derives from the request_id, so a re-run makes no second grid; children
        already in the target (moved by an earlier attempt) are accepted and only followed up."""
        grid = self._grid(caller, command.grid_id, "grid_id")
        hierarchy.require_one_split_target(command, grid)
        target_id, stored_target = self._split_target(caller, command, grid)
        children = self._children_to_split(caller, command.child_ids, grid, target_id)
        target = stored_target()
        split = grids_event(GridSplit, caller.tenant, f"nodes/{grid['_id']}",
                            hierarchy.split_data(grid, target, children, new_grid=not command.target_grid_id))
        for child, closing_events in zip(children, hierarchy.closing_events(children, target, [split])):
            self._reparent(caller, child, target, closing_events)
        return public(target)

    @command(schemas.MergeGrids)
    def merge_grids(self, caller, command):
        """Moves every child of grid `source_id` to grid `target_id` of the same community, and
        the source's organisations and stations with them; removes its posts when
        `retire_posts` says so (otherwise they refuse the merge, since who leads the merged grid
        is a decision); then retires the emptied source. Returns the target grid.

        The target records the source in `merged_from` before the source goes, so a re-run
        after the merge finished returns the target and writes nothing."""
        hierarchy.require_other_grid(command)
        target = self._grid(caller, command.target_id, "target_id")
        try:
            source = self._grid(caller, command.source_id, "source_id")
        except NotFound:
            if hierarchy.was_merged(command.source_id, target):
                return public(target)
            raise
        hierarchy.check_same_community(source, target, "target_id")
        posts = self.store.attached_at(self.store.posts, caller.tenant, source["_id"])
        hierarchy.require_posts_retired(source, posts, command.retire_posts)
        self._empty_grid(caller, source, target, posts)
        return public(self._retire_merged(caller, source, target))

    # Flats

    @command(schemas.CreateFlat)
    def create_flat(self, caller, command):
        fields = flats.flat_fields(new_id(), command, self._building(caller, command.building_id))
        event = flat_event(FlatCreated, caller.tenant, fields)
        history = [flats.occupancy_change(command.occupancy, caller)]
        try:
            document, _ = self.store.flats.create(
                caller.tenant, command.request_id, dict(fields, occupancy_history=history), [event])
        except DuplicateKeyError:
            raise flats.address_taken(command) from None
        return flats.shown_flat(document)

    @command(schemas.EnsureFlats)
    def ensure_flats(self, caller, command):
        """Finds or creates flats by address (building, unit, number), for bulk imports: the
        same rows give the same flats however often they are sent. Not in the public contract.

        Returns, per requested flat and in order, {"flat": ..., "created": bool} or
        {"error": {"field": ..., "description": ...}}. New flats get ids derived from their
        address and go in one batch insert; only the flats it refuses (there already) are read."""
        wanted = [flats.parsed_flat(item) for item in command.flats]
        buildings = self._buildings(caller, {item.building_id for item in wanted if not isinstance(item, dict)})
        planned, results = flats.planned_flats(caller, wanted, buildings)
        inserted = self.store.import_new(caller.tenant, {"flats": list(planned.values())})["flats"]
        found = self.store.flats_at(caller.tenant, {
            address: document["_id"] for address, document in planned.items() if document["_id"] not in inserted})
        return {"flats": [flats.ensured(result, planned, inserted, found) for result in results]}

    @command(schemas.GetById)
    def get_flat(self, caller, command):
        return flats.shown_flat(self.store.flats.get_in_scope(caller, command.id))

    @command(schemas.ListFlats)
    def list_flats(self, caller, command):
        self._node(caller, command.building_id, field="building_id")
        query = {"tenant": caller.tenant, "building_id": command.building_id}
        return self._page(self.store.flats, query, command, "flats", shown=flats.shown_flat)

    @command(schemas.UpdateFlat)
    def update_flat(self, caller, command):
        flat_id, changes = masked_changes(schemas.FlatChanges, command.flat, command.update_mask, "flat")
        flat = self.store.flats.get_in_scope(caller, flat_id)
        events, history = flats.changed(flat, changes, caller)
        try:
            # The history entry and the events go in the same single-document write.
            document = self.store.flats.update({"tenant": caller.tenant, "_id": flat_id}, changes,
                                               events, extra={"$push": history})
        except DuplicateKeyError:
            raise flats.update_address_taken() from None
        return flats.shown_flat(document)

    @command(schemas.GetById)
    def delete_flat(self, caller, command):
        flat = self.store.flats.get_in_scope(caller, command.id)
        if self.residents.count_households(caller.model_dump(), {"node_id": flat["_id"]})["count"]:
            raise FailedPrecondition("households live in this flat; move them out first")
        event = flat_event(FlatDeleted, caller.tenant, public(flat))
        self.store.flats.retire({"tenant": caller.tenant, "_id": flat["_id"]}, [event])
        return flats.shown_flat(flat)

    # Views and figures

    @command(schemas.GetBuildingView)
    def get_building_view(self, caller, command):
        building = self._building(caller, command.building_id)
        return flats.building_view(building, self.store.flats_of_building(caller.tenant, building["_id"]))

    @command(schemas.GetNodeFigures)
    def get_node_figures(self, caller, command):
        """Figures below a node: nodes by kind, flats by occupancy and people (`count_people`, an
        internal RPC: the people figures live with the people), each the sum of snapshots per
        parent node or building (services/storage/snapshots.py), and above those, of sums per area.

        Not counters kept with `$inc` on every ancestor: FerretDB v1 can lose concurrent updates
        of one document, and moves of whole grids would have to carry counts along. Not counts
        over every record either: FerretDB reads each record it counts, over 30 s for a city of
        100,000 people. Each change adds itself to its building's snapshot (a recount repairs
        what a crash or a race left), so the figures are exact once a change is written, and a
        city of 102,180 people reads some hundred area sums in each service.
        """
        node = self._node(caller, command.node_id, field="node_id")
        people = self.residents.count_people.call_async(caller.model_dump(), {"node_id": node["_id"]})
        nodes = self.store.count_nodes_by_kind(caller.tenant, node["_id"])
        occupancy = self.store.flats_by_occupancy(caller.tenant, node["_id"], caller.scope_limit)
        return flats.node_figures(node, nodes, occupancy, people.result())

    @timer(interval=FIGURES_REFRESH_SECONDS)
    def refresh_figures(self):
        self.store.refresh_figures()

    # Staff posts

    @command(schemas.AssignPost)
    def assign_post(self, caller, command):
        node = self._node(caller, command.node_id, field="node_id")
        staff.require_post_fits(command.kind, node)
        try:
            return self._create_attached(caller, self.store.posts, "posts", PostAssigned, command.request_id,
                                         staff.new_post(caller.tenant, command, node))
        except DuplicateKeyError:
            raise staff.post_taken(command, node) from None

    @command(schemas.ListPosts)
    def list_posts(self, caller, command):
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        if command.holder_subject:
            query["holder.subject"] = command.holder_subject
        return self._page(self.store.posts, query, command, "posts")

    @command(schemas.GetById)
    def remove_post(self, caller, command):
        return self._remove(caller, command.id, self.store.posts, "posts", PostRemoved)

    @command(schemas.UpdatePost)
    def update_post(self, caller, command):
        post_id, changes = masked_changes(schemas.PostChanges, command.post, command.update_mask, "post")
        post = self.store.posts.get_in_scope(caller, post_id)
        staff.require_same_holder(post, changes)
        return public(self._update_attached(caller, self.store.posts, "posts", PostUpdated, post, changes))

    @command(schemas.StaffFor)
    def staff_for(self, caller, command):
        """Who to tell: for each post asked, its holders at the nearest node from `node_id` up
        to the city. Internal (not in the public contract); the caller must reach the node,
        and is told of the holders above it, since escalating to them is the point."""
        node = self._node_or_flats_building(caller, command.node_id)
        posts = self.store.posts_on_path(caller.tenant, node["path"], set(command.posts))
        return {"node_id": node["_id"], "staff": staff.nearest_staff(node["path"], command.posts, posts)}

    # Organisations

    @command(schemas.CreateOrganisation)
    def create_organisation(self, caller, command):
        node = self._attachable_node(caller, command.node_id, schemas.ORGANISATION_NODE_KINDS)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": node["path"]}
        return self._create_attached(caller, self.store.organisations, "organisations", OrganisationCreated,
                                     command.request_id, fields)

    @command(schemas.GetById)
    def get_organisation(self, caller, command):
        return public(self.store.organisations.get_in_scope(caller, command.id))

    @command(schemas.ListAttached)
    def list_organisations(self, caller, command):
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        return self._page(self.store.organisations, query, command, "organisations")

    @command(schemas.UpdateOrganisation)
    def update_organisation(self, caller, command):
        organisation_id, changes = masked_changes(
            schemas.OrganisationChanges, command.organisation, command.update_mask, "organisation")
        organisation = self.store.organisations.get_in_scope(caller, organisation_id)
        return public(self._update_attached(caller, self.store.organisations, "organisations", OrganisationUpdated,
                                            organisation, changes))

    # Service stations

    @command(schemas.CreateStation)
    def create_station(self, caller, command):
        fields = command.model_dump(exclude={"request_id"})
        stations.check_station(fields)
        node = self._attachable_node(caller, command.node_id, schemas.STATION_NODE_KINDS)
        fields |= {"id": new_id(), "path": node["path"]}
        return self._create_attached(caller, self.store.stations, "stations", StationCreated, command.request_id,
                                     fields)

    @command(schemas.GetById)
    def get_station(self, caller, command):
        return public(self.store.stations.get_in_scope(caller, command.id))

    @command(schemas.ListAttached)
    def list_stations(self, caller, command):
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        return self._page(self.store.stations, query, command, "stations")

    @command(schemas.UpdateStation)
    def update_station(self, caller, command):
        station_id, changes = masked_changes(schemas.StationChanges, command.station, command.update_mask, "station")
        stations.check_station(changes, prefix="station.")
        station = self.store.stations.get_in_scope(caller, station_id)
        return public(self._update_attached(caller, self.store.stations, "stations", StationUpdated, station, changes))

    @command(schemas.AddDuty)
    def add_duty(self, caller, command):
        stations.check_duty(command)
        station = self.store.stations.get_in_scope(caller, command.station_id)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": station["path"]}
        return self._create_attached(caller, self.store.duties, "duties", DutyAdded, command.request_id, fields)

    @command(schemas.ListDuties)
    def list_duties(self, caller, command):
        station = self.store.stations.get_in_scope(caller, command.station_id)
        query = {"tenant": caller.tenant, "station_id": station["_id"]}
        return self._page(self.store.duties, query, command, "duties")

    @command(schemas.GetById)
    def remove_duty(self, caller, command):
        return self._remove(caller, command.id, self.store.duties, "duties", DutyRemoved)

    @command(schemas.GetStationOnDuty)
    def get_station_on_duty(self, caller, command):
        """Whether the station is open at `at` (default now) and who is on duty then, both in
        the station's own time zone."""
        station = self.store.stations.get_in_scope(caller, command.station_id)
        weekday, clock = stations.local_day_and_clock(command.at, station["time_zone"])
        return stations.on_duty(station, weekday, clock, self.store.duties_on(caller.tenant, station["_id"], weekday))

    # Nodes read for a command

    def _node(self, caller, node_id, field="id"):
        if not node_id:
            raise InvalidArgument.field(field, "is required")
        return self.store.nodes.get_in_scope(caller, node_id)

    def _grid(self, caller, grid_id, field):
        return hierarchy.require_kind(self._node(caller, grid_id, field=field), "GRID", field)

    def _building(self, caller, building_id):
        return hierarchy.require_kind(self._node(caller, building_id, field="building_id"), "BUILDING", "building_id")

    def _attachable_node(self, caller, node_id, kinds):
        return hierarchy.require_attachable(self._node(caller, node_id, field="node_id"), kinds)

    def _node_or_flats_building(self, caller, node_id):
        """Tickets and notices may sit at a flat; its staff are those of its building and above."""
        try:
            return self._node(caller, node_id, field="node_id")
        except NotFound:
            return self._node(caller, self.store.flats.get_in_scope(caller, node_id)["building_id"], field="node_id")

    def _buildings(self, caller, building_ids):
        """building id -> the building node, or {"error": ...} naming building_id."""
        def building_or_error(building_id):
            try:
                return self._building(caller, building_id)
            except (InvalidArgument, NotFound) as error:
                return {"error": {"field": "building_id", "description": error.message}}
        return read_each(building_or_error, building_ids)

    def _attached_query(self, caller, node_id, include_descendants):
        """Records attached to the node, or to it and every node below it (by their path)."""
        node = self._node(caller, node_id, field="node_id")
        if include_descendants:
            return {"tenant": caller.tenant, "path": node["_id"]}
        return {"tenant": caller.tenant, "node_id": node["_id"]}

    # Writing the hierarchy

    def _create_node(self, caller, command, node_id):
        fields = hierarchy.new_node(node_id, command, self._path_for_new_node(caller, command))
        event = node_event(NodeCreated, caller.tenant, fields)
        document, _ = self.store.nodes.create(caller.tenant, command.request_id, dict(fields), [event])
        return document

    def _path_for_new_node(self, caller, command):
        if not hierarchy.needs_parent(command, caller):
            return []
        return hierarchy.path_below(command.kind, self._node(caller, command.parent_id, field="parent_id"))

    def _reparent(self, caller, node, parent, closing_events=()):
        """Puts `node` below `parent`: its new place, its node.moved event and the events of the
        step this move completes in one write; then the records below it follow. A node already
        there gets no write and no event, but the records below it still follow: that finishes
        a move a crash left halfway."""
        if node["parent_id"] != parent["_id"]:
            changes, moved = hierarchy.moved(node, parent)
            event = grids_event(NodeMoved, caller.tenant, f"nodes/{node['_id']}", moved)
            node = self.store.nodes.update({"tenant": caller.tenant, "_id": node["_id"]}, changes,
                                           [event, *closing_events])
        self.store.rewrite_paths_below(caller.tenant, node["_id"], node["path"])
        return node

    def _split_target(self, caller, command, grid):
        """(id of the grid the children go to, a function returning that grid, made if new). A new
        grid's place is checked before any child moves."""
        if command.target_grid_id:
            target = self._grid(caller, command.target_grid_id, "target_grid_id")
            hierarchy.check_same_community(grid, target, "target_grid_id")
            return target["_id"], lambda: target
        new_grid_id, new_grid = hierarchy.grid_split_off(caller.tenant, command, grid)
        self._path_for_new_node(caller, new_grid)
        return new_grid_id, lambda: self._create_node(caller, new_grid, new_grid_id)

    def _children_to_split(self, caller, child_ids, grid, target_id):
        children = {}
        for index, child_id in enumerate(child_ids):
            field = f"child_ids.{index}"
            child = self._node(caller, child_id, field=field)
            hierarchy.require_grid_child(child, field, grid, target_id)
            children[child["_id"]] = child
        return list(children.values())

    def _empty_grid(self, caller, source, target, posts):
        """Moves the source grid's children, organisations and stations to the target and removes its posts."""
        self._move_every_child(caller, source, target)
        for post in posts:
            self._remove(caller, post["_id"], self.store.posts, "posts", PostRemoved)
        place = {"node_id": target["_id"], "path": target["path"]}
        for records, collection, contract_model in ((self.store.organisations, "organisations", OrganisationUpdated),
                                                    (self.store.stations, "stations", StationUpdated)):
            for record in self.store.attached_at(records, caller.tenant, source["_id"]):
                self._update_attached(caller, records, collection, contract_model, record, place)
        # Still carrying the source in their paths: the rota of its stations, and the records
        # below a child whose move a crash interrupted before they followed.
        self.store.rewrite_paths_below(caller.tenant, source["_id"], target["path"])

    def _move_every_child(self, caller, source, target):
        """Until none is left, so that a child added meanwhile is not left below a retired grid."""
        while children := self.store.children_of(caller.tenant, source["_id"]):
            for child in children:
                self._reparent(caller, child, target)

    def _retire_merged(self, caller, source, target):
        """Notes the merge in the target, then retires the source; returns the target."""
        target = self.store.note_merged(caller.tenant, target["_id"], source["_id"])
        merged = grids_event(GridMerged, caller.tenant, f"nodes/{source['_id']}", hierarchy.merged_data(source, target))
        self.store.nodes.retire({"tenant": caller.tenant, "_id": source["_id"]},
                                [merged, node_event(NodeDeleted, caller.tenant, public(source))])
        return target

    # Writing what is attached to nodes (posts, organisations, stations, duties)

    def _create_attached(self, caller, records, collection, contract_model, request_id, fields):
        event = grids_event(contract_model, caller.tenant, f"{collection}/{fields['id']}", fields)
        document, _ = records.create(caller.tenant, request_id, dict(fields), [event])
        return public(document)

    def _update_attached(self, caller, records, collection, contract_model, record, changes):
        """Writes changes to an attached record with its updated event naming the changed fields."""
        event = record_event(contract_model, caller.tenant, collection, public(record) | changes,
                             changed=sorted(changes))
        return records.update({"tenant": caller.tenant, "_id": record["_id"]}, changes, [event])

    def _remove(self, caller, record_id, records, collection, contract_model):
        """Retires an attached record (a post, a rota entry) with its removal event."""
        record = records.get_in_scope(caller, record_id)
        event = record_event(contract_model, caller.tenant, collection, public(record))
        records.retire({"tenant": caller.tenant, "_id": record["_id"]}, [event])
        return public(record)

    @staticmethod
    def _page(records, query, command, key, shown=public):
        documents, token = records.page(query, command.page_size, command.page_token)
        return {key: [shown(document) for document in documents], "next_page_token": token}
