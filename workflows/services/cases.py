"""Use cases of a case's lifecycle: create it, `apply` an event, `void` one. One call = one unit of work.

`apply` validates the event, replays the case's journal with it (lifecycle.projection), appends one
hash-chained journal row, and refreshes the projections (case state, deadlines, payments) under an optimistic
version check. Any failure leaves the journal and projections as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from lifecycle import territory
from lifecycle.errors import DomainError, EventRejected, TransitionRejected
from lifecycle.events import (
    SYSTEM_EVENTS,
    JournalEntry,
    check_evidence_not_after,
    parse_date,
    validate_data,
    validate_evidence,
)
from lifecycle.machine import TERRITORY_CLAIMING
from lifecycle.projection import Checkpoint, NewEventCheck, Projection, project, replay, resume
from lifecycle.ruleset import DEFAULT_RULESET, Ruleset, load_ruleset
from notifications.addresses import MAX_NAME, forbidden_characters
from workflows.persistence.checkpoints import CachedReplay
from workflows.persistence.errors import ClockRefused, ConcurrentModification, DuplicateKey, ReadAgain, UnknownCase
from workflows.persistence.journal import chain_problems, chained_row, genesis_hash, genesis_problem, to_entry
from workflows.persistence.projection_writer import refuse_write, write_projection
from workflows.persistence.repositories import case_key
from workflows.persistence.tables import Case, JournalRow
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.clock import local_today, utc_now
from workflows.settings import cpl_seats

SYSTEM_ACTOR = "system"
MAX_IDEMPOTENCY_KEY_LENGTH = 200


@dataclass(frozen=True)
class NewEvent:
    """An event as a user (or the scheduler) submits it."""

    type: str
    at: date
    data: dict[str, Any] = field(default_factory=dict)
    # A free reference (text), or structured evidence {"reference", "lrar", "presented_on", "received_on"}
    # (lifecycle.events.validate_evidence); `apply` turns it into the text the journal stores.
    evidence: str | Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApplyResult:
    """`state_before`/`state_after`: the case as of today, before and after; `event_from`/`event_to`: the
    transition of the event itself at its business date (they differ when timers fired since, or when the
    event was backdated)."""

    case_id: int
    seq: int
    state_before: str
    state_after: str
    projection: Projection
    event_from: str = ""
    event_to: str = ""


def ruleset_for(case: Case) -> Ruleset:
    return load_ruleset(ruleset_id=case.ruleset_id)


def project_case(case: Case, rows: Sequence[JournalRow], today: date, *, with_payments: bool = True) -> Projection:
    """The case's projection as of `today`, from its journal rows."""
    return project([to_entry(r) for r in rows], ruleset_for(case), today, departement=case.seat_departement,
                   population=case.population, with_payments=with_payments)


def find_overlaps(uow: UnitOfWork, case: Case) -> list[str]:
    """Other CPTS with a validated or submitted health project sharing communes with this case (I §6.1)."""
    mine = set(json.loads(case.communes))
    if not mine:
        return []
    found = []
    for other in uow.cases.sharing_communes(sorted(mine), TERRITORY_CLAIMING, besides=case.id):
        common = territory.overlap(mine, json.loads(other.communes))
        if common:
            shown = ", ".join(common[:10]) + (" …" if len(common) > 10 else "")
            found.append(f"communes {shown} are also claimed by case {other.id} {other.name!r} ({other.state})")
    return found


# ----------------------------------------------------------------------------------------------- create
def create_case(
    uow: UnitOfWork,
    *,
    name: str,
    departement: str,
    communes: Iterable[str] = (),
    population: int | None = None,
    ruleset_id: str = DEFAULT_RULESET,
    now: datetime | None = None,
) -> Case:
    """Register a CPTS project: its seat, territory (communes and/or declared population) and ruleset.

    The case's identity is signed as the genesis entry of its journal (`persistence.journal`)."""
    name = check_name(name)
    dept = territory.departement(departement).code
    codes = [c.code for c in territory.communes(communes)] if communes else []
    if not codes and population is None:
        raise EventRejected("a case needs a territory: --communes INSEE… or --population N")
    rules = load_ruleset(ruleset_id=ruleset_id)
    summary = territory.summarise(codes, declared_population=population, ruleset=rules, seat=dept)
    now = now or utc_now()
    case = Case(
        name=name, seat_departement=dept, region=territory.region_of(dept).code, communes=json.dumps(codes),
        declared_population=population, population=summary.population, size=summary.size,
        ruleset_id=rules.id, state="new", version=0, created_at=now, updated_at=now,
    )
    with uow:
        case = uow.cases.add(case)
        case.journal_head = genesis_hash(case, uow.keys)  # needs the id: after the insert, in its transaction
        uow.commit()
    return case


