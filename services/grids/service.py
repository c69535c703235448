"""The grids service: RPC entrypoints for the hierarchy and its flats."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.timestamp_pb2 import Timestamp
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services.access import Caller
from services import base
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import envelope
from services.storage.snapshots import FIGURES_REFRESH_SECONDS
from services.grids import schemas
from services.grids.events import (DutyAdded, DutyRemoved, FlatCreated, FlatDeleted, FlatOccupancyChanged,
                                   FlatUpdated, GridMerged, GridSplit, NodeCreated, NodeDeleted, NodeMoved,
                                   NodeUpdated, OrganisationCreated, OrganisationUpdated, PostAssigned, PostRemoved,
                                   PostUpdated, StationCreated, StationUpdated)
from services.grids.store import GridsRepository
from services.messaging import RpcProxy, rpc
from services.storage import (OUTBOX, MongoStore, content_id, new_id, now, public,
                               read_each, timestamp)
from services.validation import masked_changes, parse


class GridsService(base.CivicService):
    name = "grids"
    store = MongoStore(GridsRepository)
    residents = RpcProxy("residents")

    # Nodes

    @rpc
    def create_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateNode, request)
        return public(self._create_node(caller, command, new_id()))

    @rpc
    def get_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        return public(self._node(caller, command.id))

    @rpc
    def list_nodes(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListNodes, request)
        if command.parent_id:
            self._node(caller, command.parent_id)
            query = {"tenant": caller.tenant, "parent_id": command.parent_id}
        else:
            query = caller.scoped({"kind": "CITY"}) if caller.whole_tenant else caller.scoped(
                {"_id": {"$in": list(caller.scope)}})
        documents, token = self.store.nodes.page(query, command.page_size, command.page_token)
        return {"nodes": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateNode, request)
        node_id, changes = masked_changes(schemas.NodeChanges, command.node, command.update_mask, "node")
        node = self._node(caller, node_id)
        event = self._node_event(NodeUpdated, caller.tenant, public(node) | changes, changed=sorted(changes))
        document = self.store.nodes.update({"tenant": caller.tenant, "_id": node_id}, changes, [event])
        return public(document)

    @rpc
    def delete_node(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        node = self._node(caller, command.id)
        if self.store.has_children(caller.tenant, node["_id"]):
            raise FailedPrecondition("node has nodes or flats below it; move or delete them first")
        event = self._node_event(NodeDeleted, caller.tenant, public(node))
        self.store.nodes.retire({"tenant": caller.tenant, "_id": node["_id"]}, [event])
        return public(node)

    @rpc
    def move_node(self, caller, request):
        """Moves a grid, with everything below it, to another community or district.

        The grid's new place and its event go in one write; the records below then follow
        (nodes, flats, posts, organisations, stations, duties). Residents keep their own
        copies of paths and follow from the event. Moving a grid again to where it already is
        writes no event and finishes the path rewrite a crashed move left halfway."""
        caller = Caller.of(caller)
        command = parse(schemas.MoveNode, request)
        node = self._node(caller, command.id)
        if node["kind"] != "GRID":
            raise InvalidArgument.field("id", f"is a {node['kind']}; only a GRID moves")
        parent = self._node(caller, command.parent_id, field="parent_id")
        if parent["kind"] not in schemas.ALLOWED_PARENTS["GRID"]:
            raise InvalidArgument.field("parent_id", f"a GRID goes below COMMUNITY or DISTRICT, not {parent['kind']}")
        return public(self._reparent(caller, node, parent))

    # Re-dividing grids. No multi-document transactions: every step is a single-document write
    # that a re-run of the same request skips once done, so a re-run finishes what a crash left.

    @rpc
    def split_grid(self, caller, request):
        """Moves some children of a grid (buildings, micro-grids) to a new grid below the same
        parent, or to another grid of the same community; returns that grid. Each child moves as
        in move_node, with its node.moved event; the last one's write also carries grid.split.

        A new grid's id derives from the request_id, so a re-run makes no second grid; children
        already in the target (moved by an earlier attempt) are accepted and only followed up."""
        caller = Caller.of(caller)
        command = parse(schemas.SplitGrid, request)
        grid = self._grid(caller, command.grid_id, "grid_id")
        target_id, stored_target = self._split_target(caller, command, grid)
        children = self._children_to_split(caller, command.child_ids, grid, target_id)
        target = stored_target()
        split = envelope(self.name, GridSplit.event_type, caller.tenant, f"nodes/{grid['_id']}", {
            "id": grid["_id"], "path": grid["path"], "target_id": target["_id"], "target_path": target["path"],
            "new_grid": not command.target_grid_id, "child_ids": [child["_id"] for child in children]})
        pending = [child for child in children if child["parent_id"] != target["_id"]]
        for child in children:
            self._reparent(caller, child, target, [split] if pending and child is pending[-1] else ())
        return public(target)

    @rpc
    def merge_grids(self, caller, request):
        """Moves every child of grid `source_id` to grid `target_id` of the same community, and
        the source's organisations and stations with them; removes its posts when
        `retire_posts` says so (otherwise they refuse the merge, since who leads the merged grid
        is a decision); then retires the emptied source. Returns the target grid.

        The target records the source in `merged_from` before the source goes, so a re-run
        after the merge finished returns the target and writes nothing."""
        caller = Caller.of(caller)
        command = parse(schemas.MergeGrids, request)
        if command.source_id == command.target_id:
            raise InvalidArgument.field("target_id", "is the source grid; merge into another grid")
        target = self._grid(caller, command.target_id, "target_id")
        try:
            source = self._grid(caller, command.source_id, "source_id")
        except NotFound:
            if command.source_id in target.get("merged_from", ()):
                return public(target)
            raise
        check_same_community(source, target, "target_id")
        posts = list(self._every(self.store.posts, {"tenant": caller.tenant, "node_id": source["_id"]}))
        if posts and not command.retire_posts:
            raise FailedPrecondition(
                f"grid {source['_id']} has {len(posts)} staff posts; remove them first, or set retire_posts",
                [{"field": "retire_posts", "description": "is false and the source grid has posts"}])
        self._move_every_child(caller, source, target)
        for post in posts:
            self._remove(caller, post["_id"], self.store.posts, "posts", PostRemoved)
        self._rehome_attached(caller, source, target)
        # Still carrying the source in their paths: the rota of its stations, and the records
        # below a child whose move a crash interrupted before they followed.
        self.store.rewrite_paths_below(caller.tenant, source["_id"], target["path"])
        target = self.store.nodes.update({"tenant": caller.tenant, "_id": target["_id"]}, {},
                                         extra={"$addToSet": {"merged_from": source["_id"]}})
        merged = envelope(self.name, GridMerged.event_type, caller.tenant, f"nodes/{source['_id']}", {
            "id": source["_id"], "display_name": source["display_name"], "path": source["path"],
            "target_id": target["_id"], "target_path": target["path"]})
        self.store.nodes.retire({"tenant": caller.tenant, "_id": source["_id"]},
                                          [merged, self._node_event(NodeDeleted, caller.tenant, public(source))])
        return public(target)

    # Flats

    @rpc
    def create_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateFlat, request)
        document, _ = self._create_flat(caller, command, self._building(caller, command.building_id))
        return shown_flat(document)

    @rpc
    def ensure_flats(self, caller, request):
        """Finds or creates flats by address (building, unit, number), for bulk imports: the
        same rows give the same flats however often they are sent. Not in the public contract.

        Returns, per requested flat and in order, {"flat": ..., "created": bool} or
        {"error": {"field": ..., "description": ...}}. New flats get ids derived from their
        address and go in one batch insert; only the flats it refuses (there already) are read."""
        caller = Caller.of(caller)
        wanted = [self._parsed_flat(item) for item in parse(schemas.EnsureFlats, request).flats]
        buildings = self._buildings(caller, {item.building_id for item in wanted if not isinstance(item, dict)})
        planned, results = {}, []
        for item in wanted:
            # An item that failed to parse is its own error; otherwise its building may be one.
            building = item if isinstance(item, dict) else buildings[item.building_id]
            if "error" in building:
                results.append(building)
                continue
            address = (item.building_id, item.unit, item.number)
            planned.setdefault(address, self._new_flat_document(caller, item, building))
            results.append(address)
        inserted = self.store.import_new(caller.tenant, {"flats": list(planned.values())})["flats"]
        found = self.store.flats_at(caller.tenant, {
            address: document["_id"] for address, document in planned.items() if document["_id"] not in inserted})
        return {"flats": [self._ensured(result, planned, inserted, found) for result in results]}

    @rpc
    def get_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        return shown_flat(self._flat(caller, command.id))

    @rpc
    def list_flats(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListFlats, request)
        self._node(caller, command.building_id, field="building_id")
        query = {"tenant": caller.tenant, "building_id": command.building_id}
        documents, token = self.store.flats.page(query, command.page_size, command.page_token)
        return {"flats": [shown_flat(d) for d in documents], "next_page_token": token}

    @rpc
    def update_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateFlat, request)
        flat_id, changes = masked_changes(schemas.FlatChanges, command.flat, command.update_mask, "flat")
        flat = self._flat(caller, flat_id)
        events = [self._flat_event(FlatUpdated, caller.tenant, public(flat) | changes, changed=sorted(changes))]
        pushed = {}
        if changes.get("occupancy", flat["occupancy"]) != flat["occupancy"]:
            events.append(envelope(self.name, FlatOccupancyChanged.event_type, caller.tenant, f"flats/{flat_id}", {
                "id": flat_id, "building_id": flat["building_id"], "path": flat["path"],
                "previous_occupancy": flat["occupancy"], "occupancy": changes["occupancy"],
                "changed_by": caller.subject}))
            pushed["occupancy_history"] = occupancy_change(changes["occupancy"], caller)
        try:
            # The history entry and the events go in the same single-document write.
            document = self.store.flats.update({"tenant": caller.tenant, "_id": flat_id}, changes,
                                               events, extra={"$push": pushed})
        except DuplicateKeyError:
            raise AlreadyExists("another flat in this building has that unit and number",
                                [{"field": "flat.number", "description": "already taken"}]) from None
        return shown_flat(document)

    @rpc
    def delete_flat(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        flat = self._flat(caller, command.id)
        if self.residents.count_households(caller.model_dump(), {"node_id": flat["_id"]})["count"]:
            raise FailedPrecondition("households live in this flat; move them out first")
        event = self._flat_event(FlatDeleted, caller.tenant, public(flat))
        self.store.flats.retire({"tenant": caller.tenant, "_id": flat["_id"]}, [event])
        return shown_flat(flat)

    # Views and figures

    @rpc
    def get_building_view(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetBuildingView, request)
        building = self._building(caller, command.building_id)
        flats = self.store.flats_of_building(caller.tenant, building["_id"])
        counts = {key: 0 for key in OCCUPANCY_KEYS.values()}
        for flat in flats:
            counts[OCCUPANCY_KEYS[flat["occupancy"]]] += 1
        return {"building": public(building), "occupancy": counts,
                "flats": [shown_flat(flat, with_history=False) for flat in flats]}

    @rpc
    def get_node_figures(self, caller, request):
        """Figures below a node. Nodes are counted on `path` (a city has some thousands); flats
        and people are the sums of per-building snapshots (services/storage/snapshots.py), here and in
        residents (`count_people`, an internal RPC: the people figures live with the people).

        Not counters kept with `$inc` on every ancestor: FerretDB v1 can lose concurrent updates
        of one document, and moves of whole grids would have to carry counts along. Not counts
        over every record either: FerretDB reads each record it counts, over 30 s for a city of
        100,000 people. Each change adds itself to its building's snapshot (a recount repairs
        what a crash or a race left), so the figures are exact once a change is written, and a
        city of 102,180 people reads 1,290 small documents: 0.6 s here.
        """
        caller = Caller.of(caller)
        node = self._node(caller, parse(schemas.GetNodeFigures, request).node_id, field="node_id")
        people = self.residents.count_people.call_async(caller.model_dump(), {"node_id": node["_id"]})
        nodes = self.store.count_nodes_by_kind({"tenant": caller.tenant, "path": node["_id"]}, exclude_id=node["_id"])
        occupancy = self.store.flats_by_occupancy(caller.scoped({"path": node["_id"]}))
        people = people.result()
        return {
            "node_id": node["_id"], "kind": node["kind"],
            "districts": nodes.get("DISTRICT", 0), "grids": nodes.get("GRID", 0),
            "micro_grids": nodes.get("MICRO_GRID", 0), "buildings": nodes.get("BUILDING", 0),
            "flats": sum(occupancy.values()),
            "flats_by_occupancy": {OCCUPANCY_KEYS[kind]: n for kind, n in occupancy.items()},
            **people,
        }

    @timer(interval=FIGURES_REFRESH_SECONDS)
    def refresh_figures(self):
        self.store.figures.refresh()

    # Staff posts

    @rpc
    def assign_post(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.AssignPost, request)
        node = self._node(caller, command.node_id, field="node_id")
        fitting = schemas.POST_NODE_KINDS[command.kind]
        if node["kind"] not in fitting:
            raise InvalidArgument.field("kind", f"a {command.kind} serves a {' or '.join(fitting)}, not a {node['kind']}")
        # The id says what must be unique: the post at the node, or the person in the post there.
        holder_key = "" if command.kind in schemas.SOLE_POSTS else command.holder.subject
        fields = {"id": content_id(caller.tenant, node["_id"], command.kind, holder_key), "node_id": node["_id"],
                  "node_kind": node["kind"], "kind": command.kind, "holder": command.holder.model_dump(),
                  "path": node["path"]}
        event = envelope(self.name, PostAssigned.event_type, caller.tenant, f"posts/{fields['id']}", fields)
        try:
            document, _ = self.store.posts.create(caller.tenant, command.request_id, dict(fields), [event])
        except DuplicateKeyError:
            what = f"the {node['kind'].lower()} has a {command.kind} already" if not holder_key else (
                f"{command.holder.subject} holds this post here already")
            raise AlreadyExists(what, [{"field": "kind" if not holder_key else "holder.subject",
                                        "description": "already held"}]) from None
        return public(document)

    @rpc
    def list_posts(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListPosts, request)
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        if command.holder_subject:
            query["holder.subject"] = command.holder_subject
        documents, token = self.store.posts.page(query, command.page_size, command.page_token)
        return {"posts": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def remove_post(self, caller, request):
        return self._remove(Caller.of(caller), parse(schemas.GetById, request).id, self.store.posts, "posts",
                            PostRemoved)

    @rpc
    def update_post(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdatePost, request)
        post_id, changes = masked_changes(schemas.PostChanges, command.post, command.update_mask, "post")
        post = self.store.posts.get_in_scope(caller, post_id)
        if changes["holder"]["subject"] != post["holder"]["subject"]:
            raise InvalidArgument.field(
                "post.holder.subject", "is who holds the post; RemovePost and AssignPost hand it to someone else")
        return public(self._update_attached(caller, self.store.posts, "posts", PostUpdated, post, changes))

    @rpc
    def staff_for(self, caller, request):
        """Who to tell: for each post asked, its holders at the nearest node from `node_id` up
        to the city. Internal (not in the public contract); the caller must reach the node,
        and is told of the holders above it, since escalating to them is the point."""
        caller = Caller.of(caller)
        command = parse(schemas.StaffFor, request)
        node = self._node_or_flats_building(caller, command.node_id)
        posts = self.store.posts_on_path(caller.tenant, node["path"], set(command.posts))
        depth = {node_id: index for index, node_id in enumerate(node["path"])}
        found = []
        for kind in dict.fromkeys(command.posts):
            held = [post for post in posts if post["kind"] == kind]
            if not held:
                found.append({"post": kind, "node_id": "", "holders": []})
                continue
            nearest = max(depth[post["node_id"]] for post in held)
            at_nearest = sorted((p for p in held if depth[p["node_id"]] == nearest), key=lambda p: p["_id"])
            found.append({"post": kind, "node_id": node["path"][nearest],
                          "holders": [post["holder"] | {"post_id": post["_id"]} for post in at_nearest]})
        return {"node_id": node["_id"], "staff": found}

    # Organisations

    @rpc
    def create_organisation(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateOrganisation, request)
        node = self._attachable_node(caller, command.node_id, schemas.ORGANISATION_NODE_KINDS)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": node["path"]}
        event = envelope(self.name, OrganisationCreated.event_type, caller.tenant,
                         f"organisations/{fields['id']}", fields)
        document, _ = self.store.organisations.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def get_organisation(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetById, request)
        organisation = self.store.organisations.get_in_scope(caller, command.id)
        return public(organisation)

    @rpc
    def list_organisations(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListAttached, request)
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        documents, token = self.store.organisations.page(query, command.page_size, command.page_token)
        return {"organisations": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_organisation(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateOrganisation, request)
        organisation_id, changes = masked_changes(
            schemas.OrganisationChanges, command.organisation, command.update_mask, "organisation")
        organisation = self.store.organisations.get_in_scope(caller, organisation_id)
        return public(self._update_attached(caller, self.store.organisations, "organisations", OrganisationUpdated,
                                            organisation, changes))

    # Service stations

    @rpc
    def create_station(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateStation, request)
        fields = command.model_dump(exclude={"request_id"})
        check_station(fields)
        node = self._attachable_node(caller, command.node_id, schemas.STATION_NODE_KINDS)
        fields |= {"id": new_id(), "path": node["path"]}
        event = envelope(self.name, StationCreated.event_type, caller.tenant, f"stations/{fields['id']}", fields)
        document, _ = self.store.stations.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def get_station(self, caller, request):
        caller = Caller.of(caller)
        return public(self._station(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_stations(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListAttached, request)
        query = self._attached_query(caller, command.node_id, command.include_descendants)
        documents, token = self.store.stations.page(query, command.page_size, command.page_token)
        return {"stations": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_station(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateStation, request)
        station_id, changes = masked_changes(schemas.StationChanges, command.station, command.update_mask, "station")
        check_station(changes, prefix="station.")
        station = self._station(caller, station_id)
        return public(self._update_attached(caller, self.store.stations, "stations", StationUpdated, station, changes))

    @rpc
    def add_duty(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.AddDuty, request)
        if command.end <= command.start:
            raise InvalidArgument.field("end", "must be after start")
        station = self._station(caller, command.station_id)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": station["path"]}
        event = envelope(self.name, DutyAdded.event_type, caller.tenant, f"duties/{fields['id']}", fields)
        document, _ = self.store.duties.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def list_duties(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListDuties, request)
        station = self._station(caller, command.station_id)
        query = {"tenant": caller.tenant, "station_id": station["_id"]}
        documents, token = self.store.duties.page(query, command.page_size, command.page_token)
        return {"duties": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def remove_duty(self, caller, request):
        return self._remove(Caller.of(caller), parse(schemas.GetById, request).id, self.store.duties, "duties",
                            DutyRemoved)

    @rpc
    def get_station_on_duty(self, caller, request):
        """Whether the station is open at `at` (default now) and who is on duty then, both in
        the station's own time zone."""
        caller = Caller.of(caller)
        command = parse(schemas.GetStationOnDuty, request)
        station = self._station(caller, command.station_id)
        local = instant_of(command.at).astimezone(zone_of(station["time_zone"]))
        weekday, clock = schemas.WEEKDAYS[local.weekday()], local.strftime("%H:%M")
        duties = self.store.duties_on(caller.tenant, station["_id"], weekday)
        return {"station": public(station), "weekday": weekday, "local_time": clock,
                "open": is_open(station["opening_hours"], weekday, clock),
                "on_duty": [public(duty) for duty in duties if duty["start"] <= clock < duty["end"]]}

    # Helpers

    def _create_flat(self, caller, command, building):
        fields = command.model_dump(exclude={"request_id"})
        flat_id = fields["id"] = new_id()
        fields["path"] = [*building["path"], flat_id]
        event = self._flat_event(FlatCreated, caller.tenant, {**fields, "id": flat_id})
        history = [occupancy_change(command.occupancy, caller)]
        try:
            document, created = self.store.flats.create(
                caller.tenant, command.request_id, dict(fields, occupancy_history=history), [event])
        except DuplicateKeyError:
            raise AlreadyExists(
                f"flat {command.unit}-{command.number} already exists in this building",
                [{"field": "number", "description": "already exists in this building and unit"}]) from None
        return document, created

    def _parsed_flat(self, item):
        try:
            return parse(schemas.CreateFlat, item)
        except InvalidArgument as error:
            return {"error": error.violations[0]}

    def _buildings(self, caller, building_ids):
        """building id -> the building node, or {"error": ...} naming building_id."""
        def building_or_error(building_id):
            try:
                return self._building(caller, building_id)
            except (InvalidArgument, NotFound) as error:
                return {"error": {"field": "building_id", "description": error.message}}
        return read_each(building_or_error, building_ids)

    def _new_flat_document(self, caller, command, building):
        flat_id = content_id(caller.tenant, command.building_id, command.unit, command.number)
        fields = command.model_dump(exclude={"request_id"}) | {"id": flat_id, "path": [*building["path"], flat_id]}
        event = self._flat_event(FlatCreated, caller.tenant, fields)
        return {"_id": flat_id, **{k: v for k, v in fields.items() if k != "id"},
                "occupancy_history": [occupancy_change(command.occupancy, caller)], OUTBOX: [event]}

    @staticmethod
    def _ensured(result, planned, inserted, found):
        if not isinstance(result, tuple):
            return result
        if planned[result]["_id"] in inserted:
            return {"flat": shown_flat(planned[result], with_history=False), "created": True}
        if result in found:
            return {"flat": shown_flat(found[result], with_history=False), "created": False}
        # Refused when written, absent when read: deleted or being written by another call meanwhile.
        return {"error": {"field": "number", "description": "the flat was being created or deleted concurrently; retry"}}

    def _create_node(self, caller, command, node_id):
        path = self._path_for_new_node(caller, command)
        fields = {"id": node_id, "kind": command.kind, "display_name": command.display_name,
                  "parent_id": command.parent_id, "path": [*path, node_id]}
        event = self._node_event(NodeCreated, caller.tenant, fields)
        document, _ = self.store.nodes.create(caller.tenant, command.request_id, dict(fields), [event])
        return document

    def _reparent(self, caller, node, parent, closing_events=()):
        """Puts `node` below `parent`: its new place, its node.moved event and the events of the
        step this move completes in one write; then the records below it follow. A node already
        there gets no write and no event, but the records below it still follow: that finishes
        a move a crash left halfway."""
        if node["parent_id"] != parent["_id"]:
            path = [*parent["path"], node["_id"]]
            event = envelope(self.name, NodeMoved.event_type, caller.tenant, f"nodes/{node['_id']}", {
                "id": node["_id"], "kind": node["kind"], "display_name": node["display_name"],
                "previous_parent_id": node["parent_id"], "parent_id": parent["_id"],
                "previous_path": node["path"], "path": path})
            node = self.store.nodes.update({"tenant": caller.tenant, "_id": node["_id"]},
                                           {"parent_id": parent["_id"], "path": path}, [event, *closing_events])
        self.store.rewrite_paths_below(caller.tenant, node["_id"], node["path"])
        return node

    def _split_target(self, caller, command, grid):
        """(id of the grid the children go to, a function returning that grid, made if new)."""
        if bool(command.target_grid_id) == bool(command.new_grid_display_name):
            raise InvalidArgument.field("target_grid_id", "give either target_grid_id or new_grid_display_name")
        if command.target_grid_id:
            if command.target_grid_id == grid["_id"]:
                raise InvalidArgument.field("target_grid_id", "is the grid being split; name another grid")
            target = self._grid(caller, command.target_grid_id, "target_grid_id")
            check_same_community(grid, target, "target_grid_id")
            return target["_id"], lambda: target
        if not command.request_id:
            raise InvalidArgument.field("request_id", "is required to split into a new grid, so a retry finds it")
        new_grid_id = content_id(caller.tenant, "split", grid["_id"], command.request_id)
        new_grid = schemas.CreateNode(request_id=new_grid_id, kind="GRID", display_name=command.new_grid_display_name,
                                      parent_id=grid["parent_id"])
        self._path_for_new_node(caller, new_grid)
        return new_grid_id, lambda: self._create_node(caller, new_grid, new_grid_id)

    def _children_to_split(self, caller, child_ids, grid, target_id):
        """The named children of `grid`; those already below the target were moved by an earlier
        attempt of the same split."""
        children = {}
        for index, child_id in enumerate(child_ids):
            field = f"child_ids.{index}"
            child = self._node(caller, child_id, field=field)
            if child["kind"] not in schemas.GRID_CHILD_KINDS:
                raise InvalidArgument.field(
                    field, f"is a {child['kind']}; a grid's {' or '.join(schemas.GRID_CHILD_KINDS)} children move")
            if child["parent_id"] not in (grid["_id"], target_id):
                raise InvalidArgument.field(field, f"is not directly below grid {grid['_id']}")
            children[child["_id"]] = child
        return list(children.values())

    def _move_every_child(self, caller, source, target):
        """Until none is left, so that a child added meanwhile is not left below a retired grid."""
        below_source = {"tenant": caller.tenant, "parent_id": source["_id"]}
        while children := list(self._every(self.store.nodes, below_source)):
            for child in children:
                self._reparent(caller, child, target)

    def _rehome_attached(self, caller, source, target):
        """A merged grid's organisations and stations serve the same places: they go to the target."""
        place = {"node_id": target["_id"], "path": target["path"]}
        for records, collection, contract_model in ((self.store.organisations, "organisations", OrganisationUpdated),
                                                    (self.store.stations, "stations", StationUpdated)):
            for record in list(self._every(records, {"tenant": caller.tenant, "node_id": source["_id"]})):
                self._update_attached(caller, records, collection, contract_model, record, place)

    def _update_attached(self, caller, records, collection, contract_model, record, changes):
        """Writes changes to a record attached to a node (post, organisation, station) with its
        updated event naming the changed fields."""
        data = contract_fields(contract_model, public(record) | changes | {"changed": sorted(changes)})
        event = envelope(self.name, contract_model.event_type, caller.tenant, f"{collection}/{record['_id']}", data)
        document = records.update({"tenant": caller.tenant, "_id": record["_id"]}, changes, [event])
        return document

    @staticmethod
    def _every(records, query):
        """Every live record matching `query`, a page at a time."""
        token = ""
        while True:
            documents, token = records.page(query, page_token=token)
            yield from documents
            if not token:
                return

    def _grid(self, caller, grid_id, field):
        grid = self._node(caller, grid_id, field=field)
        if grid["kind"] != "GRID":
            raise InvalidArgument.field(field, f"is a {grid['kind']}, not a GRID")
        return grid

    def _attachable_node(self, caller, node_id, kinds):
        node = self._node(caller, node_id, field="node_id")
        if node["kind"] not in kinds:
            raise InvalidArgument.field("node_id", f"is a {node['kind']}; attach to a {' or '.join(kinds)}")
        return node

    def _attached_query(self, caller, node_id, include_descendants):
        """Records attached to the node, or to it and every node below it (by their path)."""
        node = self._node(caller, node_id, field="node_id")
        if include_descendants:
            return {"tenant": caller.tenant, "path": node["_id"]}
        return {"tenant": caller.tenant, "node_id": node["_id"]}

    def _station(self, caller, station_id):
        station = self.store.stations.get_in_scope(caller, station_id)
        return station

    def _building(self, caller, building_id):
        building = self._node(caller, building_id, field="building_id")
        if building["kind"] != "BUILDING":
            raise InvalidArgument.field("building_id", f"is a {building['kind']}, not a BUILDING")
        return building

    def _node(self, caller, node_id, field="id"):
        if not node_id:
            raise InvalidArgument.field(field, "is required")
        node = self.store.nodes.get_in_scope(caller, node_id)
        return node

    def _node_or_flats_building(self, caller, node_id):
        """Tickets and notices may sit at a flat; its staff are those of its building and above."""
        try:
            return self._node(caller, node_id, field="node_id")
        except NotFound:
            return self._node(caller, self._flat(caller, node_id)["building_id"], field="node_id")

    def _remove(self, caller, record_id, records, collection, contract_model):
        """Retires an attached record (a post, a rota entry) with its removal event."""
        record = records.get_in_scope(caller, record_id)
        event = envelope(self.name, contract_model.event_type, caller.tenant, f"{collection}/{record['_id']}",
                         contract_fields(contract_model, public(record)))
        records.retire({"tenant": caller.tenant, "_id": record["_id"]}, [event])
        return public(record)

    def _flat(self, caller, flat_id):
        flat = self.store.flats.get_in_scope(caller, flat_id)
        return flat

    def _path_for_new_node(self, caller, command):
        allowed = schemas.ALLOWED_PARENTS[command.kind]
        if not allowed:
            if command.parent_id:
                raise InvalidArgument.field("parent_id", "a CITY has no parent")
            if not (caller.whole_tenant and caller.role == "city_operator"):
                raise PermissionDenied("only a city operator with the whole tenant in scope creates cities")
            return []
        if not command.parent_id:
            raise InvalidArgument.field("parent_id", f"a {command.kind} needs a parent ({' or '.join(allowed)})")
        parent = self._node(caller, command.parent_id, field="parent_id")
        if parent["kind"] not in allowed:
            raise InvalidArgument.field(
                "parent_id", f"a {command.kind} goes below {' or '.join(allowed)}, not {parent['kind']}")
        return parent["path"]

    def _node_event(self, contract_model, tenant, node, **extra):
        data = {key: node[key] for key in ("id", "kind", "display_name", "parent_id", "path")}
        return envelope(self.name, contract_model.event_type, tenant, f"nodes/{node['id']}", data | extra)

    def _flat_event(self, contract_model, tenant, flat, **extra):
        data = {key: flat[key] for key in ("id", "building_id", "unit", "floor", "number", "occupancy", "path")}
        return envelope(self.name, contract_model.event_type, tenant, f"flats/{flat['id']}", data | extra)


