"""SQLModel tables: the case, its append-only journal, and the projections refreshed from it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Case(SQLModel, table=True):
    """One CPTS followed by a binôme. `state` and `version` are refreshed by every apply."""

    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    seat_departement: str = Field(index=True)
    region: str = Field(index=True)
    communes: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # JSON list
    declared_population: int | None = None
    population: int
    size: int
    ruleset_id: str
    state: str = Field(index=True)
    version: int = 0
    wake_on: date | None = Field(default=None, index=True)  # first local day the sweep has work here
    journal_head: str = Field(default="0" * 64)  # hash of the last journal row: detects a truncated journal
    overlaps: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # JSON list
    created_at: datetime
    updated_at: datetime


class JournalRow(SQLModel, table=True):
    """An event as recorded: never updated, never deleted; each row carries the previous row's hash."""

    __tablename__ = "journal"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_journal_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    seq: int
    type: str
    at: date
    recorded_at: datetime
    actor: str
    data: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON
    evidence: str | None = None
    prev_hash: str
    hash: str


class DeadlineRow(SQLModel, table=True):
    """A deadline as of the last refresh; the sweep reads pending rows by due date."""

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("case_id", "ident", name="uq_deadline_case_ident"),
        Index("ix_deadlines_status_due", "status", "due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    ident: str
    key: str
    label: str
    due: date
    status: str
    kind: str
    met_on: date | None = None
    at_expiry: str
    recipients: str = Field(default="[]")  # JSON list of roles besides the binôme
    explanation: str = Field(sa_column=Column(Text, nullable=False))  # JSON of DateExplanation + note
