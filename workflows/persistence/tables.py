"""SQLModel tables: the case, its append-only journal, and the projections refreshed from it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Column, Index, Integer, Numeric, Text, UniqueConstraint, text
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel

Row = TypeVar("Row", bound=SQLModel)


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
    ars_referent_id: int | None = Field(default=None, foreign_key="users.id")
    cpam_referent_id: int | None = Field(default=None, foreign_key="users.id")
    cpts_contact_name: str | None = None
    cpts_contact_email: str | None = None
    created_at: datetime
    updated_at: datetime


class CaseCommune(SQLModel, table=True):
    """A commune of a case's territory, one row each: what the overlap check looks up by commune.

    A copy of `cases.communes` (the truth), written with the case; a case's communes never change after it is
    created. The index on (commune, case_id) answers "which cases claim one of these communes" without a scan.
    """

    __tablename__ = "case_communes"
    __table_args__ = (Index("ix_case_communes_commune", "commune", "case_id"),)

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    commune: str = Field(primary_key=True)


class JournalRow(SQLModel, table=True):
    """An event as recorded: never updated, never deleted; each row carries the previous row's hash."""

    __tablename__ = "journal"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_journal_case_seq"),
        UniqueConstraint("case_id", "idempotency_key", name="uq_journal_case_idempotency"),
    )

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
    key_id: str = Field(default="", sa_column_kwargs={"server_default": ""})  # HMAC key of `hash` ('' = unkeyed)
    idempotency_key: str | None = None  # the caller's key for this write: a retry returns this row


class DeadlineRow(SQLModel, table=True):
    """A deadline as of the last refresh; the sweep reads pending rows by due date."""

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("case_id", "ident", name="uq_deadline_case_ident"),
        # By status and due date (the sweep, `deadlines_due`), covering the columns a "due soon" list shows.
        Index("ix_deadlines_status_due", "status", "due", "case_id", "key", "ident", "kind", "recipients", "label"),
        # PostgreSQL also has ix_deadlines_open (due, case_id, key, status, at_expiry) WHERE status IN ('pending',
        # 'breached'), for *À traiter* (migration 0009; SQLite plans that page better on ix_deadlines_status_due).
        # A case's rows of one key (e.g. its socle missions' deployment: "missions déployées"), by status.
        Index("ix_deadlines_case_key_status", "case_id", "key", "status"),
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
    # The ruleset row of the deadline's period ("ACI-2019+A2 deadlines.mission_start.crisis"), and, when that
    # row (or the transition that anchors it) is not checked against the signed text, its source: "à confirmer".
    origin: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    to_confirm: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PaymentRow(SQLModel, table=True):
    """A line of the contract's échéancier as of the last refresh (SPEC §7); `forecast` sums these."""

    __tablename__ = "payments"
    # By due date, covering what `forecast` sums: a year's lines are read from the index alone.
    __table_args__ = (Index("ix_payments_due_forecast", "due", "status", "component", "case_id", "amount", "ceiling",
                            "paid"),
                      # The lines computed from unverified ruleset rows only (Financements' "dont à confirmer").
                      Index("ix_payments_to_confirm", "due", "status", "component", "case_id", "amount", "ceiling",
                            "to_confirm", sqlite_where=text("to_confirm IS NOT NULL"),
                            postgresql_where=text("to_confirm IS NOT NULL")))

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    component: str
    mission: str | None = None
    year: int
    due: date
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    ceiling: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2), nullable=True))
    paid: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(14, 2), nullable=False, server_default="0"))
    status: str
    explanation: str = Field(sa_column=Column(Text, nullable=False))
    # The ruleset row whose amounts produced the line ("ACI-2019 amounts.missions.access"), and, when that row
    # was not checked against the signed text, its source: the amount is then shown "à confirmer".
    origin: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    to_confirm: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class User(SQLModel, table=True):
    """An ARS or CPAM agent, legal staff, national staff or administrator, with the territory they act for."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str = Field(unique=True, index=True)
    role: str
    # JSON list of typed codes: "reg:44" (a région), "dep:57" (a département), or ["national"] (every CPTS).
    # Never a bare code: a région and a département may share a number (région 44 Grand Est, Loire-Atlantique 44).
    scope: str = Field(default="[]")
    created_at: datetime
    # Web sign-in (`cpts user set-password`): an argon2 hash, never the password; None: cannot sign in.
    password_hash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    failed_sign_ins: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    locked_until: datetime | None = None  # UTC; after repeated failed sign-ins, none until then


class OutboxRow(SQLModel, table=True):
    """A notification written in the same transaction as the sweep that caused it; drained over SMTP."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    unique_key: str = Field(unique=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str  # reminder | breach | digest
    deadline_key: str | None = None
    due: date | None = None
    offset_days: int | None = None
    send_on: date
    roles: str = Field(default="[]")  # JSON list of roles addressed (binôme, cpts, legal)
    recipients: str = Field(default="[]")  # JSON list of {name, email, role}
    subject: str
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    # JSON of what a reminder or breach notice is made of: rendered again when sent, so that its countdown is
    # the one of the day it goes (None for digests and rows written before; their bodies are sent as stored).
    notice: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str
    status: str = "pending"  # pending | sending | sent | dead | unaddressed
    attempts: int = 0
    next_attempt_at: datetime
    claimed_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


def loaded(model: type[Row], values: dict[str, Any]) -> Row:
    """A row of `model` made as a query loads one: every column set from `values` (all of them), nothing
    pending to flush, detached. A fraction of the cost of `model(**values)`, which routes each value through
    pydantic's and SQLAlchemy's attribute events — on the write path of every event, for the journal row it
    appends and the case row it caches."""
    columns = _COLUMNS.get(model)
    if columns is None:
        configure_mappers()  # once per process: an in-memory unit of work may never have queried
        columns = _COLUMNS[model] = tuple(column.key for column in model.__table__.columns)  # type: ignore[attr-defined]
    row = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    # As SQLAlchemy's loader fills a new instance (sqlalchemy.orm.loading): straight into its dict, which
    # `set_committed_value` would also do, column by column, on a state with nothing to commit.
    row.__dict__.update({key: values[key] for key in columns})
    return row


_COLUMNS: dict[type, tuple[str, ...]] = {}  # model → its column keys (`loaded`)
