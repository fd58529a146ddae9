"""Roles and bearer tokens: who is calling, and may this role use this endpoint.

Five roles (:data:`cloud.config.ROLES`). Each endpoint names the roles it admits
with one of the ``*User`` annotations below; everyone else gets 403 saying which
roles may. Tokens come from the config by reference and are kept only as SHA-256
digests, looked up by digest (no string comparison whose time depends on the secret).

Alerts carry an audience; a role sees the audiences in :data:`ROLE_AUDIENCES`.
Plate data (plate reads, the watchlist, its hits, plates inside violations and
alerts) is shown only to :data:`PLATE_ROLES`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.api.errors import ApiError
from cloud.config import ROLES, Role, UserConfig, resolve_secret

ROLE_AUDIENCES: Final[dict[str, tuple[str, ...]]] = {
    "police": ("police",),
    "flood_operator": ("operator",),
    "traffic_officer": ("traffic",),
    "technician": ("technician",),
    "admin": ("operator", "police", "traffic", "technician"),
}
PLATE_ROLES: Final = frozenset({"police", "admin"})
MIN_TOKEN_CHARS: Final = 16


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a configured user name and its role."""

    name: str
    role: Role

    @property
    def sees_plates(self) -> bool:
        """Whether plate data may be shown to this caller."""
        return self.role in PLATE_ROLES

    @property
    def audiences(self) -> tuple[str, ...]:
        """Alert audiences this caller sees."""
        return ROLE_AUDIENCES[self.role]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenTable:
    """Token digests to principals."""

    def __init__(self, users: Sequence[tuple[str, Role, str]]) -> None:
        self._by_digest: dict[str, Principal] = {}
        for name, role, token in users:
            if len(token) < MIN_TOKEN_CHARS:
                raise ValueError(f"token of user {name} has {len(token)} characters;"
                                 f" at least {MIN_TOKEN_CHARS} are needed")
            digest = _digest(token)
            if digest in self._by_digest:
                raise ValueError(f"users {self._by_digest[digest].name} and {name}"
                                 " have the same token")
            self._by_digest[digest] = Principal(name, role)
        self.names = frozenset(name for name, _, _ in users)

    @classmethod
    def from_config(cls, users: Sequence[UserConfig]) -> TokenTable:
        """Resolve every user's token (SecretError names the user and where it looked)."""
        return cls([(u.name, u.role, resolve_secret(u.token_env, u.token_file,
                                                    f"users.{u.name}.token")) for u in users])

    def lookup(self, token: str) -> Principal | None:
        """The principal holding ``token``, or None."""
        return self._by_digest.get(_digest(token))


_bearer = HTTPBearer(auto_error=False, description="a token from the server's config")


class RoleCheck:
    """Dependency admitting only ``roles``; returns the caller."""

    def __init__(self, roles: Sequence[Role]) -> None:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles: tuple[Role, ...] = tuple(roles)

    async def __call__(self, request: Request,
                       creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                       ) -> Principal:
        # async: a dictionary lookup, so it runs on the event loop instead of costing every
        # request a trip through the thread pool
        challenge = {"WWW-Authenticate": "Bearer"}
        if creds is None:
            raise ApiError(401, "no bearer token: send 'Authorization: Bearer <token>'",
                           "header.Authorization", challenge)
        principal = request.app.state.ctx.tokens.lookup(creds.credentials)
        if principal is None:
            raise ApiError(401, "unknown token", "header.Authorization", challenge)
        if principal.role not in self.roles:
            raise ApiError(403, f"role {principal.role} may not {request.method}"
                           f" {request.url.path}; allowed: {', '.join(self.roles)}")
        return principal


# The caller, admitted only in these roles: ``def endpoint(who: PoliceUser)``.
AnyUser = Annotated[Principal, Depends(RoleCheck(ROLES))]
PoliceUser = Annotated[Principal, Depends(RoleCheck(("police", "admin")))]
OperatorUser = Annotated[Principal, Depends(RoleCheck(("flood_operator", "admin")))]
TrafficUser = Annotated[Principal, Depends(RoleCheck(("traffic_officer", "admin")))]
TechnicianUser = Annotated[Principal, Depends(RoleCheck(("technician", "admin")))]
AdminUser = Annotated[Principal, Depends(RoleCheck(("admin",)))]
