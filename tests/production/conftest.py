"""Fixtures of the production tests: Redis servers of the test's own (stopped and started at will)."""

from __future__ import annotations

from observability.conftest import RedisServer, redis_server

__all__ = ["RedisServer", "redis_server"]
