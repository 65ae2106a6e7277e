"""The CLI's standing as an administrator: whoever runs ``idp`` on the server is a platform administrator.

Commands that change what the admin API also changes (roles, tenant configuration, admin clients)
go through :class:`~idp.admin.actions.AdminActions` as this operator, so the API's rules apply to the
CLI unchanged (e.g. ``platform-admin`` only in ``master``); audit events name the actor ``cli``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.admin.auth import MASTER, Admin

if TYPE_CHECKING:  # pragma: no cover
    from idp.admin.actions import AdminActions

#: How audit events name changes made from the command line.
ACTOR = "cli"


@dataclass(frozen=True)
class Operator(Admin):
    """A platform administrator of ``master`` whose audit name is ``cli``."""

    @property
    def actor(self) -> str:
        return ACTOR


OPERATOR = Operator(tenant=MASTER, name=ACTOR, platform=True, tenant_admin=True)


def operator_actions() -> "AdminActions":
    """The admin actions of the running command, as the platform operator."""
    from idp.admin.actions import AdminActions
    from idp.cli.base import services

    return AdminActions(services(), OPERATOR)