def check_name(name: object, what: str = "a case's name") -> str:
    """A name as shown in lists and e-mail subjects: text of 1–200 characters on one line, with no control or
    invisible character (the rule of a person's name, `notifications.addresses`)."""
    if not isinstance(name, str):
        raise EventRejected(f"{what} must be text, e.g. \"CPTS du Pays Messin\" (got {type(name).__name__})")
    text = name.strip()
    if not text:
        raise EventRejected("a case needs a name, e.g. --name \"CPTS du Pays Messin\"")
    if len(text) > MAX_NAME:
        raise EventRejected(f"{what} is {len(text)} characters long: at most {MAX_NAME}")
    odd = forbidden_characters(text)
    if odd:
        raise EventRejected(f"{what} contains control or invisible characters ({', '.join(odd[:5])}): write it on "
                            "one line of plain text")
    return text


# ----------------------------------------------------------------------------------------------- apply
def apply(
    uow: UnitOfWork,
    case_id: int | str,
    event: NewEvent,
    actor: str,
    *,
    today: date | None = None,
    now: datetime | None = None,
    idempotency_key: str | None = None,
    cpl_members: Mapping[str, tuple[int, int]] | None = None,
) -> ApplyResult:
    """Record `event` on the case in one unit of work, or raise a DomainError and write nothing.

    `cpl_members` is the deployment's CPL composition (`Settings.cpl_members`): a deliberation recorded without
    its seats gets those of the case's CPL written into its data (else the ruleset's defaults).

    `today` (default: the date at the seat at `now`) may not lie after the date at the seat at `now`: only a
    simulation, whose `now` is virtual too, runs ahead of the wall clock. With an `idempotency_key`, a retry of
    the same write (the caller lost the acknowledgement) returns the first result instead of recording twice.
    """
    now = now or utc_now()
    if not actor.strip():
        raise EventRejected("an event needs an actor (who records it)")
    if idempotency_key is not None:
        idempotency_key = _check_idempotency_key(idempotency_key)
    try:
        with uow:
            result = _apply(uow, case_id, event, actor, today=today, now=now, idempotency_key=idempotency_key,
                            cpl_members=cpl_members)
            uow.commit()
            return result
    except DuplicateKey as exc:
        if idempotency_key is not None:
            with uow:  # another request with the same key committed first: its result is ours
                case = uow.cases.get(case_id)
                first = _replayed_result(uow, case, event, idempotency_key, today, now)
                if first is not None:
                    return first
        if "journal" not in str(exc):
            raise
        # Another writer appended the same sequence number first (the version check is the usual guard).
        raise ConcurrentModification(f"case {case_id} was changed by someone else meanwhile; reload and retry") \
            from None


def void(uow: UnitOfWork, case_id: int | str, seq: int, actor: str, *, at: date, reason: str | None = None,
         today: date | None = None, now: datetime | None = None, idempotency_key: str | None = None) -> ApplyResult:
    """Void journal entry `seq` (a wrong or mistaken record): the case is rebuilt without it."""
    data: dict[str, Any] = {"seq": seq, **({"reason": reason} if reason else {})}
    return apply(uow, case_id, NewEvent("event_voided", at, data), actor, today=today, now=now,
                 idempotency_key=idempotency_key)


def check_today(case: Case, today: date | None, now: datetime) -> date:
    """The case's "today": the date at its seat at `now`, or an earlier one asked for (replays, corrections)."""
    real = local_today(case, now)
    if today is None:
        return real
    if today > real:
        raise ClockRefused(f"--today {today.isoformat()} is after today's date at the seat of case {case.id} "
                           f"({real.isoformat()}): writes cannot run ahead of the clock; to see the future, "
                           "use `cpts simulate`")
    return today


