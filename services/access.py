"""Who is calling and where they may act.

The gateway authenticates the token and passes its claims as `caller` to every
RPC; services enforce tenant and scope themselves on every query, so the
gateway is never the only guard.
"""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.errors import NotFound, PermissionDenied
from services.queries import combined, one_of

Role = Literal["city_operator", "community_staff", "grid_worker", "volunteer", "resident", "partner", "system"]
WHOLE_TENANT = "*"


class Caller(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    subject: str = Field(min_length=1)
    tenant: str = Field(min_length=1)
    role: Role
    # Node ids the caller may act in (and everything below them); "*" is the whole tenant.
    scope: tuple[str, ...] = ()
    # Extra rights, e.g. "sensitive_tags", "pii_full".
    grants: tuple[str, ...] = ()
    # A resident's household, as their sign-in claims it; the tickets service checks it against
    # the registry (residents' BindResidentAccount) before it lets the household's tickets through.
    household_id: str = Field(default="", max_length=64)
    request_id: str = ""

    @classmethod
    def of(cls, caller):
        if isinstance(caller, Caller):
            return caller
        if not isinstance(caller, dict):
            raise PermissionDenied("caller context missing")
        try:
            return cls.model_validate(caller)
        except ValueError:
            raise PermissionDenied("caller context invalid") from None

    @property
    def whole_tenant(self):
        return WHOLE_TENANT in self.scope

    def reaches(self, path):
        """True when a record at `path` (ancestor ids ending with its own) is in scope."""
        return self.whole_tenant or bool(set(path) & set(self.scope))

    @property
    def scope_limit(self):
        """The nodes this caller's reads are limited to, or None when it reaches the whole tenant."""
        return None if self.whole_tenant else list(self.scope)

    def scoped(self, extra=None):
        """A MongoDB filter limited to this caller's tenant and scope."""
        conditions = [extra or {}, {"tenant": self.tenant}]
        if not self.whole_tenant:
            conditions.append(one_of("path", self.scope))
        return combined(*conditions)

    def require(self, path, what="record"):
        """Out-of-scope records are reported as missing so that their existence does not leak."""
        if not self.reaches(path):
            raise NotFound(f"{what} not found")

    def has_grant(self, grant):
        return grant in self.grants
