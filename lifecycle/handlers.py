"""What each event type does to a replay besides moving the lifecycle table: one small function per event type,
registered by name (in the spirit of eventsourcing's `@mutate.register`).

For each event the replay (lifecycle.projection) runs, in this order:
1. the `before_firing` handler: facts a guard reads that depend on the event's own date;
2. the machine (lifecycle.machine); on refusal nothing below runs;
3. the deadlines the ruleset says the event completes or cancels (generic; a `completes` matcher keyed by
   the deadline's rule picks which per-year instance an event completes);
4. the `on` handler: what the accepted event changes in the case's facts;
5. the deadlines the ruleset anchors on the event (generic);
6. the `opens` handler: deadlines whose anchor the ruleset cannot name by an event alone (contract
   anniversaries, the CPL meeting's date, the effect of a maintained termination, a refund owed).
A new event type, or a ruleset version with a new special case, adds a handler here, not a branch there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

from lifecycle.calendar import DateExplanation, LegalCalendar, contract_anniversary
from lifecycle.deadlines import OpenDeadline
from lifecycle.events import EVENT_SPECS, JournalEntry, deliberation_outcome
from lifecycle.machine import CaseFacts, LifecycleModel, Referral
from lifecycle.payments import Outstanding, PaymentSchedule
from lifecycle.ruleset import DeadlineRule, Ruleset


class Replay(Protocol):
    """What a handler may read and change of the replay in progress (lifecycle.projection's `_Replay`).

    A protocol rather than an import: the projection imports this module, so this one must not import it.
    """

    rules: Ruleset
    calendar: LegalCalendar
    facts: CaseFacts
    model: LifecycleModel
    population: int  # as amended by the contract and its avenants
    termination_effective_on: date | None
    deadlines: list[OpenDeadline]
    accepted: list[JournalEntry]

    def compute_due(self, rule: DeadlineRule, anchor: date, anchor_label: str) -> DateExplanation:
        """The due date of `rule` counted from `anchor` on the seat's calendar, with its explanation."""
        ...

    def open_deadline(self, rule: DeadlineRule, anchor_event: str, explanation: DateExplanation,
                      *, year: int | None = None, note: str = "") -> OpenDeadline:
        """Open an instance of `rule`."""
        ...

    def schedule_payments(self, entries: Sequence[JournalEntry],
                          termination: date | None = None) -> PaymentSchedule | None:
        """The échéancier of `entries` (None before the contract), ending at `termination` if given."""
        ...

    def outstanding(self, key: tuple[str, int]) -> Outstanding:
        """What the échéancier of the events accepted so far still owes on the line(s) of (component, year)."""
        ...


EventHandler = Callable[[Replay, date, dict[str, Any]], None]
CompletionMatcher = Callable[[Replay, OpenDeadline, date, dict[str, Any]], bool]
_Handler = TypeVar("_Handler", EventHandler, CompletionMatcher)
# Where a deliberation's seats come from when the event records them (refusals quote it).
CPL_SEATS_SOURCE = "the CPL's composition recorded with the meeting"

BEFORE_FIRING: dict[str, EventHandler] = {}  # event type → sets the facts its guards read
ON_ACCEPTED: dict[str, EventHandler] = {}  # event type → updates the case's facts
OPENS: dict[str, EventHandler] = {}  # event type → opens the deadlines the ruleset cannot anchor by itself
COMPLETES: dict[str, CompletionMatcher] = {}  # deadline rule key → whether an event completes an instance


def _register(registry: dict[str, _Handler], name: str, *, event: bool = True) -> Callable[[_Handler], _Handler]:
    if event and name not in EVENT_SPECS:
        raise ValueError(f"no event type {name!r} to register a handler for")
    if name in registry:
        raise ValueError(f"{name!r} already has a handler: one handler per name")

    def register(handler: _Handler) -> _Handler:
        registry[name] = handler
        return handler

    return register


def before_firing(event: str) -> Callable[[EventHandler], EventHandler]:
    """Register what `event` sets in the facts before the machine tries it (its guards read them)."""
    return _register(BEFORE_FIRING, event)


def on(event: str) -> Callable[[EventHandler], EventHandler]:
    """Register how an accepted `event` changes the case's facts (before the deadlines it anchors open)."""
    return _register(ON_ACCEPTED, event)


def opens(event: str) -> Callable[[EventHandler], EventHandler]:
    """Register the deadlines `event` opens besides those the ruleset anchors on it (after them)."""
    return _register(OPENS, event)


def completes(rule_key: str) -> Callable[[CompletionMatcher], CompletionMatcher]:
    """Register which open instance of the deadline `rule_key` an event of its `completed_by` completes."""
    return _register(COMPLETES, rule_key, event=False)


# ------------------------------------------------------------------------------------- before firing
@before_firing("contract_signed")
def _accord_in_force_on_signature(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.accord_in_force = replay.rules.accord_in_force(at)


@before_firing("payment_recorded")
@before_firing("refund_received")
def _what_the_line_still_owes(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """SPEC §7: a payment settles what its line still owes (the échéancier of the events accepted so far)."""
    key = ("refund", 0) if "component" not in data else (data["component"], data["year"])
    replay.facts.outstanding = replay.outstanding(key)


@before_firing("cpl_meeting_held")
def _cpl_settings(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """Annex 5 art. 2: the deliberation's guard reads the CPL's sections, quorum and proxies from the ruleset —
    the seats per section from the event when it records them (the deployment's CPL, recorded when the meeting
    was: a later change of setting never changes a past deliberation), else the ruleset's defaults."""
    cpl = replay.rules.cpl
    if cpl is not None and data.get("seats"):
        cpl = dataclasses.replace(cpl, members=dict(data["seats"]), members_source=CPL_SEATS_SOURCE,
                                  members_interpretation=False)
    replay.facts.cpl = cpl


# ------------------------------------------------------------------------------------- facts
@on("loi_submitted")
def _new_loi_awaits_both_approvals(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.loi_approvals = set()


@on("loi_decision")
def _loi_approval_or_rejection(replay: Replay, at: date, data: dict[str, Any]) -> None:
    # I §3: a rejection by either party sends the project back; both approvals must then be given again.
    if data["decision"] == "approve":
        replay.facts.loi_approvals.add(data["party"])
    else:
        replay.facts.loi_approvals = set()


@on("fir_granted")
def _fir_granted(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.fir_granted, replay.facts.fir_granted_on = True, at


@on("fir_renewed")
def _fir_renewed(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.fir_renewed_on = at


@on("adhesion_requested")
def _dossier_documents(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.documents = tuple(data["documents"])


@on("contract_refusal_received")
def _refusal_may_be_referred_anew(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.referral = None


@on("contract_signed")
def _contract_terms(replay: Replay, at: date, data: dict[str, Any]) -> None:
    facts = replay.facts
    facts.contract_signed_on = at
    facts.anniversaries = tuple(contract_anniversary(at, k) for k in range(replay.rules.contract_years + 1))
    coming = replay.rules.missions_coming(at, facts.anniversaries)
    facts.contract_missions = (*replay.rules.missions_at_signature(at), *data.get("missions", []), *coming)
    facts.mission_from = {mission: facts.anniversaries[year - 1] for mission, (year, _) in coming.items()}
    if data.get("population") is not None:
        replay.population = data["population"]


@on("mission_started")
def _mission_started(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.started[data["mission"]] = at


@on("mission_deployed")
def _mission_deployed(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.deployed[data["mission"]] = at


@on("avenant_signed")
def _avenant_terms(replay: Replay, at: date, data: dict[str, Any]) -> None:
    facts = replay.facts
    kept = [m for m in facts.contract_missions if m not in data.get("drop_missions", [])]
    facts.contract_missions = (*kept, *data.get("add_missions", []))
    if data.get("population") is not None:
        replay.population = data["population"]


@on("termination_notice_received")
def _termination_initiator(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.termination_initiator = data["initiator"]


@on("cpl_referral_received")
def _referral_received(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.referral = Referral(subject=data["subject"], received=at)


@on("cpl_meeting_scheduled")
def _meeting_date(replay: Replay, at: date, data: dict[str, Any]) -> None:
    referral = replay.facts.referral
    if referral:
        referral.meeting_date = date.fromisoformat(data["date"])
        # A meeting moved to another date is convened anew (annex 5 art. 1.2).
        referral.convocations_sent_on = referral.agenda_sent_on = None


@on("cpl_convocations_sent")
def _convocations_sent(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.convocations_sent_on = at


@on("cpl_agenda_sent")
def _agenda_sent(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.agenda_sent_on = at


@on("cpl_carence_recorded")
def _carence_recorded(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.carence_section, replay.facts.referral.carence_on = data["section"], at


@on("cpl_meeting_held")
def _meeting_held(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.facts.cpl = None
    if replay.facts.referral:
        replay.facts.referral.held_on = at
        replay.facts.referral.vote = deliberation_outcome(data)


@on("cpl_minutes_signed")
def _minutes_signed(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.minutes_signed_on = at


@on("cpl_opinion_notified")
def _opinion_notified(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.opinion = data["opinion"]


@on("cpl_opinion_deemed")
def _opinion_deemed(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.opinion = "deemed"


@on("funders_decision_notified")
def _referral_decided(replay: Replay, at: date, data: dict[str, Any]) -> None:
    if replay.facts.referral:
        replay.facts.referral.decided = True


@on("termination_effective")
def _termination_effective_on(replay: Replay, at: date, data: dict[str, Any]) -> None:
    replay.termination_effective_on = at


# ------------------------------------------------------------------------------------- deadlines
@opens("contract_signed")
def _deadlines_from_anniversaries(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """The contract's deadlines counted from its anniversaries: each year's (per_contract_year), and those of the
    socle missions it comes under at an anniversary."""
    _per_contract_year_deadlines(replay, at)
    _deadlines_of_missions_coming(replay, at)


def _per_contract_year_deadlines(replay: Replay, at: date) -> None:
    """Deadlines anchored on each anniversary of the contract (`anchor = "anniversary"`, per_contract_year)."""
    for rule in replay.rules.deadlines.values():
        if rule.per_contract_year:
            for year in range(1, replay.rules.contract_years + 1):
                anniversary = replay.facts.anniversaries[year]
                label = f"anniversary {year} of the contract signed {at.isoformat()}"
                replay.open_deadline(rule, "anniversary", replay.compute_due(rule, anniversary, label), year=year)


def _deadlines_of_missions_coming(replay: Replay, at: date) -> None:
    """A socle mission the contract comes under at an anniversary (an amendment's, SPEC §7.6 reading): its
    deadlines anchored on the signature count from that anniversary instead, and are "à confirmer" (the
    transition is a reading of ours)."""
    for mission, (year, version) in replay.rules.missions_coming(at, replay.facts.anniversaries).items():
        begins = replay.facts.anniversaries[year - 1]
        transition = version.row("transition")
        for rule in version.deadlines.values():
            if rule.mission != mission or "contract_signed" not in rule.anchors:
                continue
            moved = dataclasses.replace(rule, verified=False, interpretation=True,
                            source=f"{rule.source}; {transition.source}")
            label = (f"anniversary {year - 1} of the contract signed {at.isoformat()}, from which its mission "
                     f"{mission} is under {version.id}")
            replay.open_deadline(moved, "anniversary", replay.compute_due(moved, begins, label))


@opens("cpl_meeting_scheduled")
def _deadlines_before_the_meeting(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """Deadlines counted back from the CPL meeting's date (`anchor = "cpl_meeting_date"`)."""
    meeting = date.fromisoformat(data["date"])
    for rule in replay.rules.deadlines.values():
        if "cpl_meeting_date" in rule.anchors:
            replay.open_deadline(rule, "cpl_meeting_scheduled", replay.compute_due(rule, meeting, "the CPL meeting"))


@opens("funders_decision_notified")
def _maintained_termination_takes_effect(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """SPEC §5 (interpretation): a maintained termination takes effect on the later of the original
    effective date and the notification of the funders' decision."""
    if data["outcome"] != "maintained" or replay.model.state != "termination_pending":
        return
    rule = replay.rules.deadline("termination_effective")
    original = [d for d in replay.deadlines if d.rule.key == "termination_effective"][-1]
    effective = max(original.due, at)
    which = "the original effective date" if effective == original.due else "the decision's notification"
    explanation = replay.calendar.fixed(effective, kind=rule.kind, source=f"{rule.source}, SPEC §5",
                                        anchor_label=f"{which} (later of {original.due.isoformat()} "
                                                     f"and {at.isoformat()})")
    replay.open_deadline(rule, "funders_decision_notified", explanation,
                         note="termination maintained after the CPL referral (interpretation)")


@opens("termination_effective")
def _refund_of_advances_overpaid(replay: Replay, at: date, data: dict[str, Any]) -> None:
    """ACI art. 11.3: advances paid beyond what the termination year is owed are refunded (`refund` deadline,
    anchored on the termination's effect)."""
    schedule = replay.schedule_payments([*replay.accepted], termination=at)
    if schedule is not None and schedule.refund_owed > 0:
        rule = replay.rules.deadline("refund")
        replay.open_deadline(rule, "termination_effective",
                             replay.compute_due(rule, at, "the termination's effect"),
                             note=f"refund owed: {schedule.refund_owed} €")


# ------------------------------------------------------------------------------------- completion
@completes("annual_review")
def _review_of_its_year(replay: Replay, deadline: OpenDeadline, at: date, data: dict[str, Any]) -> bool:
    return data.get("year") == deadline.year


@completes("members_update")
def _members_update_of_its_year(replay: Replay, deadline: OpenDeadline, at: date, data: dict[str, Any]) -> bool:
    # An update names its year, or counts for the year whose window (anniversary K−1 → due) it falls in.
    if "year" in data:
        return data["year"] == deadline.year
    begins = replay.facts.anniversaries[deadline.year - 1] if deadline.year else None
    return begins is not None and begins <= at <= deadline.due


@completes("cpl_convocation")
@completes("cpl_agenda")
def _sent_for_the_meeting_scheduled(replay: Replay, deadline: OpenDeadline, at: date, data: dict[str, Any]) -> bool:
    """Convocations and agenda complete the deadline counted back from the meeting now scheduled (one moved
    after its deadline had passed leaves that one breached)."""
    referral = replay.facts.referral
    return referral is not None and deadline.explanation.anchor == referral.meeting_date
