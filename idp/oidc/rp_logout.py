"""Telling the relying parties that a session ended: front-channel frames and back-channel logout tokens.

The one place that knows which RPs to tell (:mod:`idp.oidc.session_clients`) and how:

- :meth:`RpLogout.session_ended` (RP-initiated logout at the end_session endpoint, or a session replaced
  by a new sign-in in the same browser): the back-channel deliveries are queued, and the front-channel
  URLs are returned for the page to frame;
- :meth:`RpLogout.user_revoked` (an admin ended the user's sessions, self-recovery or the holder's lock
  revoked them): no browser is at hand, so back-channel only, one logout token per session and RP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.oidc.frontchannel import frontchannel_logout_url

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.backchannel import BackChannelLogout
    from idp.oidc.clients import ClientService, ClientView
    from idp.oidc.session_clients import SessionClients
    from idp.tenants.service import TenantView


class RpLogout:
    """Record the RPs of each session and tell them when it ends."""

    def __init__(self, session_clients: "SessionClients", clients: "ClientService", backchannel: "BackChannelLogout") -> None:
        self.session_clients = session_clients
        self.clients = clients
        self.backchannel = backchannel

    def joined(self, tenant: "TenantView", client: "ClientView", user_id: int, sub: str, sid: str, session_until: int) -> None:
        """``client`` got a code in session ``sid``: remember it if it takes logouts at all."""
        if sid and (client.frontchannel_logout_uri or client.backchannel_logout_uri):
            self.session_clients.joined(tenant, user_id, sub, sid, session_until, client.client_id)

    def session_ended(self, tenant: "TenantView", user_id: int, sid: str) -> list[str]:
        """Queue the back-channel logouts of session ``sid``; the front-channel URLs to frame, in join order."""
        sub, client_ids = self.session_clients.take_session(tenant, user_id, sid)
        clients = self._clients(tenant, client_ids)
        self.backchannel.notify(tenant, [(c.client_id, sub, sid) for c in clients if c.backchannel_logout_uri])
        return [frontchannel_logout_url(c, tenant.issuer, sid) for c in clients if c.frontchannel_logout_uri]

    def user_revoked(self, tenant: "TenantView", user_id: int) -> None:
        """Every session of the user ended: queue a back-channel logout per session and RP."""
        sub, sessions = self.session_clients.take_user(tenant, user_id)
        deliveries = [
            (c.client_id, sub, sid) for sid, client_ids in sessions.items() for c in self._clients(tenant, client_ids) if c.backchannel_logout_uri
        ]
        self.backchannel.notify(tenant, deliveries)

    def _clients(self, tenant: "TenantView", client_ids: tuple[str, ...]) -> list["ClientView"]:
        found = (self.clients.get(tenant, client_id) for client_id in client_ids)
        return [c for c in found if c is not None]
