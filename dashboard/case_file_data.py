"""What the court-ready case file prints (`documents.case_file.CaseFileData`), gathered once for the web
(`/cpts/{id}/dossier.pdf`) and the command line (`cpts case file CASE --pdf`), in the pages' French.

Read from the read models, never by replaying the journal: the case page's sheet (`case_sheet`: identity,
deadlines with the reason of each date), the journal's rows with their hashes, the case's notifications
(`case_notices`) and the hash chain recomputed (`chain_status`, what `cpts case verify` does). These are read in
separate transactions: if a write lands between them (the case's version or the journal's length differ), the
whole set is read again, so that the rows printed are the rows verified and the head is theirs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from dashboard import labels
from dashboard.explain import explanation_lines
from dashboard.routes.events import summarise
from documents.case_file import (
    CaseFileData,
    CaseIdentity,
    ChainProof,
    DeadlineRecord,
    JournalRecord,
    NoticeRecord,
    Referent,
)
from lifecycle.events import SYSTEM_EVENTS
from workflows.persistence.tables import Case, JournalRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.case_page import CaseSheet, ChainStatus, DeadlineLine, case_sheet, chain_status
from workflows.read.outbox_page import OutboxLine, case_notices
from workflows.services.clock import local_today

READ_ATTEMPTS = 3  # a case written to three times while its file is read: print the last reading


def case_file_data(uow: SqlUnitOfWork, case: Case, *, now: datetime) -> CaseFileData:
    """The case file of `case` (found by the caller, who checked the user may see it), drawn up at `now`."""
    today = local_today(case, now)
    for _ in range(READ_ATTEMPTS):
        sheet = case_sheet(uow, case, today=today)
        chain = chain_status(uow, case.id)
        with uow:
            stored = uow.cases.get(case.id)
            rows = uow.journal.rows(case.id)
            current_key = uow.keys.current_id
        if stored.version == sheet.version and chain.rows == len(rows):
            break
    notices = case_notices(uow, case.id)
    return CaseFileData(
        identity=_identity(sheet),
        as_of=today,
        journal=_journal(rows),
        deadlines=tuple(_deadline(d) for d in sheet.deadlines),
        notices=_notices(notices),
        chain=_proof(chain, rows, head=stored.journal_head, key_id=current_key, at=now),
        drawn_up_at=now,
    )


def _identity(sheet: CaseSheet) -> CaseIdentity:
    return CaseIdentity(
        number=sheet.id, name=sheet.name, state=labels.STATE_LABELS.get(sheet.state, sheet.state),
        seat=f"{sheet.departement_name} ({sheet.seat_departement})", region=f"{sheet.region_name} ({sheet.region})",
        cpl=sheet.cpl, communes=tuple((c.code, c.name) for c in sheet.communes),
        population=sheet.population, size=sheet.size, ruleset=f"{sheet.ruleset_title} ({sheet.ruleset_id})",
        ars=Referent(sheet.ars.name, sheet.ars.email) if sheet.ars else None,
        cpam=Referent(sheet.cpam.name, sheet.cpam.email) if sheet.cpam else None,
        contact_name=sheet.contact_name, contact_email=sheet.contact_email,
        contract_signed_on=sheet.contract_signed_on,
    )


def _journal(rows: Sequence[JournalRow]) -> tuple[JournalRecord, ...]:
    voided: dict[int, int] = {}
    for row in rows:
        target = json.loads(row.data).get("seq") if row.type == "event_voided" else None
        if isinstance(target, int):
            voided[target] = row.seq
    records = []
    for row in rows:
        data = json.loads(row.data)
        records.append(JournalRecord(
            seq=row.seq, at=row.at, type=row.type, label=labels.EVENT_LABELS.get(row.type, row.type),
            details=tuple(summarise(row.type, data)), actor=row.actor, evidence=row.evidence,
            recorded_at=row.recorded_at, voided_by=voided.get(row.seq),
            automatic=row.type in SYSTEM_EVENTS, key_id=row.key_id or "", prev_hash=row.prev_hash,
            hash=row.hash,
        ))
    return tuple(records)


def _deadline(line: DeadlineLine) -> DeadlineRecord:
    return DeadlineRecord(
        label=line.label, due=line.due, kind=labels.KIND_LABELS.get(line.kind, line.kind),
        status=labels.STATUS_LABELS.get(line.status, line.status), met_on=line.met_on,
        actor=labels.ACTOR_LABELS.get(line.actor, line.actor),
        explanation=tuple(explanation_lines(line.reason, status=line.status, expiry_event=line.expiry_event)),
    )


def _notices(lines: Sequence[OutboxLine]) -> tuple[NoticeRecord, ...]:
    """Sent ones first, in the order they were sent; then the others by the day they are due to go."""
    def was_sent(line: OutboxLine) -> bool:
        return line.status == "sent" and line.sent_at is not None

    sent = sorted((n for n in lines if was_sent(n)), key=lambda n: (n.sent_at, n.id))
    waiting = sorted((n for n in lines if not was_sent(n)), key=lambda n: (n.send_on, n.id))
    return tuple(NoticeRecord(
        sent=was_sent(n), status=labels.OUTBOX_STATUS_LABELS.get(n.status, n.status),
        kind=labels.OUTBOX_KIND_LABELS.get(n.kind, n.kind), deadline=n.deadline_label or n.deadline_key,
        due=n.due, send_on=n.send_on, sent_at=n.sent_at,
        recipients=tuple(f"{r.name} <{r.email}>" if r.name else r.email for r in n.recipients),
        message_id=n.message_id,
    ) for n in [*sent, *waiting])


def _proof(chain: ChainStatus, rows: Sequence[JournalRow], *, head: str, key_id: str, at: datetime) -> ChainProof:
    return ChainProof(intact=chain.intact, findings=chain.findings, keyed=chain.keyed, key_id=key_id,
                      genesis=rows[0].prev_hash if rows else head, head=head, rows=chain.rows, verified_at=at)
