"""What the in-order append reuses (issue 9) is exactly what computing afresh gives: the échéancier's statuses
computed again only for the (component, year) a payment moved, the contract's lines drafted once for the
payment guard and the échéancier, the deadlines frozen once closed, and the rows the projection writer keeps
from its last write."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from spec_example import SIGNED_2024_03_15

from lifecycle.calendar import LegalCalendar
from lifecycle.events import JournalEntry, validate_data
from lifecycle.payments import ContractLines, contract_lines
from lifecycle.projection import Projection, _deadline_events, _Replay, project, replay, resume
from lifecycle.ruleset import load_ruleset
from workflows.persistence.checkpoints import CachedReplay
from workflows.persistence.projection_writer import _changed_lines, deadline_rows, payment_rows
from workflows.simulation.demo import STAGES, _storyline

RULES = load_ruleset()
D = date.fromisoformat
# SPEC §7's worked example: quality started on 2024-09-02, the first year's indicators reported on 2025-05-01.
SIGNED = [
    *SIGNED_2024_03_15,
    ("2024-09-02", "mission_started", {"mission": "quality"}),
    ("2025-05-01", "indicators_reported", {"year": 1, "missions": {"access": {"attainment": 0.8},
                                                                    "quality": {"attainment": 1}}}),
]


def journal_of(facts: list[tuple[str, str, dict]]) -> list[JournalEntry]:
    return [JournalEntry(seq, kind, D(at), validate_data(kind, data, allow_system=True))
            for seq, (at, kind, data) in enumerate(facts, start=1)]


def lines_of(entries: list[JournalEntry], termination: date | None = None) -> ContractLines:
    lines = contract_lines(entries, RULES, population=50_000, termination_effective=termination,
                           calendar=LegalCalendar("01"))
    assert lines is not None
    return lines


def afresh(lines: ContractLines) -> ContractLines:
    """The same lines, without anything memoised on them."""
    return dataclasses.replace(lines)


def shown(lines: ContractLines, recorded: dict, today: date) -> str:
    """The échéancier to the exponent of each amount (Decimal('10.0') and Decimal('10.00') are equal)."""
    schedule = lines.schedule(recorded, today)
    return repr(schedule) + repr([line.as_dict() for line in schedule.lines])


@pytest.mark.parametrize("termination", [None, D("2025-11-20")])
def test_statuses_computed_again_for_the_moved_lines_only_are_those_computed_afresh(termination):
    lines = lines_of(journal_of(SIGNED), termination)
    keys = [*lines.by_line, ("refund", 0), ("not.a.line", 1)]
    amounts = [a for a, _ in lines.amounts if a is not None]
    rng = random.Random(9)
    recorded: dict = {}
    today = D("2025-06-01")
    for step in range(400):
        move = rng.random()
        if move < 0.6:  # a payment on one line: the other sums stay the very same objects
            key = rng.choice(keys)
            recorded[key] = recorded.get(key, Decimal("0.00")) + Decimal(rng.choice(["100", "0.5", "250.00"]))
        elif move < 0.7:
            recorded[rng.choice(keys)] = rng.choice(amounts)  # a line paid exactly (one object, many lines)
        elif move < 0.8 and recorded:
            del recorded[rng.choice(list(recorded))]
        elif move < 0.9:
            today += timedelta(days=rng.choice([1, 30, 200]))
        else:
            recorded = {key: Decimal(str(value)) for key, value in recorded.items()}  # equal sums, new objects

        assert shown(lines, recorded, today) == shown(afresh(lines), recorded, today), f"step {step}"


def test_an_equal_sum_written_with_another_exponent_shows_its_own_exponent():
    lines = lines_of(journal_of(SIGNED))
    key = ("fonctionnement.advance", 1)
    first = lines.schedule({key: Decimal("60000")}, D("2025-06-01"))
    again = lines.schedule({key: Decimal("60000.00")}, D("2025-06-01"))

    assert [x.as_dict()["paid"] for x in first.lines if (x.component, x.year) == key] == ["60000"]
    assert [x.as_dict()["paid"] for x in again.lines if (x.component, x.year) == key] == ["60000.00"]


def contracted_journal(seed: int) -> tuple[list[JournalEntry], date]:
    """A contract's storyline as recorded, then payments of what it owes in order: instalments of each line
    due (some partial), each dated on the day it is recorded."""
    story = _storyline("contracted_year3", date(2020, 3, 2), random.Random(seed))
    journal: list[JournalEntry] = []
    for at, kind, data in sorted(story.events, key=lambda e: e[0]):
        journal.append(JournalEntry(len(journal) + 1, kind, at, validate_data(kind, data, allow_system=True)))
    day = max(e.at for e in journal)
    due = project(journal, RULES, day, departement="57", population=60_000)
    for event in due.due_system_events:  # journaled by the sweep
        journal.append(JournalEntry(len(journal) + 1, event.type, event.at, {}))
    return journal, day


def test_an_in_order_append_from_the_kept_caches_gives_what_a_full_replay_and_fresh_rows_give():
    journal, day = contracted_journal(3)
    projection, checkpoint = replay(journal, RULES, day, departement="57", population=60_000)
    assert projection.payments is not None and projection.payments.lines
    written = CachedReplay(1, "h", checkpoint, projection, {r["ident"]: r for r in deadline_rows(7, projection)},
                           payment_rows(7, projection), "g")
    rng = random.Random(5)
    steps = 0
    for line in [x for x in projection.payments.lines if x.amount and x.status in ("overdue", "scheduled")][:25]:
        for part in ("0.01", str(line.amount - Decimal("0.01"))) if rng.random() < 0.5 else (str(line.amount),):
            later = rng.choice([0, 0, 1, 45])  # same day (the common case) or a later one
            day += timedelta(days=later)
            entry = JournalEntry(len(journal) + 1, "payment_recorded", day,
                                 validate_data("payment_recorded", {"component": line.component,
                                                                    "year": line.year, "amount": part}))
            resumed = resume(written.checkpoint, [entry], RULES, day)
            assert resumed is not None
            journal.append(entry)
            after, checkpoint = resumed
            full = project(journal, RULES, day, departement="57", population=60_000)
            assert after == full
            assert repr(after.payments) == repr(full.payments)  # exponents included
            assert not [r for r in after.rejected if r.seq == entry.seq]

            rows = deadline_rows(7, after, written)
            assert rows == deadline_rows(7, full)
            payments = payment_rows(7, after, written)
            assert payments == payment_rows(7, full)
            if not later:  # what the payment did not move is kept, not built again
                assert sum(new is old for new, old in zip(payments, written.payments, strict=True)) >= len(payments) - 2
            changed = _changed_lines(written.payments, payments)
            assert changed == [new for old, new in zip(written.payments, payments, strict=True) if old != new]
            written = CachedReplay(written.version + 1, "h", checkpoint, after, {r["ident"]: r for r in rows},
                                   payments, "g")
            steps += 1
    assert steps >= 20


def test_a_deadline_kept_frozen_is_frozen_again_when_its_status_changes_with_the_day():
    journal, day = contracted_journal(11)
    _, checkpoint = replay(journal, RULES, day, departement="57", population=60_000)
    for later in (day, day + timedelta(days=40), day + timedelta(days=400), day + timedelta(days=2)):
        resumed = resume(checkpoint, [], RULES, later)
        assert resumed is not None
        assert resumed[0] == project(journal, RULES, later, departement="57", population=60_000)


def test_changed_payment_rows_are_none_when_the_lines_moved_or_share_a_key():
    rows = [{"case_id": 1, "component": c, "mission": None, "year": 1, "due": D("2025-01-01"), "paid": Decimal(0)}
            for c in ("a", "b", "c")]
    paid = {**rows[1], "paid": Decimal(5)}

    assert _changed_lines(rows, list(rows)) == []
    assert _changed_lines(rows, [rows[0], paid, rows[2]]) == [paid]
    assert _changed_lines(rows, [rows[1], rows[0], rows[2]]) is None
    assert _changed_lines(rows, rows[:2]) is None
    assert _changed_lines([rows[0], rows[0]], [rows[0], {**rows[0], "paid": Decimal(1)}]) is None


def test_a_projection_without_payments_has_no_payment_rows():
    journal = journal_of(SIGNED[:4])
    projection: Projection = project(journal, RULES, D("2024-01-01"), departement="01", population=50_000)

    assert payment_rows(1, projection) == []


@pytest.mark.parametrize("stage", [stage for stage, _ in STAGES])
def test_every_deadline_a_replay_opens_is_closed_and_anchored_by_events_the_replay_looks_for(stage, monkeypatch):
    """The replay scans the open deadlines only after an event that completes or cancels a deadline of some
    version of the ruleset, and looks for deadlines to open only after one they are anchored on
    (`_deadline_events`): every deadline a replay opens — those the handlers adapt included — fits, before and
    after avenant 2."""
    closing, anchoring = _deadline_events(RULES)
    opened = []
    open_deadline = _Replay.open_deadline

    def recording(self, rule, *args, **kwargs):
        opened.append(rule)
        return open_deadline(self, rule, *args, **kwargs)

    monkeypatch.setattr(_Replay, "open_deadline", recording)
    for start in (date(2020, 3, 2), date(2024, 6, 3)):
        story = _storyline(stage, start, random.Random(7))
        facts = [(at.isoformat(), kind, data) for at, kind, data in sorted(story.events, key=lambda e: e[0])]
        project(journal_of(facts), RULES, start + timedelta(days=2400), departement="57", population=60_000)

    assert opened
    for rule in opened:
        assert {*rule.completed_by, *rule.cancelled_by} <= closing, rule.key
        assert set(rule.anchors) <= anchoring, rule.key
