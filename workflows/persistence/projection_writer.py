"""The projection writer: a case's projection (state, deadlines, payments, next wake-up) into its rows."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NoReturn

from lifecycle.calendar import DateExplanation
from lifecycle.deadlines import PENDING, Deadline, explain
from lifecycle.payments import PaymentLine
from lifecycle.projection import Checkpoint, Projection
from lifecycle.reminders import next_notice_day
from lifecycle.ruleset import Ruleset
from workflows.persistence.checkpoints import CachedReplay
from workflows.persistence.errors import ConcurrentModification, ReadAgain, TamperedJournal
from workflows.persistence.journal import canonical_json
from workflows.persistence.repositories import payment_line_key
from workflows.persistence.tables import Case, JournalRow, loaded
from workflows.persistence.unit_of_work import UnitOfWork

alerts = logging.getLogger("cpts.journal")

# What a write reads of the `cases` row besides its version: the identity its genesis entry signs, the population
# the replay starts from, and the journal head. A write that starts from the case as the checkpoint cache kept it
# (no read) requires them unchanged in its UPDATE: any edit since, by anyone, sends it back to a read.
TRUSTED_COLUMNS = ("name", "seat_departement", "region", "communes", "declared_population", "ruleset_id",
                   "created_at", "population", "journal_head")


def wake_on(projection: Projection, rules: Ruleset, *, notices_from: date,
            open_deadlines: Sequence[Deadline] | None = None) -> date | None:
    """The first local day on which the sweep has something to do for this case: a system event already
    due, the day after a pending deadline's due date (it fires or becomes breached then), or a day on or
    after `notices_from` when a reminder or breach notice is owed. Only the pending and breached deadlines
    count: a caller that knows them (`open_deadlines`, the open ones) spares reading the others."""
    deadlines = projection.deadlines if open_deadlines is None else open_deadlines
    today = projection.today
    days = [e.at for e in projection.due_system_events]
    pending = [d.due for d in deadlines if d.status == PENDING and d.due >= today]
    if pending:
        days.append(min(pending) + _ONE_DAY)
    notice_day = next_notice_day(projection, rules, notices_from, deadlines)
    if notice_day is not None:
        days.append(notice_day)
    return min(days, default=None)


_ONE_DAY = timedelta(days=1)


def deadline_rows(case_id: int, projection: Projection, previous: CachedReplay | None = None) -> list[dict[str, Any]]:
    """The case's deadline rows. With `previous`, what was last written for the case: a deadline that is the very
    object written then (the replay keeps a deadline's frozen form while it cannot change) keeps its row."""
    earlier = previous.projection.deadlines if previous is not None and previous.projection is not None else ()
    rows = []
    for i, d in enumerate(projection.deadlines):
        row = None
        if previous is not None and i < len(earlier) and earlier[i] is d:
            row = previous.deadlines.get(d.ident)
        rows.append(row if row is not None and row["case_id"] == case_id else _deadline_row(case_id, d))
    return rows


def _deadline_row(case_id: int, d: Deadline) -> dict[str, Any]:
    return {"case_id": case_id, "ident": d.ident, "key": d.key, "label": d.label, "due": d.due, "status": d.status,
            "kind": d.kind, "met_on": d.met_on, "at_expiry": d.at_expiry, "recipients": _recipients_json(d.recipients),
            "explanation": _explanation_json(d.explanation, d.note),
            "origin": f"{d.ruleset} deadlines.{d.rule_key}" if d.ruleset else None,
            "to_confirm": None if d.verified else d.source}


@lru_cache(maxsize=256)
def _recipients_json(recipients: tuple[str, ...]) -> str:
    """The stored recipients of a deadline: a rule's few tuples, written again and again (computed once)."""
    return json.dumps(list(recipients))


@lru_cache(maxsize=4096)
def _explanation_json(explanation: DateExplanation, note: str) -> str:
    """The stored explanation of a due date (a deadline's date and note do not change once computed, so the
    same text is written again and again: computed once)."""
    return canonical_json({**explanation.as_dict(), "note": note, "text": explain(explanation, note)})


def payment_rows(case_id: int, projection: Projection, previous: CachedReplay | None = None) -> list[dict[str, Any]]:
    """The case's payment rows. With `previous`, what was last written for the case: a line that is the very object
    written then (the échéancier keeps the lines a payment did not move) keeps its row."""
    lines = projection.payments.lines if projection.payments else ()
    schedule = previous.projection.payments if previous is not None and previous.projection is not None else None
    earlier = schedule.lines if schedule is not None else ()
    rows = []
    for i, line in enumerate(lines):
        row = None
        if previous is not None and i < min(len(earlier), len(previous.payments)) and earlier[i] is line:
            row = previous.payments[i]
        rows.append(row if row is not None and row["case_id"] == case_id else _payment_row(case_id, line))
    return rows


def _payment_row(case_id: int, line: PaymentLine) -> dict[str, Any]:
    return {"case_id": case_id, "component": line.component, "mission": line.mission, "year": line.year,
            "due": line.due, "amount": line.amount, "ceiling": line.ceiling, "paid": line.paid, "status": line.status,
            "explanation": line.explanation,
            "origin": line.origin.cite() if line.origin else None,
            "to_confirm": None if line.origin is None or line.origin.verified else line.origin.source}


def write_projection(uow: UnitOfWork, case: Case, projection: Projection, rules: Ruleset, *, now: datetime,
                     head: str, notices_from: date, tail: str | None, genesis: str,
                     checkpoint: Checkpoint | None = None, case_from_cache: bool = False,
                     rows: Sequence[JournalRow] = ()) -> None:
    """Write the projections (case state, deadlines, payments) and the journal head under the optimistic
    version check: ConcurrentModification if the case changed since it was read; TamperedJournal (logged) if
    the journal's last row is no longer `tail` (its hash as the writer knows it, None for no row: rows removed
    behind the engine's back). `rows`, the write's own journal rows, are appended once that check has passed,
    with the deadline and payment rows (`uow.pipelined`: one round trip on PostgreSQL). `genesis`, the verified
    start of the case's chain, is kept with the checkpoint: the next write checks the case's identity against it.

    Only the deadline and payment rows that changed are written when the rows last written for this version of
    the case are known (`uow.checkpoints`); `checkpoint`, the replay at the new head, is kept for the next write,
    with the case's row as written.

    `case_from_cache`: `case` is the row the checkpoint cache kept, not one read in this transaction. The UPDATE
    then also requires the TRUSTED_COLUMNS as kept, and a refusal raises ReadAgain (nothing written: the caller
    reads the case and decides again) instead of telling a concurrent writer from tampering, which only a read
    can tell.
    """
    version = case.version
    previous = uow.checkpoints.get(case.id, version=version, head=case.journal_head)
    # The rows first (pure), so that the statements below follow one another without a pause.
    deadlines = {row["ident"]: row for row in deadline_rows(case.id, projection, previous)}
    payments = payment_rows(case.id, projection, previous)
    changed_lines = _changed_lines(previous.payments, payments) if previous is not None else None
    values = {
        "state": projection.state, "version": version + 1, "population": projection.population,
        "size": rules.size_for(projection.population), "updated_at": now, "journal_head": head,
        "wake_on": wake_on(projection, rules, notices_from=notices_from),
    }
    expect = {name: getattr(case, name) for name in TRUSTED_COLUMNS} if case_from_cache else None
    written = uow.cases.update_if_version(case.id, version, values, last_hash=tail, expect=expect)
    if not written:
        if case_from_cache:
            raise ReadAgain(f"case {case.id} changed since version {version} was cached")
        if uow.cases.version_of(case.id) == version:
            refuse_write(case, [f"the journal no longer ends at its recorded head {case.journal_head[:12]}… (rows "
                                "removed at the end, or the head edited)"])
        raise ConcurrentModification(
            f"case {case.id} was changed by someone else meanwhile (version {version}); reload and retry"
        )
    with uow.pipelined():
        if previous is None:
            uow.projections.replace(case.id, list(deadlines.values()), payments)
        else:
            old = previous.deadlines
            uow.projections.change(
                case.id,
                insert=[row for ident, row in deadlines.items() if ident not in old],
                update=[row for ident, row in deadlines.items()
                        if ident in old and old[ident] is not row and old[ident] != row],
                delete=[ident for ident in old if ident not in deadlines],
                payments=payments if changed_lines is None else None,
                payment_updates=changed_lines or [],
            )
        for row in rows:
            uow.journal.append(row)
    uow.stage_checkpoint(case.id, CachedReplay(version + 1, head, checkpoint, projection, deadlines, payments,
                                               genesis, _as_written(case, values)))


def _changed_lines(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The payment rows that changed (a payment moves one line's `paid` and status), when every line kept its
    place and identity; None when the échéancier itself changed (it is then written anew)."""
    keys = [payment_line_key(row) for row in new]
    if len(keys) != len(old) or len(set(keys)) != len(keys):
        return None
    changed = []
    for before, row, key in zip(old, new, keys, strict=True):
        if before is row:  # a row kept as it was written (`payment_rows`)
            continue
        if payment_line_key(before) != key:
            return None
        if before != row:
            changed.append(row)
    return changed


def refuse_write(case: Case, problems: list[str]) -> NoReturn:
    """A write refused on a journal that fails its integrity check: an alert in the log, one line for the user."""
    alerts.error("journal of case %s refused a write: %s", case.id, "; ".join(problems))
    raise TamperedJournal(f"case {case.id}: the journal fails its integrity check ({problems[0]}); nothing was "
                          f"written — run `cpts case verify {case.id}` and restore the journal from a backup")


def _as_written(case: Case, values: dict[str, Any]) -> Case:
    """A detached copy of the case's row once `values` are written (the cached case is never changed in place:
    another thread may be reading it)."""
    return loaded(Case, {name: values[name] if name in values else getattr(case, name) for name in _CASE_COLUMNS})


_CASE_COLUMNS = tuple(Case.__table__.columns.keys())  # type: ignore[attr-defined]
