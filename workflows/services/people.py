"""Users and referents (SPEC §2): who follows which CPTS, and for which territory they act.

`add_user` registers an ARS or CPAM agent, a legal officer, national staff or an administrator with their
scope (région codes for ARS agents, département codes for CPAM agents and legal staff, nothing for national
staff and administrators). `assign` gives a case its binôme (an ARS referent whose scope covers the case's
région, a CPAM referent whose scope covers its seat département) and its contact person on the CPTS side.

Assigning people is not a lifecycle event: it writes the case's referent columns only, neither the journal
nor the version, so it never conflicts with an event being recorded. Notifications already in the outbox
keep the recipients they were written with; those written `unaddressed` (nobody assigned yet) are sent once
re-queued with `cpts outbox retry ID`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from lifecycle import territory
from lifecycle.errors import DomainError
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.tables import Case, User
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.clock import utc_now

ROLES = ("ars", "cpam", "legal", "national", "admin")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_SCOPE_SEPARATORS = re.compile(r"[\s,;]+")


class PeopleError(DomainError):
    """A user or an assignment the engine refuses; the message says what would be accepted."""


class UnknownUser(PeopleError):
    def __init__(self, email: str) -> None:
        super().__init__(f"no user with e-mail {email!r}: add them first with `cpts user add` "
                         "(see `cpts user list`)")


@dataclass(frozen=True)
class Assignment:
    """A case's people after `assign`, and how many of its notifications are waiting for an addressee."""

    case_id: int
    case_name: str
    ars: str | None
    cpam: str | None
    contact_name: str | None
    contact_email: str | None
    unaddressed: tuple[int, ...]


# ------------------------------------------------------------------------------------------- validation
def normalise_email(email: str, what: str = "e-mail") -> str:
    text = (email or "").strip()
    if not _EMAIL.match(text):
        raise PeopleError(f"{what} {email!r} is not an e-mail address: expected e.g. anne.martin@ars.sante.fr")
    return text


def split_scope(values: Iterable[str] | str | None) -> list[str]:
    """`["57,54", "88"]` or `"57 54"` → `["57", "54", "88"]` (blanks dropped)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [code for value in values for code in _SCOPE_SEPARATORS.split(value.strip()) if code]


@cache
def _region_codes() -> dict[str, str]:
    """Régions that have an ARS under the accord, by code."""
    return {region.code: region.name for region in territory.seat_regions()}


def _region(code: str) -> str:
    text = code.strip().upper()
    if text.isdigit() and len(text) == 1:
        text = "0" + text
    known = _region_codes()
    if text not in known:
        listed = ", ".join(f"{c} {n}" for c, n in sorted(known.items()))
        raise PeopleError(f"unknown région code {code!r} for an ARS scope: expected one of {listed}")
    return text


def normalise_scope(role: str, scope: Iterable[str] | str | None) -> list[str]:
    """Check the scope against the role (SPEC §2); return the codes as INSEE writes them, without repeats."""
    codes = split_scope(scope)
    if role in ("national", "admin"):
        if codes:
            raise PeopleError(f"a {role} user acts for every CPTS: drop --scope ({', '.join(codes)})")
        return []
    if role == "ars":
        checked = [_region(c) for c in codes]
        if not checked:
            raise PeopleError("an ARS agent acts for one or more régions: give --scope with région codes, "
                              "e.g. --scope 44 (Grand Est)")
    else:
        checked = [territory.departement(c).code for c in codes]
        if not checked and role == "cpam":
            raise PeopleError("a CPAM agent acts for one or more départements: give --scope with département "
                              "codes, e.g. --scope 57")
    return list(dict.fromkeys(checked))


def check_role(role: str) -> str:
    text = (role or "").strip().lower()
    if text not in ROLES:
        raise PeopleError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return text


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
            "scope": json.loads(user.scope)}


# ------------------------------------------------------------------------------------------- use cases
def add_user(uow: UnitOfWork, name: str, email: str, role: str, scope: Iterable[str] | str | None = (),
             *, now: datetime | None = None) -> User:
    """Register a user; a second user with the same e-mail (whatever its case) is refused."""
    name = (name or "").strip()
    if not name:
        raise PeopleError("a user needs a name, e.g. --name \"Anne Martin\"")
    role = check_role(role)
    email = normalise_email(email)
    codes = normalise_scope(role, scope)
    user = User(name=name, email=email, role=role, scope=json.dumps(codes), created_at=now or utc_now())
    try:
        with uow:
            existing = uow.users.find(email)
            if existing is not None:
                raise PeopleError(f"a user with e-mail {existing.email} already exists ({existing.name}, "
                                  f"{existing.role}); e-mail addresses identify users")
            user = uow.users.add(user)
            uow.commit()
    except DuplicateKey:  # the same address added concurrently: the unique index decided
        raise PeopleError(f"a user with e-mail {email} already exists; e-mail addresses identify users") from None
    return user


def get_user(uow: UnitOfWork, email: str) -> User:
    with uow:
        user = uow.users.find(email)
        if user is None:
            raise UnknownUser(email)
        return user


def covers(user: User, case: Case) -> bool:
    """Whether the user's scope takes in the case (national staff and administrators: every case)."""
    scope = json.loads(user.scope)
    if user.role in ("national", "admin"):
        return True
    if user.role == "ars":
        return case.region in scope
    if user.role == "legal" and not scope:
        return True  # legal staff registered without a scope follow every CPTS
    return case.seat_departement in scope


