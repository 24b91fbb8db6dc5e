"""Signing the journals again with the current key (`cpts db rekey`): key rotation, and journals written
before keys or genesis entries existed.

Each case's chain is checked first with every accepted key (the current one and those retired in the
settings); a case whose chain fails is left as it is and reported — signing it would launder the tampering.
A journal older than genesis entries has no signed identity: its identity as stored is adopted and signed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from workflows.persistence.journal import chain_problems, resign
from workflows.persistence.tables import Case, JournalRow
from workflows.persistence.unit_of_work import SqlUnitOfWork


@dataclass(frozen=True)
class RekeyReport:
    """Cases signed again, and those left alone with the first finding of their check."""

    signed: int
    refused: tuple[tuple[int, str], ...]
    key_id: str


def rekey(uow: SqlUnitOfWork) -> RekeyReport:
    """Sign every case's journal again with the current key, one case per transaction."""
    with uow:
        ids = list(uow.session.exec(select(Case.id).order_by(Case.id)))
    signed = 0
    refused: list[tuple[int, str]] = []
    for case_id in ids:
        with uow:
            case = uow.cases.get(case_id)
            rows = uow.journal.rows(case.id)
            problems = chain_problems(case, rows, uow.keys, strict=False)
            if problems:
                refused.append((case.id, problems[0]))
                continue
            head, chain = resign(case, rows, uow.keys)
            for row_id, prev_hash, digest in chain:
                uow.session.execute(update(JournalRow).where(col(JournalRow.id) == row_id)
                                    .values(prev_hash=prev_hash, hash=digest, key_id=uow.keys.current_id))
            uow.cases.update(case.id, {"journal_head": head})
            uow.commit()
            signed += 1
    return RekeyReport(signed, tuple(refused), uow.keys.current_id)
