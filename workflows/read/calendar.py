"""Read model of a referent's calendar: the pending deadlines of the cases they follow, as calendar items."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from notifications.explain import explain_fr
from notifications.ics import CalendarItem
from workflows.persistence.tables import DeadlineRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.people import followed_case_ids
from workflows.services.cases import project_case, ruleset_for
from workflows.services.clock import local_today
from workflows.services.people import get_user


def calendar_items(uow: SqlUnitOfWork, *, now: datetime, referent: str | None = None) -> list[CalendarItem]:
    """Pending deadlines of the cases `referent` follows (every case without one), with their reminders."""
    legal_only = False
    case_ids: list[int] | None = None
    if referent is not None:
        user = get_user(uow, referent)
        case_ids = followed_case_ids(uow, user)
        legal_only = user.role == "legal"
    items: list[CalendarItem] = []
    with uow:
        query = select(DeadlineRow.case_id).where(DeadlineRow.status == "pending").distinct()
        if case_ids is not None:
            query = query.where(col(DeadlineRow.case_id).in_(case_ids))
        for case_id in sorted(uow.session.exec(query)):
            case = uow.cases.get(case_id)
            rules = ruleset_for(case)
            # The projection is the truth (and explain_fr needs its deadlines): rebuilt as of the seat's today.
            projection = project_case(case, uow.journal.rows(case.id), local_today(case, now))
            for deadline in projection.deadlines:
                if deadline.status != "pending" or (legal_only and "legal" not in deadline.recipients):
                    continue
                items.append(CalendarItem(
                    case_id=str(case.id), case_name=case.name, anchor_key=deadline.ident, label=deadline.label,
                    due=deadline.due, explanation=explain_fr(deadline), offsets=rules.reminder_offsets,
                    to_confirm=None if deadline.verified else deadline.source,
                    # The case's version only grows: a re-import updates the events of a case that changed.
                    sequence=case.version,
                ))
    return items
