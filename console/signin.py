"""Development sign-in: a page of demo people (an operator of the whole tenant, the staff of each
community, the worker of each grid, a few residents), for whom the console mints the token the
gateway would get from the identity provider. Never on in production (CONSOLE_DEV_SIGNIN)."""
from dataclasses import dataclass

from flask_babel import gettext as _

from console.tree import children, nodes_of_kind, post_holders
from gateway.auth import mint

TOKEN_SECONDS = 8 * 3600
DIRECTORY_SUBJECT = "console-directory"
GRIDS_OFFERED = 4
RESIDENTS_OFFERED = 3


@dataclass(frozen=True)
class Persona:
    key: str
    label: str
    role: str
    scope: tuple
    subject: str
    household_id: str = ""


def personas(gateway, settings):
    """Who one may sign in as: the holders of the staff posts of each community (or a stand-in
    where a post is empty), found as the whole-tenant operator."""
    directory = directory_token(settings)
    found = [Persona("operator", _("City operator (whole city)"), "city_operator", ("*",), "demo-operator")]
    communities = nodes_of_kind(gateway, directory, "COMMUNITY")
    for community in communities:
        holders = post_holders(gateway, directory, community["id"])
        found.append(staff_persona("staff", _("Community staff"), "community_staff", community, holders))
        grids = [node for node in children(gateway, directory, community["id"]) if node["kind"] == "GRID"]
        found += [staff_persona("grid", _("Grid worker"), "grid_worker", grid, holders)
                  for grid in grids[:GRIDS_OFFERED]]
    return found + (resident_personas(gateway, directory, communities[0]) if communities else [])


def resident_personas(gateway, token, community):
    """The heads of the first households of a community. A resident's subject is their resident
    id: notices reach residents' inboxes by that id."""
    households = gateway.call(token, "residents", "ListHouseholds", "ListHouseholdsRequest", node_id=community["id"],
                              page_size=RESIDENTS_OFFERED)["households"]
    found = []
    for household in households:
        members = gateway.call(token, "residents", "ListResidents", "ListResidentsRequest",
                               node_id=household["flat_id"], page_size=20)["residents"]
        head = next((member for member in members if member["household_id"] == household["id"]), None)
        if head:
            label = " · ".join((head["display_name"], _("Resident"), household["display_name"]))
            found.append(Persona(f"resident-{head['id']}", label, "resident", (household["flat_id"],), head["id"],
                                 household["id"]))
    return found


def bind_account(gateway, settings, persona):
    """Ties a demo resident's sign-in to them in the registry, as staff would, so that their
    household claim holds."""
    gateway.call(directory_token(settings), "residents", "BindResidentAccount", "BindResidentAccountRequest",
                 resident_id=persona.subject, subject=persona.subject)


def staff_persona(key, title, role, node, holders):
    holder = holders.get(node["id"]) or {}
    label = " · ".join(filter(None, (holder.get("display_name"), str(title), node["display_name"])))
    return Persona(f"{key}-{node['id']}", label, role, (node["id"],),
                   holder.get("subject") or f"demo-{key}-{node['id'][:8]}")


def directory_token(settings):
    """The whole-tenant operator the sign-in page finds people and binds residents as."""
    return mint(settings.jwt_secret, DIRECTORY_SUBJECT, settings.tenant, "city_operator", ("*",))


def token_for(persona, settings):
    return mint(settings.jwt_secret, persona.subject, settings.tenant, persona.role, persona.scope,
                ttl_seconds=TOKEN_SECONDS, household_id=persona.household_id)
