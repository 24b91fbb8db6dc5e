"""The journal as stored: canonical JSON, the keyed hash chain `cpts case verify` checks, rows ↔ domain entries.

Tamper evidence:
- each row's `hash` is an HMAC (SHA-256) of its content and of the previous row's hash, under the key named by
  its `key_id` (`JournalKeys`: a secret from the settings, `CPTS_JOURNAL_KEY`); rewriting a row and recomputing
  the chain without the key is detected. `key_id` '' marks an unkeyed row (plain SHA-256, a deployment without
  a key, or rows written before keys existed);
- the chain starts from a genesis entry that signs the case's identity (name, seat, région, communes, declared
  population, ruleset, creation time): the first row's `prev_hash`, and the head of a case
  with no event yet. Editing the seat, communes or population in SQL breaks the chain;
- `cases.journal_head` is the last row's hash: a write refuses to append when it is not (rows removed at the
  end, or the head edited), so normal operation never "heals" a tampered journal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, Protocol

from lifecycle.events import JournalEntry
from workflows.persistence.errors import JournalKeyError
from workflows.persistence.tables import Case, JournalRow, loaded

LEGACY_GENESIS_HASH = "0" * 64  # the first row's prev_hash before the genesis entry signed the case's identity
MIN_KEY_LENGTH = 32


class _Hashable(Protocol):
    case_id: int
    seq: int
    type: str
    at: date
    recorded_at: datetime
    actor: str
    data: str
    evidence: str | None
    prev_hash: str
    key_id: str


def key_id_of(secret: str) -> str:
    """A short public name of a secret (stored with each row), from which the secret cannot be recovered."""
    return "k" + hmac.new(secret.encode("utf-8"), b"cpts-journal-key-id", hashlib.sha256).hexdigest()[:10]


@dataclass(frozen=True)
class JournalKeys:
    """The keys of the hash chain: `current` signs new rows; `accepted` (current and retired ones) verify.

    Attributes:
        current: (key id, secret) of the key new rows are signed with; None: rows are written unkeyed.
        accepted: key id → secret, every key whose rows still verify (the current one included).
    """

    current: tuple[str, bytes] | None = None
    accepted: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_secrets(cls, current: str | None, retired: Iterable[str] = ()) -> JournalKeys:
        """Keys from the settings' secrets (`CPTS_JOURNAL_KEY`, `CPTS_JOURNAL_RETIRED_KEYS`)."""
        accepted: dict[str, bytes] = {}
        for secret in [*([current] if current else []), *retired]:
            if len(secret) < MIN_KEY_LENGTH:
                raise JournalKeyError(f"a journal key must be at least {MIN_KEY_LENGTH} characters long (got "
                                 f"{len(secret)}); generate one with `python3 -c 'import secrets; "
                                 "print(secrets.token_hex(32))'`")
            accepted[key_id_of(secret)] = secret.encode("utf-8")
        return cls((key_id_of(current), current.encode("utf-8")) if current else None, accepted)

    @property
    def keyed(self) -> bool:
        return self.current is not None

    @property
    def current_id(self) -> str:
        return self.current[0] if self.current else ""

    def digest(self, key_id: str, payload: str) -> str | None:
        """The row hash of `payload` under `key_id` ('' = unkeyed); None when that key is not known here."""
        if not key_id:
            return hashlib.sha256(payload.encode("utf-8")).hexdigest()
        secret = self.accepted.get(key_id)
        if secret is None:
            return None
        return hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).hexdigest()


UNKEYED = JournalKeys()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utc_text(instant: datetime) -> str:
    """An instant as hashed: in UTC to the microsecond (a naive instant, as SQLite returns them, is in UTC)."""
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _payload(row: _Hashable) -> str:
    recorded = _utc_text(row.recorded_at)
    return canonical_json({
        "case_id": row.case_id, "seq": row.seq, "type": row.type, "at": row.at.isoformat(),
        "recorded_at": recorded, "actor": row.actor, "data": json.loads(row.data),
        "evidence": row.evidence, "prev_hash": row.prev_hash,
    })


def row_hash(row: _Hashable, keys: JournalKeys = UNKEYED) -> str:
    """The row's hash under its own `key_id` (the chain `cpts case verify` checks); '' if the key is unknown."""
    return keys.digest(getattr(row, "key_id", "") or "", _payload(row)) or ""


def identity(case: Case) -> dict[str, Any]:
    """What the genesis entry signs: the case as registered — not its referents, nor the population and size
    that the projection refreshes (a contract or an avenant changes them; the journal says why)."""
    return {"case_id": case.id, "name": case.name, "seat_departement": case.seat_departement, "region": case.region,
            "communes": json.loads(case.communes), "declared_population": case.declared_population,
            "ruleset_id": case.ruleset_id,
            "created_at": _utc_text(case.created_at)}


def genesis_hash(case: Case, keys: JournalKeys, key_id: str | None = None) -> str:
    """The genesis entry of the case's chain: its identity signed with `key_id` (default: the current key)."""
    payload = canonical_json({"genesis": identity(case)})
    return keys.digest(keys.current_id if key_id is None else key_id, payload) or ""


