"""Development sign-in: a page of demo people (an operator of the whole tenant, the staff of each
community, the worker of each grid), for whom the console mints the token the gateway would get
from the identity provider. Never on in production (CONSOLE_DEV_SIGNIN)."""
from dataclasses import dataclass

from flask_babel import gettext as _

from console.tree import children, nodes_of_kind
from gateway.auth import mint

TOKEN_SECONDS = 8 * 3600
DIRECTORY_SUBJECT = "console-directory"
GRIDS_OFFERED = 4


@dataclass(frozen=True)
class Persona:
    key: str
    label: str
    role: str
    scope: tuple


def personas(gateway, settings):
    """Who one may sign in as: found by walking the tenant's tree as the whole-tenant operator."""
    directory = mint(settings.jwt_secret, DIRECTORY_SUBJECT, settings.tenant, "city_operator", ("*",))
    found = [Persona("operator", _("City operator (whole city)"), "city_operator", ("*",))]
    for community in nodes_of_kind(gateway, directory, "COMMUNITY"):
        found.append(Persona(f"staff-{community['id']}", _("Community staff · %(name)s", name=community["display_name"]),
                             "community_staff", (community["id"],)))
        grids = children(gateway, directory, community["id"])[:GRIDS_OFFERED]
        found += [Persona(f"grid-{grid['id']}", _("Grid worker · %(name)s", name=grid["display_name"]),
                          "grid_worker", (grid["id"],)) for grid in grids if grid["kind"] == "GRID"]
    return found


def token_for(persona, settings):
    return mint(settings.jwt_secret, f"demo-{persona.key}", settings.tenant, persona.role, persona.scope,
                ttl_seconds=TOKEN_SECONDS)