def _check_idempotency_key(key: str) -> str:
    text = key.strip()
    if not text or len(text) > MAX_IDEMPOTENCY_KEY_LENGTH or not text.isprintable():
        raise EventRejected(f"an idempotency key is 1–{MAX_IDEMPOTENCY_KEY_LENGTH} printable characters, e.g. a "
                            f"UUID (got {len(key)} characters)")
    return text


def _replayed_result(uow: UnitOfWork, case: Case, event: NewEvent, key: str, today: date | None,
                     now: datetime) -> ApplyResult | None:
    """The result of the write that used `key` on this case, None if none did; refused when the key was used
    for another event (a caller's bug: the same key for two different writes)."""
    row = uow.journal.by_idempotency_key(case.id, key)
    if row is None:
        return None
    if row.type != event.type or row.at != parse_date(event.at, "event date"):
        raise EventRejected(f"idempotency key {key!r} was used for #{row.seq} {row.type} dated "
                            f"{row.at.isoformat()} on case {case.id}: use a new key for a different event")
    projection = project_case(case, uow.journal.rows(case.id), today or local_today(case, now))
    own = next((h for h in reversed(projection.history) if h.seq == row.seq), None)
    return ApplyResult(case.id, row.seq, own.source if own else projection.state, projection.state, projection,
                       own.source if own else projection.state, own.dest if own else projection.state)


def _apply(uow: UnitOfWork, case_id: int | str, event: NewEvent, actor: str, *, today: date | None,
           now: datetime, idempotency_key: str | None,
           cpl_members: Mapping[str, tuple[int, int]] | None = None) -> ApplyResult:
    known = _cached_case(uow, case_id, event)
    if known is not None:
        # The case as this process last wrote it, not read: its write requires the row unchanged since. An
        # idempotency key is not looked up first: a retry that the lifecycle accepts again (a payment) is refused
        # by the journal's unique key (DuplicateKey, answered by `apply` with the first result), one that it
        # refuses (its state has moved on) is decided again below, where the key is looked up.
        try:
            return _apply_to(uow, known, event, actor, today=today, now=now, idempotency_key=idempotency_key,
                             cpl_members=cpl_members, case_from_cache=True)
        except (DomainError, ReadAgain):
            # Refused, or decided on a case that may be behind the database (a write from another process, a
            # rekey): decided again on the case as stored. Nothing was written.
            pass
    case = uow.cases.get(case_id)
    if idempotency_key is not None:
        first = _replayed_result(uow, case, event, idempotency_key, today, now)
        if first is not None:
            return first
    return _apply_to(uow, case, event, actor, today=today, now=now, idempotency_key=idempotency_key,
                     cpl_members=cpl_members)


def _cached_case(uow: UnitOfWork, case_id: int | str, event: NewEvent) -> Case | None:
    """The case as the checkpoint cache kept it after this process's last write, when the event can resume from
    that checkpoint (no voiding); None otherwise."""
    if event.type == "event_voided":
        return None
    try:
        entry = uow.checkpoints.latest(case_key(case_id))
    except UnknownCase:
        return None
    if entry is None or entry.case is None or entry.checkpoint is None or not fits_case(entry.checkpoint, entry.case):
        return None
    return entry.case


def _apply_to(uow: UnitOfWork, case: Case, event: NewEvent, actor: str, *, today: date | None, now: datetime,
              idempotency_key: str | None, cpl_members: Mapping[str, tuple[int, int]] | None,
              case_from_cache: bool = False) -> ApplyResult:
    today = check_today(case, today, now)
    allow_system = actor == SYSTEM_ACTOR
    data = validate_data(event.type, event.data, allow_system=allow_system)
    at = parse_date(event.at, "event date")
    event = replace(event, evidence=validate_evidence(event.evidence, event_type=event.type, at=at))
    if at > today:
        raise EventRejected(f"{event.type} dated {at.isoformat()} is in the future (today is "
                            f"{today.isoformat()} at the seat): record events on or after the day they happen")
    check_evidence_not_after(event.evidence, today)
    rules = ruleset_for(case) if case_from_cache else checked_ruleset(uow, case)
    if event.type == "cpl_meeting_held":
        data = with_cpl_seats(data, case.seat_departement, rules, cpl_members or {})
    replayed = _replay_with(uow, case, rules, event, at, data, actor, today, now, idempotency_key,
                            case_from_cache=case_from_cache)
    before, after, row = replayed.before, replayed.after, replayed.row
    new_entry = replayed.entry
    _check_replay(before, after, new_entry)
    # The version check runs first: a concurrent writer holding the case makes it fail cleanly.
    write_projection(uow, case, after, rules, now=now, head=row.hash, notices_from=today, tail=replayed.ends.tail,
                     genesis=replayed.ends.genesis, checkpoint=replayed.checkpoint, case_from_cache=case_from_cache,
                     rows=(row,))
    seq = row.seq
    own = next(h for h in reversed(after.history) if h.seq == seq) if event.type != "event_voided" else None
    return ApplyResult(case.id, seq, before.state, after.state, after,
                       own.source if own else before.state, own.dest if own else after.state)


