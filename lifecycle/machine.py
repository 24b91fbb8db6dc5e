"""The CPTS lifecycle as one declarative table (SPEC §4), run by a single shared `transitions` Machine.

Building a `transitions.Machine` costs milliseconds (and more with `auto_transitions`), and `add_model` is
O(n²) in the number of attached models (transitions #434). So there is exactly one machine, built once, with no
model: a replay makes one short-lived `LifecycleModel`, in its state, and triggers the machine's events on it
(`fire`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from transitions import EventData, Machine, MachineError

from lifecycle.calendar import Period
from lifecycle.errors import TransitionRejected, WindowClosed
from lifecycle.events import CPL_SECTIONS
from lifecycle.payments import Outstanding
from lifecycle.ruleset import CplSettings

INITIAL = "new"
PRE_CONTRACT = (
    "prospect", "accompanied", "loi_submitted", "loi_validated", "health_project_submitted",
    "health_project_opposed", "health_project_validated", "adhesion_requested", "contract_refused",
)
IN_CONTRACT = ("contracted", "termination_pending", "termination_suspended")
FINAL = ("terminated", "expired", "abandoned")
STATES = (INITIAL, *PRE_CONTRACT, *IN_CONTRACT, *FINAL)
FIR_STATES = PRE_CONTRACT[3:]  # from loi_validated up to the contract (I §4-5)
AFTER_SIGNATURE = (*IN_CONTRACT, "terminated", "expired")
# States whose health project is validated or under validation: their communes count for overlaps (I §6.1).
TERRITORY_CLAIMING = (
    "health_project_submitted", "health_project_validated", "adhesion_requested", "contract_refused",
    *IN_CONTRACT,
)
CPL_PROCEDURE = ("termination_suspended", "contract_refused")  # a CPL referral in progress (ACI art. 12.4)
# Where the CPL's relevé de décisions may still be signed after its meeting (annex 5 art. 2: within 2 months,
# whatever the funders decided meanwhile).
AFTER_CPL_MEETING = (*CPL_PROCEDURE, "termination_pending", "contracted", "adhesion_requested", "terminated",
                     "expired", "abandoned")

# The lifecycle table: trigger, sources, destination (None = stays), guards. First matching row wins.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "contact_recorded", "source": INITIAL, "dest": "prospect"},
    {"trigger": "first_meeting_held", "source": "prospect", "dest": "accompanied"},
    {"trigger": "loi_submitted", "source": "accompanied", "dest": "loi_submitted"},
    {"trigger": "loi_decision", "source": "loi_submitted", "dest": "accompanied", "conditions": "loi_rejected"},
    {"trigger": "loi_decision", "source": "loi_submitted", "dest": "loi_validated",
     "conditions": "loi_approved_by_both"},
    {"trigger": "loi_decision", "source": "loi_submitted", "dest": None, "conditions": "loi_first_approval"},
    {"trigger": "fir_granted", "source": FIR_STATES, "dest": None, "conditions": "fir_not_yet_granted"},
    {"trigger": "fir_followup_meeting_held", "source": FIR_STATES, "dest": None, "conditions": "fir_was_granted"},
    {"trigger": "fir_renewed", "source": FIR_STATES, "dest": None,
     "conditions": ["fir_was_granted", "fir_renewed_after_last_funding"]},
    {"trigger": "health_project_received", "source": ["loi_validated", "health_project_opposed"],
     "dest": "health_project_submitted"},
    {"trigger": "health_project_opposed", "source": "health_project_submitted", "dest": "health_project_opposed",
     "conditions": "opposition_window_open"},
    {"trigger": "health_project_validated", "source": "health_project_submitted",
     "dest": "health_project_validated", "conditions": "territory_free"},
    {"trigger": "health_project_tacitly_validated", "source": "health_project_submitted",
     "dest": "health_project_validated"},
    {"trigger": "adhesion_requested", "source": ["health_project_validated", "contract_refused"],
     "dest": "adhesion_requested", "conditions": ["dossier_complete", "no_referral_pending"]},
    {"trigger": "contract_refusal_received", "source": "adhesion_requested", "dest": "contract_refused"},
    {"trigger": "contract_signed", "source": "adhesion_requested", "dest": "contracted",
     "conditions": "accord_in_force"},
    {"trigger": "mission_started", "source": IN_CONTRACT, "dest": None, "conditions": "mission_can_start"},
    {"trigger": "mission_deployed", "source": IN_CONTRACT, "dest": None, "conditions": "mission_can_deploy"},
    {"trigger": "annual_review_held", "source": AFTER_SIGNATURE, "dest": None, "conditions": "contract_year_begun"},
    {"trigger": "indicators_reported", "source": AFTER_SIGNATURE, "dest": None,
     "conditions": ["contract_year_begun", "missions_in_contract"]},
    {"trigger": "members_list_updated", "source": IN_CONTRACT, "dest": None},
    {"trigger": "avenant_signed", "source": "contracted", "dest": None, "conditions": "avenant_consistent"},
    # From the validation of the lettre d'intention: the payment it brings under ACI avenant 2.
    {"trigger": "payment_recorded", "source": [*FIR_STATES, *AFTER_SIGNATURE], "dest": None,
     "conditions": "payment_owed"},
    {"trigger": "termination_notice_received", "source": "contracted", "dest": "termination_pending",
     "conditions": "termination_grounds_given"},
    {"trigger": "cpl_referral_received", "source": "termination_pending", "dest": "termination_suspended",
     "conditions": ["referral_subject_termination", "funders_termination", "termination_referral_window_open"]},
    {"trigger": "cpl_referral_received", "source": "contract_refused", "dest": None,
     "conditions": ["referral_subject_refusal", "refusal_referral_window_open"]},
    {"trigger": "cpl_meeting_scheduled", "source": ["termination_suspended", "contract_refused"], "dest": None,
     "conditions": ["referral_pending", "meeting_not_held", "meeting_date_changes"]},
    {"trigger": "cpl_convocations_sent", "source": CPL_PROCEDURE, "dest": None,
     "conditions": ["referral_pending", "meeting_not_held", "meeting_is_scheduled", "before_the_meeting",
                    "not_yet_sent"]},
    {"trigger": "cpl_agenda_sent", "source": CPL_PROCEDURE, "dest": None,
     "conditions": ["referral_pending", "meeting_not_held", "meeting_is_scheduled", "before_the_meeting",
                    "not_yet_sent"]},
    {"trigger": "cpl_carence_recorded", "source": CPL_PROCEDURE, "dest": None,
     "conditions": ["referral_pending", "meeting_not_held"]},
    {"trigger": "cpl_meeting_held", "source": ["termination_suspended", "contract_refused"], "dest": None,
     "conditions": ["referral_pending", "meeting_not_held", "deliberation_valid"]},
    {"trigger": "cpl_opinion_notified", "source": ["termination_suspended", "contract_refused"], "dest": None,
     "conditions": ["referral_pending", "meeting_held_without_opinion", "opinion_fits_the_vote"]},
    {"trigger": "cpl_opinion_deemed", "source": ["termination_suspended", "contract_refused"], "dest": None,
     "conditions": ["referral_pending", "meeting_held_without_opinion"]},
    {"trigger": "funders_decision_notified", "source": "termination_suspended", "dest": "termination_pending",
     "conditions": ["opinion_known", "outcome_maintained"]},
    {"trigger": "funders_decision_notified", "source": "termination_suspended", "dest": "contracted",
     "conditions": ["opinion_known", "outcome_withdrawn"]},
    {"trigger": "funders_decision_notified", "source": "contract_refused", "dest": "adhesion_requested",
     "conditions": ["referral_pending", "opinion_known", "outcome_granted"]},
    {"trigger": "funders_decision_notified", "source": "contract_refused", "dest": None,
     "conditions": ["referral_pending", "opinion_known", "outcome_maintained"]},
    {"trigger": "cpl_minutes_signed", "source": AFTER_CPL_MEETING, "dest": None, "conditions": "minutes_owed"},
    {"trigger": "termination_effective", "source": "termination_pending", "dest": "terminated"},
    {"trigger": "contract_expired", "source": IN_CONTRACT, "dest": "expired"},
    {"trigger": "refund_received", "source": "terminated", "dest": None, "conditions": "payment_owed"},
    {"trigger": "project_abandoned", "source": PRE_CONTRACT, "dest": "abandoned"},
]
EVENTS = tuple(dict.fromkeys(row["trigger"] for row in TRANSITIONS))


@dataclass
class Referral:
    """A CPL referral in progress (ACI art. 12.4)."""

    subject: str
    received: date
    meeting_date: date | None = None
    held_on: date | None = None
    opinion: str | None = None  # favourable / unfavourable / no_agreement / deemed
    decided: bool = False
    convocations_sent_on: date | None = None  # for the meeting of `meeting_date`
    agenda_sent_on: date | None = None  # for the meeting of `meeting_date`
    vote: str | None = None  # the deliberation's outcome: majority / no_agreement (None: not recorded)
    minutes_signed_on: date | None = None
    carence_section: str | None = None  # the section at the origin of a carence (annex 5 art. 4)
    carence_on: date | None = None


@dataclass
class CaseFacts:
    """What the guards need to know, maintained by the projection while it replays the journal."""

    loi_approvals: set[str] = field(default_factory=set)
    fir_granted: bool = False
    fir_granted_on: date | None = None
    fir_renewed_on: date | None = None  # the latest renewal
    documents: tuple[str, ...] = ()
    contract_signed_on: date | None = None
    anniversaries: tuple[date, ...] = ()
    contract_missions: tuple[str, ...] = ()
    # A mission the contract comes under later (an amendment's, SPEC §7.6 reading): the day it applies from.
    mission_from: dict[str, date] = field(default_factory=dict)
    started: dict[str, date] = field(default_factory=dict)
    deployed: dict[str, date] = field(default_factory=dict)
    termination_initiator: str | None = None
    referral: Referral | None = None
    open_windows: dict[str, date] = field(default_factory=dict)  # deadline key → last day of the window
    closed_windows: dict[str, date] = field(default_factory=dict)  # windows that elapsed unused
    overlaps: list[str] | None = None  # set only while checking a new explicit validation
    accord_in_force: bool = True
    required_documents: tuple[str, ...] = ()
    optional_missions: tuple[str, ...] = ()
    cpl_opinion_period: Period | None = None  # the ruleset's `cpl_opinion` period, after which it is deemed
    outstanding: Outstanding | None = None  # set only while a payment or refund is tried: what its line owes
    cpl: CplSettings | None = None  # the ruleset's CPL settings, set while a deliberation is tried


class LifecycleModel:
    """The object a replay drives through the shared machine; guards read `facts` and explain refusals.

    It is not added to the machine: `fire` triggers the machine's `Event` on it, which reads and sets its `state`
    and calls its guards by name, and needs nothing else. `add_model` would only bind some hundred convenience
    methods (one trigger per event, `is_<state>`, `may_<event>`) that nothing calls, for `remove_model` to drop
    them again: 70 µs per replay, more than resuming a checkpoint for one event."""

    state: str

    def __init__(self, facts: CaseFacts, state: str = INITIAL) -> None:
        self.state = state
        self.facts = facts
        self.rejection: str | None = None
        # (deadline key, last day) when the refusal is that this window has closed: callers branch on it.
        self.closed_window: tuple[str, date] | None = None

    # ---- helpers
    def _refuse(self, reason: str, *, closed_window: tuple[str, date] | None = None) -> bool:
        self.rejection, self.closed_window = reason, closed_window
        return False

    @staticmethod
    def _data(event: EventData) -> dict[str, Any]:
        return event.kwargs.get("data", {})

    @staticmethod
    def _at(event: EventData) -> date:
        return event.kwargs["at"]

    def _window_open(self, key: str, event: EventData, what: str) -> bool:
        last_day = self.facts.open_windows.get(key)
        if last_day is None:
            closed = self.facts.closed_windows.get(key)
            if closed is not None:
                return self._refuse(f"{what}: the window closed on {closed.isoformat()}",
                                    closed_window=(key, closed))
            return self._refuse(f"{what}: no such window is open")
        if self._at(event) > last_day:
            return self._refuse(f"{what}: the window closed on {last_day.isoformat()}",
                                closed_window=(key, last_day))
        return True

    # ---- lettre d'intention (I §3)
    def loi_rejected(self, event: EventData) -> bool:
        return self._data(event)["decision"] == "reject"

    def loi_approved_by_both(self, event: EventData) -> bool:
        return self.facts.loi_approvals | {self._data(event)["party"]} >= {"ars", "am"}

    def loi_first_approval(self, event: EventData) -> bool:
        party = self._data(event)["party"]
        if party in self.facts.loi_approvals:
            return self._refuse(f"the {party.upper()} has already approved this lettre d'intention; "
                                f"the other party's decision is awaited")
        return True

    # ---- FIR (I §4-5)
    def fir_was_granted(self, event: EventData) -> bool:
        return self.facts.fir_granted or self._refuse("no FIR funding has been granted yet (record fir_granted first)")

    def fir_not_yet_granted(self, event: EventData) -> bool:
        # I §4: the FIR seed funding is granted once, "sur une base annuelle, reconductible sous conditions":
        # a later year's funding is its renewal, which the fir_renewal deadline follows.
        if self.facts.fir_granted:
            granted = self.facts.fir_granted_on
            on = f" on {granted.isoformat()}" if granted else ""
            return self._refuse(f"the FIR seed funding was already granted{on} (I §4: granted once, on an annual "
                                "basis, then renewed); record fir_renewed instead")
        return True

    def fir_renewed_after_last_funding(self, event: EventData) -> bool:
        renewed, granted = self.facts.fir_renewed_on, self.facts.fir_granted_on
        last, what = (renewed, "renewed") if renewed is not None else (granted, "granted")
        if last is not None and self._at(event) <= last:
            return self._refuse(f"the FIR funding was already {what} on {last.isoformat()}; a renewal of this "
                                "annual funding (I §4) is dated after it")
        return True

    # ---- projet de santé (I §6)
    def opposition_window_open(self, event: EventData) -> bool:
        return self._window_open("health_project_opposition", event, "the ARS can no longer oppose")

    def territory_free(self, event: EventData) -> bool:
        if self.facts.overlaps:
            return self._refuse(
                "explicit validation refused while the territory overlaps another CPTS's health project: "
                + "; ".join(self.facts.overlaps)
                + " (I §6.1: one approved health project per territory; resolve the overlap first)"
            )
        return True

    # ---- adhésion and contract (ACI art. 4)
    def dossier_complete(self, event: EventData) -> bool:
        missing = [d for d in self.facts.required_documents if d not in self._data(event)["documents"]]
        if missing:
            return self._refuse(f"the adhesion dossier is incomplete: missing {', '.join(missing)} "
                                f"(ACI art. 4 requires {', '.join(self.facts.required_documents)})")
        return True

    def no_referral_pending(self, event: EventData) -> bool:
        if self.facts.referral and not self.facts.referral.decided:
            return self._refuse("a CPL referral against the refusal is pending; wait for the funders' new decision")
        return True

    def accord_in_force(self, event: EventData) -> bool:
        return self.facts.accord_in_force or self._refuse("the ACI is not in force on that date")

    def mission_can_start(self, event: EventData) -> bool:
        mission = self._data(event)["mission"]
        if mission not in self.facts.contract_missions:
            return self._refuse(f"mission {mission} is not in the contract "
                                f"(contract missions: {', '.join(self.facts.contract_missions)})")
        if mission in self.facts.started:
            return self._refuse(f"mission {mission} already started on {self.facts.started[mission].isoformat()}")
        applies_from = self.facts.mission_from.get(mission)
        if applies_from is not None and self._at(event) < applies_from:
            return self._refuse(f"mission {mission} applies to this contract from {applies_from.isoformat()} "
                                "(the anniversary at which it comes under the amended accord): record its start "
                                "on or after that day")
        return True

    def mission_can_deploy(self, event: EventData) -> bool:
        mission = self._data(event)["mission"]
        if mission not in self.facts.contract_missions:
            return self._refuse(f"mission {mission} is not in the contract "
                                f"(contract missions: {', '.join(self.facts.contract_missions)})")
        if mission not in self.facts.started:
            return self._refuse(f"mission {mission} has not started yet (record mission_started first)")
        if mission in self.facts.deployed:
            return self._refuse(f"mission {mission} was already deployed on {self.facts.deployed[mission].isoformat()}")
        return True

    def contract_year_begun(self, event: EventData) -> bool:
        year = self._data(event)["year"]
        begins = self.facts.anniversaries[year - 1] if self.facts.anniversaries else None
        if begins is None or self._at(event) < begins:
            when = begins.isoformat() if begins else "the signature"
            return self._refuse(f"contract year {year} has not begun (it begins on {when})")
        return True

    def missions_in_contract(self, event: EventData) -> bool:
        missions = self._data(event)["missions"]
        outside = [m for m in missions if m not in self.facts.contract_missions]
        if outside:
            return self._refuse(f"mission(s) {', '.join(outside)} not in the contract "
                                f"(contract missions: {', '.join(self.facts.contract_missions)})")
        return True

    def avenant_consistent(self, event: EventData) -> bool:
        data = self._data(event)
        already = [m for m in data.get("add_missions", []) if m in self.facts.contract_missions]
        absent = [m for m in data.get("drop_missions", []) if m not in self.facts.contract_missions]
        if already:
            return self._refuse(f"avenant adds mission(s) already in the contract: {', '.join(already)}")
        if absent:
            return self._refuse(f"avenant drops mission(s) not in the contract: {', '.join(absent)}")
        return True

    # ---- payments (ACI art. 9, 11.3; SPEC §7)
    def payment_owed(self, event: EventData) -> bool:
        """A payment settles what its line still owes, in one or more instalments, never more."""
        outstanding = self.facts.outstanding
        if outstanding is None:
            return True
        amount = self._data(event).get("amount")
        refusal = outstanding.refusal(None if amount is None else Decimal(str(amount)))
        return self._refuse(refusal) if refusal else True

    # ---- résiliation and CPL (ACI art. 11, 12.4)
    def termination_grounds_given(self, event: EventData) -> bool:
        data = self._data(event)
        if data["initiator"] == "funders" and "grounds" not in data:
            return self._refuse("a funders' termination needs grounds: non_compliance or ineligible (ACI art. 11.2)")
        if data["initiator"] == "cpts" and "grounds" in data:
            return self._refuse("grounds apply only to a funders' termination; a CPTS terminates without grounds")
        return True

    def referral_subject_termination(self, event: EventData) -> bool:
        if self._data(event)["subject"] != "termination":
            return self._refuse("in termination_pending a CPL referral's subject is termination")
        return True

    def referral_subject_refusal(self, event: EventData) -> bool:
        if self._data(event)["subject"] != "contract_refusal":
            return self._refuse("in contract_refused a CPL referral's subject is contract_refusal")
        if self.facts.referral is not None:
            return self._refuse("the CPL has already been referred this refusal")
        return True

    def funders_termination(self, event: EventData) -> bool:
        if self.facts.termination_initiator != "funders":
            return self._refuse("only a termination decided by the ARS and the CPAM can be referred to the CPL "
                                "(ACI art. 11.2); this one was initiated by the CPTS")
        return True

    def termination_referral_window_open(self, event: EventData) -> bool:
        return self._window_open("termination_cpl_window", event, "referral no longer admissible")

    def refusal_referral_window_open(self, event: EventData) -> bool:
        return self._window_open("contract_refusal_cpl_window", event, "referral no longer admissible")

    def referral_pending(self, event: EventData) -> bool:
        if self.facts.referral is None or self.facts.referral.decided:
            return self._refuse("no CPL referral is pending (record cpl_referral_received first)")
        return True

    def meeting_not_held(self, event: EventData) -> bool:
        held = self.facts.referral.held_on if self.facts.referral else None
        if held is not None:
            return self._refuse(f"the CPL already met on {held.isoformat()}")
        return True

    def meeting_date_changes(self, event: EventData) -> bool:
        scheduled = self.facts.referral.meeting_date if self.facts.referral else None
        if scheduled is not None and scheduled.isoformat() == self._data(event)["date"]:
            return self._refuse(f"the CPL meeting is already scheduled on {scheduled.isoformat()}; record "
                                "cpl_meeting_scheduled again only to move it to another date")
        return True

    def meeting_held_without_opinion(self, event: EventData) -> bool:
        referral = self.facts.referral
        if referral is None or referral.held_on is None:
            return self._refuse("the CPL has not met yet (record cpl_meeting_held first)")
        if referral.opinion is not None:
            return self._refuse(f"the CPL's opinion is already known ({referral.opinion})")
        return True

    # ---- the CPL's procedure (ACI annex 5, règlement intérieur)
    def meeting_is_scheduled(self, event: EventData) -> bool:
        if self.facts.referral is None or self.facts.referral.meeting_date is None:
            return self._refuse("no CPL meeting is scheduled (record cpl_meeting_scheduled first)")
        return True

    def before_the_meeting(self, event: EventData) -> bool:
        meeting = self.facts.referral.meeting_date if self.facts.referral else None
        if meeting is not None and self._at(event) >= meeting:
            return self._refuse(f"{event.event.name} must be dated before the CPL meeting of {meeting.isoformat()} "
                                "(annex 5 art. 1.2)")
        return True

    def not_yet_sent(self, event: EventData) -> bool:
        referral = self.facts.referral
        if referral is None:
            return True
        name = event.event.name
        sent = referral.convocations_sent_on if name == "cpl_convocations_sent" else referral.agenda_sent_on
        if sent is not None and referral.meeting_date is not None:
            return self._refuse(f"{name} was already recorded on {sent.isoformat()} for the meeting of "
                                f"{referral.meeting_date.isoformat()}; record it again only for a meeting moved "
                                "to another date")
        return True

    def _carence_in_effect(self, at: date) -> str | None:
        """The section at the origin of a carence whose month has passed unremedied (annex 5 art. 4): the other
        section then exercises the commission's attributions alone."""
        referral = self.facts.referral
        closed = self.facts.closed_windows.get("cpl_carence_window")
        if referral is None or referral.carence_section is None or referral.carence_on is None or closed is None:
            return None
        return referral.carence_section if referral.carence_on <= closed < at else None

    def deliberation_valid(self, event: EventData) -> bool:
        """Annex 5 art. 2: quorum (at least half of each section's members present or represented), parity
        (equal numbers in both sections), at most 3 delegations of vote per member."""
        data, cpl = self._data(event), self.facts.cpl
        if "present" not in data or cpl is None:
            return True  # a meeting recorded without its deliberation
        represented = data.get("represented", dict.fromkeys(CPL_SECTIONS, 0))
        counts = {s: data["present"][s] + represented[s] for s in CPL_SECTIONS}
        for section in CPL_SECTIONS:
            if counts[section] > cpl.members[section]:
                return self._refuse(f"{counts[section]} {section} members present or represented, but the {section} "
                                    f"section has {cpl.members[section]} members ({cpl.members_source})")
        for proxy in data.get("proxies", []):
            if proxy["count"] > cpl.max_proxies_per_member:
                return self._refuse(f"{proxy['holder']} holds {proxy['count']} proxies: no member holds more than "
                                    f"{cpl.max_proxies_per_member} ({cpl.source})")
        carence = self._carence_in_effect(self._at(event))
        acting = [s for s in CPL_SECTIONS if s != carence]
        problems = [f"no quorum in the {s} section ({counts[s]} present or represented, at least "
                    f"{cpl.quorum_of(s)} of {cpl.members[s]} needed)"
                    for s in acting if counts[s] < cpl.quorum_of(s)]
        professional, social = (counts[s] for s in CPL_SECTIONS)
        if carence is None and professional != social:
            problems.append(f"no parity ({professional} professional and {social} social members present or "
                            "represented: equal numbers needed)")
        if problems:
            return self._refuse(f"the CPL cannot deliberate: {'; '.join(problems)} ({cpl.source})")
        return True

    def opinion_fits_the_vote(self, event: EventData) -> bool:
        vote = self.facts.referral.vote if self.facts.referral else None
        opinion = self._data(event)["opinion"]
        if vote == "no_agreement" and opinion != "no_agreement":
            return self._refuse("the CPL's vote stayed tied after the second vote: its opinion is no_agreement "
                                "(annex 5 art. 2)")
        if vote == "majority" and opinion == "no_agreement":
            return self._refuse("the CPL's vote reached a majority: no_agreement follows only a tie kept after the "
                                "second vote (annex 5 art. 2)")
        return True

    def minutes_owed(self, event: EventData) -> bool:
        referral = self.facts.referral
        if referral is None or referral.held_on is None:
            return self._refuse("the CPL has not met yet (record cpl_meeting_held first)")
        if referral.minutes_signed_on is not None:
            return self._refuse(f"the minutes of the CPL meeting of {referral.held_on.isoformat()} were already "
                                f"signed on {referral.minutes_signed_on.isoformat()}")
        return True

    def opinion_known(self, event: EventData) -> bool:
        referral = self.facts.referral
        if referral is None or referral.opinion is None:
            period = self.facts.cpl_opinion_period
            deemed = f"deemed {period.describe()} after the meeting" if period else "deemed when its period elapses"
            return self._refuse("the funders' new decision comes after the CPL's opinion "
                                f"(notified, or {deemed}; ACI art. 12.4.2)")
        return True

    def _outcome(self, event: EventData, wanted: str, allowed: str) -> bool:
        outcome = self._data(event)["outcome"]
        if outcome == wanted:
            return True
        return self._refuse(f"outcome {outcome!r} does not fit this referral: expected {allowed}")

    def outcome_maintained(self, event: EventData) -> bool:
        allowed = "maintained or withdrawn" if self.state == "termination_suspended" else "granted or maintained"
        return self._outcome(event, "maintained", allowed)

    def outcome_withdrawn(self, event: EventData) -> bool:
        return self._outcome(event, "withdrawn", "maintained or withdrawn")

    def outcome_granted(self, event: EventData) -> bool:
        return self._outcome(event, "granted", "granted or maintained")


MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=TRANSITIONS,
    initial=INITIAL,
    send_event=True,
    auto_transitions=False,
    ignore_invalid_triggers=False,
    model_override=False,
)


def fire(model: LifecycleModel, event: str, at: date, data: dict[str, Any]) -> tuple[str, str]:
    """Drive `model` through `event`; return (from, to) or raise TransitionRejected saying why and what fits.

    A refusal because a window has closed is a `WindowClosed`, which names the window and its last day.
    """
    source = model.state
    model.rejection, model.closed_window = None, None
    try:
        accepted = MACHINE.events[event].trigger(model, at=at, data=data)
    except MachineError:
        raise TransitionRejected(
            f"{event} is not allowed in state {source}: allowed in {', '.join(allowed_states(event))}"
        ) from None
    if not accepted:
        message = f"{event} rejected in state {source}: {model.rejection or 'its conditions are not met'}"
        if model.closed_window is not None:
            window, closed_on = model.closed_window
            raise WindowClosed(message, window=window, closed_on=closed_on)
        raise TransitionRejected(message)
    return source, model.state


def restore(model: LifecycleModel, state: str) -> None:
    """Put `model` back in `state`: an event the machine accepted but the replay then refused changes nothing."""
    MACHINE.set_state(state, model=model)


def allowed_states(event: str) -> list[str]:
    """States in which `event` may be recorded."""
    sources: list[str] = []
    for row in TRANSITIONS:
        if row["trigger"] == event:
            for s in [row["source"]] if isinstance(row["source"], str) else row["source"]:
                if s not in sources:
                    sources.append(s)
    return sources


def diagram(fmt: str = "mermaid") -> str:
    """The lifecycle graph as Mermaid or Graphviz dot text (for the docs and the dashboard)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for row in TRANSITIONS:
        sources = [row["source"]] if isinstance(row["source"], str) else list(row["source"])
        for source in sources:
            dest = row["dest"] or source
            labels = edges.setdefault((source, dest), [])
            if row["trigger"] not in labels:
                labels.append(row["trigger"])
    if fmt == "mermaid":
        lines = ["stateDiagram-v2", f"    [*] --> {INITIAL}"]
        lines += [f"    {s} --> {d}: {', '.join(t)}" for (s, d), t in edges.items() if s != d]
        lines += [f"    {s} --> [*]" for s in FINAL]
        return "\n".join(lines) + "\n"
    if fmt == "dot":
        lines = ["digraph cpts_lifecycle {", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
        lines += [f"    {s} [peripheries=2];" for s in FINAL]
        lines += [f'    {s} -> {d} [label="{", ".join(t)}"];' for (s, d), t in edges.items() if s != d]
        lines.append("}")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown diagram format {fmt!r}: expected mermaid or dot")
