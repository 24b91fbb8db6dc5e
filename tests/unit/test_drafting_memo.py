"""The échéancier's lines are memoised by what they are computed from (lifecycle.payments): drafting a contract
after each change of its terms, as the payment guard does, must give exactly the lines drafted from nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle import payments
from lifecycle.calendar import LegalCalendar
from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry, validate_data
from lifecycle.payments import TERMS_EVENTS, ContractLines, contract_lines
from lifecycle.ruleset import load_ruleset
from workflows.simulation.demo import _storyline

LINEAGE = load_ruleset()
CONTRACT_STAGES = ("contracted_on_track", "contracted_missions_breached", "contracted_year3", "termination_pending",
                   "termination_suspended", "terminated", "expired")


def journal_of(stage: str, seed: int, start: date) -> list[JournalEntry]:
    story = _storyline(stage, start, random.Random(seed))
    journal: list[JournalEntry] = []
    for at, kind, data in sorted(story.events, key=lambda e: e[0]):
        try:
            data = validate_data(kind, data, allow_system=True)
        except EventRejected:
            continue
        journal.append(JournalEntry(len(journal) + 1, kind, at, data))
    return journal


def forget_every_drafted_line() -> None:
    for table in (payments._MISSION_YEARS, payments._FONCTIONNEMENT, payments._SIGNATURES, payments._DRAFTED,
                  payments._TERMS_KEYS, payments._ATTAINMENTS):
        table.clear()


def as_compared(lines: ContractLines | None) -> tuple[object, ...] | None:
    if lines is None:
        return None
    return (lines.drafts, lines.explanations, lines.amounts, lines.origins, lines.refund, lines.year_due,
            lines.termination_year, lines.termination)


@settings(max_examples=100, deadline=None)
@given(
    stage=st.sampled_from(CONTRACT_STAGES),
    seed=st.integers(0, 10_000),
    start=st.dates(date(2019, 6, 1), date(2022, 12, 31)),
    seat=st.sampled_from((("57", 45_000), ("974", 110_000), ("971", 175_000))),
)
def test_lines_drafted_after_each_change_of_terms_are_those_drafted_from_nothing(stage, seed, start, seat):
    departement, population = seat
    journal = journal_of(stage, seed, start)
    calendar = LegalCalendar(departement)
    drafted_one_after_another = []
    for end in range(1, len(journal) + 1):
        if journal[end - 1].type in TERMS_EVENTS:
            drafted_one_after_another.append(
                (end, contract_lines(journal[:end], LINEAGE, population=population, calendar=calendar)))
    assert drafted_one_after_another, "the storyline changes no term of a contract"
    for end, memoised in drafted_one_after_another:
        forget_every_drafted_line()
        afresh = contract_lines(journal[:end], LINEAGE, population=population, calendar=calendar)
        assert as_compared(memoised) == as_compared(afresh), f"{stage}: lines after #{end} {journal[end - 1].type}"


def test_a_report_redrafts_only_its_years_variable_parts():
    """Reporting a year's indicators changes the variable lines of that year and nothing else of the échéancier."""
    journal = journal_of("expired", 7, date(2020, 3, 2))
    end = next(i for i, e in enumerate(journal) if e.type == "indicators_reported")
    year = journal[end].data["year"]
    before = contract_lines(journal[:end], LINEAGE, population=60_000, calendar=LegalCalendar("57"))
    after = contract_lines(journal[:end + 1], LINEAGE, population=60_000, calendar=LegalCalendar("57"))
    assert before is not None and after is not None
    changed = {(b.component, b.year) for b, a, amount_b, amount_a in
               zip(before.drafts, after.drafts, before.amounts, after.amounts, strict=True)
               if (b, amount_b) != (a, amount_a)}
    assert changed == {("access.variable", year), ("parcours.variable", year)}


def owed_on_each_line_alone(journal: list[JournalEntry], population: int, calendar: LegalCalendar,
                            termination: date | None, keys: list[tuple[str, int]],
                            recorded: dict[tuple[str, int], Decimal]) -> list[object]:
    """What the payment guard reads: each key's outstanding from a drafting that drafts that key's lines alone."""
    found = []
    for key in keys:
        payments._DRAFTED.clear()  # a drafting that has not drafted the whole contract
        drafting = payments.contract_drafting(journal, LINEAGE, population=population,
                                              termination_effective=termination, calendar=calendar)
        found.append(None if drafting is None else drafting.outstanding(key, recorded))
    return found


@settings(max_examples=60, deadline=None)
@given(
    stage=st.sampled_from(CONTRACT_STAGES),
    seed=st.integers(0, 10_000),
    start=st.dates(date(2019, 6, 1), date(2025, 6, 30)),  # from 2024, the LOI's support (avenant 2)
    seat=st.sampled_from((("57", 45_000), ("974", 110_000), ("971", 175_000))),
    share=st.sampled_from((Fraction(0), Fraction(1, 3), Fraction(1), Fraction(3, 2))),
    ends=st.sampled_from((None, 200, 700)),
)
def test_the_payment_guard_drafting_one_line_owes_what_the_whole_contract_owes_on_it(stage, seed, start, seat,
                                                                                     share, ends):
    """After every change of terms, what is still owed on each (component, year) — every line of the contract,
    the refund, the LOI's support, lines it does not have — is the same whether the guard drafts that line
    alone or the whole contract, whatever was paid on it (nothing, a part, all, more), terminated or not
    (`ends` days after the signature)."""
    departement, population = seat
    journal = journal_of(stage, seed, start)
    calendar = LegalCalendar(departement)
    checked = 0
    for end in range(1, len(journal) + 1):
        if journal[end - 1].type not in TERMS_EVENTS:
            continue
        prefix = journal[:end]
        signed = next((e.at for e in prefix if e.type == "contract_signed"), None)
        termination = signed + timedelta(days=ends) if signed is not None and ends is not None else None
        whole = contract_lines(prefix, LINEAGE, population=population, termination_effective=termination,
                               calendar=calendar)
        if whole is None:
            continue
        keys = [*whole.by_line, ("refund", 0), ("loi_support", 0), ("access.variable", 9),
                ("fonctionnement.advance", 0), ("crisis.fixed.advance", 1), ("unknown.fixed.balance", 2)]
        recorded = {key: payments.to_cents(share * sum((whole.drafts[i].exact or Fraction(0)
                                                        for i in whole.by_line.get(key, ())), Fraction(0)))
                    for key in keys[::2]}
        expected = [payments.outstanding(whole, key, recorded) for key in keys]
        assert owed_on_each_line_alone(prefix, population, calendar, termination, keys, recorded) == expected, \
            f"{stage}: after #{end} {journal[end - 1].type}"
        checked += 1
    assert checked, "the storyline never signs a contract"
