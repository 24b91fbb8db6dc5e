"""The journal as stored: canonical JSON, the hash chain `cpts case verify` checks, rows ↔ domain entries."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from lifecycle.events import JournalEntry
from workflows.persistence.tables import JournalRow

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: JournalRow) -> str:
    """sha256 over the row's content and the previous row's hash (the chain `cpts case verify` checks)."""
    recorded = row.recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
    payload = canonical_json({
        "case_id": row.case_id, "seq": row.seq, "type": row.type, "at": row.at.isoformat(),
        "recorded_at": recorded, "actor": row.actor, "data": json.loads(row.data),
        "evidence": row.evidence, "prev_hash": row.prev_hash,
    })
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chained_row(case_id: int, previous: JournalRow | tuple[int, str] | None, *, type: str, at: date,
                recorded_at: datetime, actor: str, data: dict[str, Any], evidence: str | None) -> JournalRow:
    """The next journal row after `previous` — a row, its (seq, hash), or None for the first — hash computed."""
    if isinstance(previous, JournalRow):
        previous = (previous.seq, previous.hash)
    prev_seq, prev_hash = previous if previous is not None else (0, GENESIS_HASH)
    row = JournalRow(case_id=case_id, seq=prev_seq + 1, type=type, at=at, recorded_at=recorded_at, actor=actor,
                     data=canonical_json(data), evidence=evidence, prev_hash=prev_hash, hash="")
    row.hash = row_hash(row)
    return row


def to_entry(row: JournalRow) -> JournalEntry:
    return JournalEntry(seq=row.seq, type=row.type, at=row.at, data=json.loads(row.data), actor=row.actor,
                        evidence=row.evidence, recorded_at=row.recorded_at)


def chain_problems(rows: list[JournalRow], head: str) -> list[str]:
    """Recompute the hash chain; one line per broken row, plus one if `head` is not the last row's hash."""
    problems: list[str] = []
    previous = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            problems.append(f"row #{row.seq}: expected sequence number {expected_seq} (a row is missing)")
        if row.prev_hash != previous:
            problems.append(f"row #{row.seq}: prev_hash does not match the hash of the row before it")
        if row_hash(row) != row.hash:
            problems.append(f"row #{row.seq} {row.type}: content does not match its hash (edited after the fact)")
        previous = row.hash
    if head != previous:
        problems.append("the journal ends at a row whose hash is not the case's recorded head "
                        "(rows removed at the end, or the head edited)")
    return problems
