"""Build a flow's typed ``Config`` from a tenant's plain settings, naming the field on error."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from idp.flowengine.contract import Flow
from idp.tenants.config import _coerce  # the same coercion rules as the tenant file


def build_flow_config(flow: Flow, settings: Mapping[str, Any], path: str) -> Any:
    """``flow.Config(**settings)`` with types checked; then ``check()`` when the Config defines it."""
    cls = flow.Config
    if not dataclasses.is_dataclass(cls):
        return cls()
    config = _coerce(cls, dict(settings), path)
    check = getattr(config, "check", None)
    if callable(check):
        check(path)
    return config
