"""What the services and flow steps may know of the HTTP request, without Flask."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestInfo:
    """The client's address and user agent, the page language, and the time of the request."""

    client_ip: str
    user_agent: str
    locale: str
    now: float = field(default_factory=time.time)
