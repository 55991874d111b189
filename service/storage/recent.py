"""A bounded, thread-safe memory of recently used keys (least recently used forgotten first)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class Recent:
    """Remember up to ``size`` keys; tell whether a key was seen lately."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._keys

    def add(self, key: Hashable) -> None:
        """Remember ``key`` as the most recent, forgetting the oldest beyond ``size``."""
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            if len(self._keys) > self.size:
                self._keys.popitem(last=False)