def with_cpl_seats(data: dict[str, Any], departement: str, rules: Ruleset,
                   cpl_members: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
    """A CPL deliberation's data with the seats per section it is held under: as given, else the deployment's
    setting for the case's CPL, else the ruleset's defaults — recorded in the journal, so that replaying it
    never depends on a setting that may change later."""
    if "present" not in data or "seats" in data or rules.cpl is None:
        return data
    seats = cpl_seats(cpl_members, departement) or dict(rules.cpl.members)
    return {**data, "seats": seats}


def checked_ruleset(uow: UnitOfWork, case: Case) -> Ruleset:
    """The case's ruleset — a case whose ruleset cannot be loaded is first checked for tampering (its ruleset
    id edited in the database), so that the error says so."""
    try:
        return ruleset_for(case)
    except Exception:
        check_chain(uow, case, uow.journal.rows(case.id))
        raise


@dataclass(frozen=True)
class ChainEnds:
    """Where a case's journal, as verified before a write, ends (the last row's hash, None without a row) and
    starts (its genesis entry): `write_projection` refuses the write if the stored journal no longer ends there."""

    tail: str | None
    genesis: str


def check_chain(uow: UnitOfWork, case: Case, rows: Sequence[JournalRow]) -> ChainEnds:
    """The ends of the case's journal once its whole chain is checked; TamperedJournal (and an alert in the log)
    if it fails."""
    problems = chain_problems(case, rows, uow.keys, strict=False)
    if problems:
        refuse_write(case, problems)
    return ChainEnds(rows[-1].hash if rows else None, rows[0].prev_hash if rows else case.journal_head)


def check_cached(uow: UnitOfWork, case: Case, cached: CachedReplay, *, case_from_cache: bool = False) -> ChainEnds:
    """The ends of the case's journal as verified when `cached` was made, once the case's identity is checked
    against its genesis entry (no read: the write itself checks that the journal still ends there). A case taken
    from the cache (`case_from_cache`) is the row that was checked then, and the write's UPDATE compares its
    identity with the stored one: nothing to check here."""
    problem = None if case_from_cache else genesis_problem(case, cached.genesis, uow.keys)
    if problem:
        refuse_write(case, [problem])
    has_rows = cached.checkpoint is not None and cached.checkpoint.head_seq > 0
    return ChainEnds(case.journal_head if has_rows else None, cached.genesis)


@dataclass(frozen=True)
class _Replayed:
    row: JournalRow
    entry: JournalEntry
    before: Projection
    after: Projection
    checkpoint: Checkpoint
    ends: ChainEnds


def _replay_with(uow: UnitOfWork, case: Case, rules: Ruleset, event: NewEvent, at: date, data: dict[str, Any],
                 actor: str, today: date, now: datetime, idempotency_key: str | None, *,
                 case_from_cache: bool = False) -> _Replayed:
    """The case's projection as of `today` before and after the new event, and its journal row.

    From the checkpoint kept at the journal's head when there is one and the event is dated on or after the
    last one (the replay then touches only what follows it); otherwise by replaying the whole journal, which
    a case taken from the cache (`case_from_cache`) does not do: ReadAgain.
    """
    overlaps: list[str] | None = None

    def new_entry(previous: JournalRow | tuple[int, str] | None) -> tuple[JournalRow, JournalEntry,
                                                                            NewEventCheck | None]:
        """The event's journal row after `previous`, its journal entry, and the overlap guard's context."""
        nonlocal overlaps
        row = chained_row(case.id, previous, type=event.type, at=at, recorded_at=now, actor=actor, data=data,
                          evidence=event.evidence, keys=uow.keys, idempotency_key=idempotency_key)
        entry = JournalEntry(seq=row.seq, type=event.type, at=at, data=data, actor=actor, evidence=event.evidence,
                             recorded_at=now)
        if event.type != "health_project_validated":
            return row, entry, None
        if overlaps is None:  # one query, whichever path ends up replaying
            overlaps = find_overlaps(uow, case)
        return row, entry, NewEventCheck(row.seq, overlaps)

    cached = uow.checkpoints.get(case.id, version=case.version, head=case.journal_head)
    checkpoint = cached.checkpoint if cached is not None else None
    if checkpoint is not None and event.type != "event_voided" and fits_case(checkpoint, case):
        ends = check_cached(uow, case, cached, case_from_cache=case_from_cache)
        row, entry, check = new_entry((checkpoint.head_seq, case.journal_head))
        # The projection written last is the journal as it stands, as of its day: reused on the same day.
        same_day = cached.projection is not None and cached.projection.today == today
        before = (cached.projection, checkpoint) if same_day else resume(checkpoint, (), rules, today,
                                                                          with_payments=False)
        after = resume(checkpoint, (entry,), rules, today, check=check)
        if before is not None and after is not None:
            return _Replayed(row, entry, before[0], after[0], after[1], ends)
    if case_from_cache:
        raise ReadAgain(f"case {case.id}: {event.type} dated {at.isoformat()} needs a replay of the whole journal")
    rows = uow.journal.rows(case.id)
    ends = check_chain(uow, case, rows)
    entries = [to_entry(r) for r in rows]
    if event.type == "event_voided":
        _check_void(entries, data["seq"])
    row, entry, check = new_entry(rows[-1] if rows else (0, case.journal_head))
    # Only the state and the rejections of the journal as it stands are compared: no échéancier needed.
    before = project(entries, rules, today, departement=case.seat_departement, population=case.population,
                     with_payments=False)
    after, checkpoint = replay([*entries, entry], rules, today, departement=case.seat_departement,
                               population=case.population, check=check)
    return _Replayed(row, entry, before, after, checkpoint, ends)


def fits_case(checkpoint: Checkpoint, case: Case) -> bool:
    """The checkpoint was made for this case as it stands (seat and the population a replay starts from)."""
    return checkpoint.departement == case.seat_departement and checkpoint.base_population == case.population


def _check_void(entries: Sequence[JournalEntry], target: int) -> None:
    by_seq = {e.seq: e for e in entries}
    voided = {e.data["seq"] for e in entries if e.type == "event_voided"}
    entry = by_seq.get(target)
    if entry is None:
        raise EventRejected(f"event_voided: there is no journal entry #{target} in this case")
    if target in voided:
        raise EventRejected(f"event_voided: entry #{target} is already voided")
    if entry.type == "event_voided":
        raise EventRejected("event_voided: a voiding cannot itself be voided; record the event again instead")
    if entry.type in SYSTEM_EVENTS:
        raise EventRejected(f"event_voided: #{target} {entry.type} was fired by a timer; void the event that "
                            "caused it, and the engine derives the timers again")


def _check_replay(before: Projection, after: Projection, new_entry: JournalEntry) -> None:
    """The new event must be accepted, and must not make an already recorded event invalid."""
    for rejection in after.rejected:
        if rejection.seq == new_entry.seq:
            raise TransitionRejected(f"{rejection.error} (event dated {new_entry.at.isoformat()})")
    if new_entry.is_system and new_entry.seq in after.superseded:
        raise TransitionRejected(f"{new_entry.type} dated {new_entry.at.isoformat()} is not due: the engine's timers "
                                 "record it when its window closes (`cpts sweep`)")
    previously_rejected = {r.seq for r in before.rejected}
    broken = [r for r in after.rejected if r.seq not in previously_rejected and r.seq is not None]
    if broken:
        first = broken[0]
        what = "voiding" if new_entry.type == "event_voided" else f"recording {new_entry.type} on {new_entry.at}"
        raise TransitionRejected(
            f"{what} would invalidate #{first.seq} {first.type} of {first.at.isoformat()} ({first.error}); "
            "void that entry first or correct the date"
        )