def chained_row(case_id: int, previous: JournalRow | tuple[int, str], *, type: str, at: date,
                recorded_at: datetime, actor: str, data: dict[str, Any], evidence: str | None,
                keys: JournalKeys, idempotency_key: str | None = None) -> JournalRow:
    """The next journal row after `previous` — a row, or (seq, hash) of the last row, (0, genesis) for the
    first — signed with the current key."""
    if isinstance(previous, JournalRow):
        previous = (previous.seq, previous.hash)
    prev_seq, prev_hash = previous
    values = {"id": None, "case_id": case_id, "seq": prev_seq + 1, "type": type, "at": at, "recorded_at": recorded_at,
              "actor": actor, "data": canonical_json(data), "evidence": evidence, "prev_hash": prev_hash, "hash": "",
              "key_id": keys.current_id, "idempotency_key": idempotency_key}
    values["hash"] = row_hash(SimpleNamespace(**values), keys)
    return loaded(JournalRow, values)


def to_entry(row: JournalRow) -> JournalEntry:
    return JournalEntry(seq=row.seq, type=row.type, at=row.at, data=json.loads(row.data), actor=row.actor,
                        evidence=row.evidence, recorded_at=row.recorded_at)


def genesis_problem(case: Case, genesis: str, keys: JournalKeys) -> str | None:
    """Why the case's identity as stored no longer matches the genesis entry its journal was verified to start
    from, or None: the check of a write that resumes from a cached replay (the journal's tail is checked by the
    write itself, `projection_writer.write_projection`)."""
    problems = _genesis_problems(case, genesis, keys, strict=False)
    return problems[0] if problems else None


def _head_moved(last_seq: int) -> str:
    return (f"the journal ends at row #{last_seq} whose hash is not the case's recorded head (rows removed at the "
            "end, or the head edited)")


def _genesis_problems(case: Case, genesis: str, keys: JournalKeys, *, strict: bool) -> list[str]:
    """What is wrong with the genesis entry the journal starts from (see `chain_problems` for `strict`)."""
    if genesis == LEGACY_GENESIS_HASH:
        return ["the journal starts before genesis entries existed: the case's identity (seat, communes, "
                "population, ruleset) is not covered; run `cpts db rekey` to sign it"] if strict else []
    if not any(hmac.compare_digest(genesis_hash(case, keys, key_id), genesis) for key_id in ("", *keys.accepted)):
        return ["the case's identity (name, seat, communes, declared population or ruleset) does not match its "
                "genesis entry (edited after the fact)"]
    if strict and keys.keyed and hmac.compare_digest(genesis_hash(case, keys, ""), genesis):
        return ["the genesis entry is unkeyed although a journal key is set: run `cpts db rekey`"]
    return []


def chain_problems(case: Case, rows: Sequence[JournalRow], keys: JournalKeys = UNKEYED, *,
                   strict: bool = True) -> list[str]:
    """Recompute the case's hash chain from its genesis entry; one line per finding (empty when intact).

    A finding is a row edited, removed or inserted, the case's identity edited, the head not at the last row, or
    a row signed with a key that is not accepted here; and, when `strict` (`cpts case verify`, not the check
    before a write), a journal older than genesis entries or left unkeyed once a key is set.
    """
    previous = rows[0].prev_hash if rows else case.journal_head
    problems = _genesis_problems(case, previous, keys, strict=strict)
    unknown: set[str] = set()
    unkeyed = 0
    expected_seq = 1
    for row in rows:
        if row.seq != expected_seq:
            problems.append(f"row #{row.seq}: expected sequence number {expected_seq} (a row is missing or was "
                            "inserted)")
        expected_seq = row.seq + 1
        if row.prev_hash != previous:
            problems.append(f"row #{row.seq}: prev_hash does not match the hash of the row before it")
        key_id = row.key_id or ""
        if key_id and key_id not in keys.accepted:
            unknown.add(key_id)
        else:
            if not hmac.compare_digest(row_hash(row, keys), row.hash):
                problems.append(f"row #{row.seq} {row.type}: content does not match its hash (edited after the fact)")
            if not key_id and keys.keyed:
                unkeyed += 1
        previous = row.hash
    if unknown:
        problems.append(f"rows signed with key(s) {', '.join(sorted(unknown))} cannot be checked: that key is not "
                        "in CPTS_JOURNAL_KEY or CPTS_JOURNAL_RETIRED_KEYS")
    if unkeyed and strict:
        problems.append(f"{unkeyed} row(s) are unkeyed although a journal key is set: run `cpts db rekey`")
    if rows and case.journal_head != previous:
        problems.append(_head_moved(rows[-1].seq))
    return problems


def resign(case: Case, rows: Sequence[JournalRow], keys: JournalKeys) -> tuple[str, list[tuple[int, str, str]]]:
    """The case's chain signed again with the current key: (new head, [(row id, prev_hash, hash)…])."""
    previous = genesis_hash(case, keys)
    signed: list[tuple[int, str, str]] = []
    for row in rows:
        copy = JournalRow(**{**row.model_dump(), "prev_hash": previous, "key_id": keys.current_id, "hash": ""})
        copy.hash = row_hash(copy, keys)
        assert row.id is not None
        signed.append((row.id, previous, copy.hash))
        previous = copy.hash
    return previous, signed
