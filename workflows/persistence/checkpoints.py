"""Replay checkpoints kept between units of work, so that an in-order event does not replay the whole journal.

A cache, not a source of truth: an entry is used only while the case is still at the version and journal head
it was made for (any other writer, in this process or another, moves the version), and it also remembers the
deadline and payment rows last written, so that a write touches only the rows that changed. Losing it (a new
process, an eviction) only costs a full replay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lifecycle.projection import Checkpoint, Projection
from workflows.persistence.tables import Case

DEFAULT_CAPACITY = 256


@dataclass(frozen=True)
class CachedReplay:
    """Attributes:
        version, head: the case's version and journal head this entry is valid for.
        checkpoint: the replay at the journal head.
        projection: the projection written (as of its `today`): what the case looks like before the next write
            on the same day.
        deadlines: the deadline rows as written, by ident; payments: the payment rows as written, in order.
        genesis: the start of the case's hash chain, as verified (a write checks the case's identity with it).
        case: the case's row as this write left it, for the next write to start from without reading it: that
            write's versioned UPDATE requires every column it depends on (`projection_writer.TRUSTED_COLUMNS`)
            to be still as kept here. The other columns (referents, contact) may be behind: never shown.
    """

    version: int
    head: str
    checkpoint: Checkpoint | None
    projection: Projection | None
    deadlines: dict[str, dict[str, Any]]
    payments: list[dict[str, Any]]
    genesis: str
    case: Case | None = None


class CheckpointCache:
    """A bounded, thread-safe map case id → CachedReplay (least recently used entries are dropped)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, CachedReplay] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, case_id: int, *, version: int, head: str) -> CachedReplay | None:
        """The entry of the case if it is still valid for this version and head."""
        entry = self.latest(case_id)
        return entry if entry is not None and entry.version == version and entry.head == head else None

    def latest(self, case_id: int) -> CachedReplay | None:
        """The case's entry whatever version it was made for: a caller that uses it must have its write check
        that the case is still at that version (`projection_writer.write_projection`, `case_from_cache`)."""
        with self._lock:
            entry = self._entries.get(case_id)
            if entry is not None:
                self._entries.move_to_end(case_id)
            return entry

    def put(self, case_id: int, entry: CachedReplay) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[case_id] = entry
            self._entries.move_to_end(case_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def drop(self, case_id: int) -> None:
        with self._lock:
            self._entries.pop(case_id, None)
