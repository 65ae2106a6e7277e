"""A value made on its first use, once, even when threads race for it; and replaceable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The value, made by the first caller (the others wait for it)."""
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
                value = self._value
        return value

    @property
    def made(self) -> bool:
        return self._value is not None

    def replace(self, value: T) -> None:
        """Use ``value`` from now on, for every holder of this object."""
        self._value = value
