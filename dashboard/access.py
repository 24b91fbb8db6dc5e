"""Who sees which case and who records which event (SPEC §2), for every page, fragment, export and form.

- An ARS agent sees the cases of their région(s), a CPAM agent and legal staff those of their département(s)
  (legal staff may also hold whole régions), national staff and administrators every case.
- A case outside one's scope is `NotFound`, exactly like a case that does not exist: the page answers 404
  and says nothing of the case.
- Only the case's binôme (its ARS and CPAM referents) or an administrator records lifecycle events; legal
  staff record the CPL and termination events of the cases in their scope; national staff only read.
"""

from __future__ import annotations

from dashboard.security import NotFound
from lifecycle.events import EVENT_SPECS, SYSTEM_EVENTS
from workflows.persistence.tables import Case, User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.people import Scope, scope_of

# What legal staff record: the termination and the CPL procedure (ACI art. 11, 12.4).
LEGAL_EVENTS = frozenset({
    "termination_notice_received", "contract_refusal_received", "cpl_referral_received", "cpl_meeting_scheduled",
    "cpl_meeting_held", "cpl_opinion_notified", "funders_decision_notified", "cpl_convocations_sent",
    "cpl_agenda_sent", "cpl_minutes_signed", "cpl_carence_recorded",
})
# Events a person records (the engine's timers record the others).
RECORDABLE_EVENTS = tuple(name for name in EVENT_SPECS if name not in SYSTEM_EVENTS)


def user_scope(user: User) -> Scope:
    return scope_of(user)


def sees(user: User, case: Case) -> bool:
    return user_scope(user).covers(case.seat_departement, case.region)


def visible_case(uow: SqlUnitOfWork, user: User, case_id: int | str) -> Case:
    """The case, if the user's scope takes it in; NotFound otherwise (and when there is no such case)."""
    try:
        number = int(case_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 1 <= number < 2**31:
        raise NotFound()
    with uow:
        case = uow.cases.find(number)
    if case is None or not sees(user, case):
        raise NotFound()
    return case


def is_binome(user: User, case: Case) -> bool:
    return user.id is not None and user.id in (case.ars_referent_id, case.cpam_referent_id)


def may_record(user: User, case: Case, event_type: str) -> bool:
    """Whether the user may record `event_type` on `case` (its scope already checked by `visible_case`)."""
    if event_type not in EVENT_SPECS or event_type in SYSTEM_EVENTS:
        return False
    if user.role == "admin":
        return True
    if user.role == "legal":
        return event_type in LEGAL_EVENTS and sees(user, case)
    if user.role in ("ars", "cpam"):
        return is_binome(user, case)
    return False


def may_record_any(user: User, case: Case) -> bool:
    return user.role == "admin" or is_binome(user, case) or (user.role == "legal" and sees(user, case))


def may_assign(user: User, case: Case) -> bool:
    """Referents and the CPTS contact are set by an administrator or the case's binôme."""
    return user.role == "admin" or is_binome(user, case)