def _referent(uow: UnitOfWork, email: str, role: str, case: Case) -> User:
    user = uow.users.find(normalise_email(email, f"--{role}"))
    if user is None:
        raise UnknownUser(email)
    title = "ARS" if role == "ars" else "CPAM"
    if user.role != role:
        raise PeopleError(f"{user.email} is {_article(user.role)} {user.role} user, not {_article(role)} {title} "
                          f"agent: the {title} referent of a CPTS must have role {role}")
    if not covers(user, case):
        scope = ", ".join(json.loads(user.scope)) or "none"
        if role == "ars":
            where = f"région {case.region} ({territory.region_of(case.seat_departement).name})"
        else:
            where = f"département {case.seat_departement} ({territory.departement(case.seat_departement).name})"
        raise PeopleError(f"{user.email} cannot be the {title} referent of case {case.id} {case.name!r}: it is "
                          f"seated in {where}, outside their scope ({scope})")
    return user


def assign(uow: UnitOfWork, case_id: int | str, ars_email: str | None = None, cpam_email: str | None = None,
           contact_name: str | None = None, contact_email: str | None = None,
           *, now: datetime | None = None) -> Assignment:
    """Set the case's ARS and CPAM referents and CPTS contact (only those given); everything checked first."""
    if all(v is None for v in (ars_email, cpam_email, contact_name, contact_email)):
        raise PeopleError("nothing to assign: give --ars EMAIL, --cpam EMAIL, --contact-name or --contact-email")
    with uow:
        case = uow.cases.get(case_id)
        values: dict[str, Any] = {}
        if ars_email is not None:
            values["ars_referent_id"] = _referent(uow, ars_email, "ars", case).id
        if cpam_email is not None:
            values["cpam_referent_id"] = _referent(uow, cpam_email, "cpam", case).id
        if contact_name is not None:
            values["cpts_contact_name"] = contact_name.strip() or None
        if contact_email is not None:
            values["cpts_contact_email"] = normalise_email(contact_email, "--contact-email")
        # Not a lifecycle event: neither the journal nor the version moves (an `apply` in flight is unaffected).
        uow.cases.update(case.id, {**values, "updated_at": now or utc_now()})
        case = uow.cases.get(case.id)
        ars = uow.users.get(case.ars_referent_id) if case.ars_referent_id else None
        cpam = uow.users.get(case.cpam_referent_id) if case.cpam_referent_id else None
        unaddressed = uow.outbox.unaddressed_ids(case.id)
        uow.commit()
        return Assignment(case.id, case.name, ars.email if ars else None, cpam.email if cpam else None,
                          case.cpts_contact_name, case.cpts_contact_email, tuple(unaddressed))