OCCUPANCY_KEYS = {"VACANT": "vacant", "OWNER_OCCUPIED": "owner_occupied", "RENTED": "rented"}


def occupancy_change(occupancy, caller):
    return {"occupancy": occupancy, "time": now(), "changed_by": caller.subject}


def shown_flat(document, with_history=True):
    shown = public(document)
    history = shown.pop("occupancy_history", [])
    if with_history:
        shown["occupancy_history"] = [entry | {"time": timestamp(entry["time"])} for entry in history]
    return shown


def zone_of(name, field="time_zone"):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument.field(field, f"{name!r} is not an IANA time zone") from None


def check_station(fields, prefix=""):
    """Refuses a time zone or opening hours a station cannot keep; `fields` may hold some only."""
    if "time_zone" in fields:
        zone_of(fields["time_zone"], f"{prefix}time_zone")
    for index, hours in enumerate(fields.get("opening_hours", ())):
        if hours["close"] <= hours["open"]:
            raise InvalidArgument.field(f"{prefix}opening_hours.{index}.close", "must be after open")


def check_same_community(grid, other, field):
    """Grids are re-divided within their community; MoveNode takes a whole grid to another one."""
    if other["path"][schemas.COMMUNITY_DEPTH] != grid["path"][schemas.COMMUNITY_DEPTH]:
        raise InvalidArgument.field(field, "is a grid of another community; MoveNode moves a whole grid there")


def instant_of(rfc3339):
    if not rfc3339:
        return datetime.now(timezone.utc)
    moment = Timestamp()
    try:
        moment.FromJsonString(rfc3339)
    except ValueError:
        raise InvalidArgument.field("at", "is not an RFC 3339 timestamp") from None
    return moment.ToDatetime(tzinfo=timezone.utc)


def is_open(opening_hours, weekday, clock):
    """True when `clock` ("HH:MM") falls in one of the weekday's [open, close) ranges."""
    return any(hours["weekday"] == weekday and hours["open"] <= clock < hours["close"] for hours in opening_hours)


def contract_fields(contract_model, record):
    """The part of a stored record an event contract carries."""
    return {key: record[key] for key in contract_model.model_fields}
