"""Users and referents (SPEC §2): who follows which CPTS, and for which territory they act.

`add_user` registers an ARS or CPAM agent, a legal officer, national staff or an administrator with their
scope, and `edit_user` corrects one. A scope is typed, so that a région and a département sharing a number are
never compared (région 44 is Grand Est, département 44 Loire-Atlantique): an ARS agent acts for régions
("reg:44"), a CPAM agent for départements ("dep:57"), legal staff for départements or whole régions, national
staff and administrators for every CPTS ("national"). `assign` gives a case its binôme (an ARS referent whose
scope covers the case's région, a CPAM referent whose scope covers its seat département) and its contact person
on the CPTS side.

Names and addresses are checked when entered: names on one line (no control characters) of at most 200
characters, ASCII e-mail addresses of at most 254 (see `notifications.addresses`); the drain checks them again.

Assigning people is not a lifecycle event: it writes the case's referent columns only, neither the journal
nor the version, so it never conflicts with an event being recorded. Notifications already in the outbox
keep the recipients they were written with; `cpts outbox retry ID` sends one again to the case's people as
they are now (those written `unaddressed`, nobody assigned yet, included).
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
from notifications.addresses import MAX_ADDRESS, MAX_NAME, InvalidAddress, check_address, forbidden_characters
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.tables import Case, User
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.clock import utc_now

ROLES = ("ars", "cpam", "legal", "national", "admin")
NATIONAL_ROLES = ("national", "admin")
NATIONAL = "national"
REGION, DEPARTEMENT = "reg", "dep"
_SCOPE_SEPARATORS = re.compile(r"[\s,;]+")
_KINDS = {"reg": REGION, "region": REGION, "région": REGION, "dep": DEPARTEMENT, "dept": DEPARTEMENT,
          "departement": DEPARTEMENT, "département": DEPARTEMENT}
_NATIONAL_WORDS = ("national", "all")
SCOPE_FORMS = "région codes as reg:44, département codes as dep:57, or national"


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


@dataclass(frozen=True)
class Scope:
    """The territory a user acts for, typed: régions and départements are never compared with each other.

    Attributes:
        national: every CPTS (national staff and administrators).
        regions: INSEE région codes ("44"): every CPTS whose seat is in one of them.
        departements: département codes ("57", "2A"): every CPTS seated in one of them.
    """

    national: bool = False
    regions: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()

    @classmethod
    def stored(cls, text: str | None) -> Scope:
        """The scope stored on a user (a JSON list of "reg:44", "dep:57", "national"). A bare code, which only
        a database not yet migrated can hold, matches nothing: it is never guessed to be one or the other."""
        national, regions, departements = False, [], []
        for token in json.loads(text or "[]"):
            kind, _, code = str(token).partition(":")
            if token == NATIONAL:
                national = True
            elif kind == REGION and code:
                regions.append(code)
            elif kind == DEPARTEMENT and code:
                departements.append(code)
        return cls(national, tuple(regions), tuple(departements))

    @property
    def is_empty(self) -> bool:
        return not (self.national or self.regions or self.departements)

    def tokens(self) -> list[str]:
        """The stored form: ["national"], or ["reg:44", "dep:57", …]."""
        if self.national:
            return [NATIONAL]
        return [f"{REGION}:{c}" for c in self.regions] + [f"{DEPARTEMENT}:{c}" for c in self.departements]

    def covers(self, departement: str, region: str) -> bool:
        """Whether a CPTS seated in `departement` (in `region`) is inside this scope."""
        return self.national or region in self.regions or departement in self.departements

    def describe(self) -> str:
        """"national", "région 44, départements 57, 54"; "" when empty."""
        if self.national:
            return NATIONAL
        parts = []
        if self.regions:
            parts.append(("régions " if len(self.regions) > 1 else "région ") + ", ".join(self.regions))
        if self.departements:
            parts.append(("départements " if len(self.departements) > 1 else "département ")
                         + ", ".join(self.departements))
        return "; ".join(parts)


def scope_of(user: User) -> Scope:
    """The user's scope; national staff and administrators act for every CPTS whatever is stored."""
    if user.role in NATIONAL_ROLES:
        return Scope(national=True)
    return Scope.stored(user.scope)


# ------------------------------------------------------------------------------------------- validation
def normalise_email(email: str | None, what: str = "e-mail") -> str:
    """The address as it will be stored (domain lower-cased), or PeopleError saying what is wrong with it."""
    try:
        return check_address(email or "")
    except InvalidAddress as error:
        reason = str(error).rstrip(".")
        raise PeopleError(f"{what} {_shown(email)} is not a usable e-mail address: {reason[:1].lower()}{reason[1:]}; "
                          f"expected an ASCII address of at most {MAX_ADDRESS} characters, e.g. "
                          "anne.martin@ars.sante.fr") from None


def normalise_name(name: str | None, what: str = "--name", example: str = "Anne Martin") -> str:
    """The name without surrounding blanks, on one line, at most 200 characters; else PeopleError."""
    text = (name or "").strip()
    if not text:
        raise PeopleError(f"{what} is empty: give a name, e.g. {what} \"{example}\"")
    if len(text) > MAX_NAME:
        raise PeopleError(f"{what} is {len(text)} characters long: at most {MAX_NAME} are allowed")
    odd = forbidden_characters(text)
    if odd:
        raise PeopleError(f"{what} {_shown(text)} holds control or invisible characters ({', '.join(odd[:5])}): "
                          f"a name is one line of printable text, e.g. {what} \"{example}\"")
    return " ".join(text.split())


def _shown(text: str | None) -> str:
    """A value quoted in an error message, cut short: the message stays one readable line."""
    text = text or ""
    return repr(text if len(text) <= 80 else text[:79] + "…")


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


def _region(code: str, role: str) -> str:
    text = code.strip().upper()
    if text.isdigit() and len(text) == 1:
        text = "0" + text
    known = _region_codes()
    if text not in known:
        listed = ", ".join(f"{c} {n}" for c, n in sorted(known.items()))
        whose = "an ARS" if role == "ars" else f"{_article(role)} {role}"
        raise PeopleError(f"unknown région code {code!r} for {whose} scope: expected one of {listed}")
    return text


def _typed(token: str, role: str) -> tuple[str, str]:
    """One scope token → (kind, code): a prefixed code says its kind; a bare one is a région for an ARS agent
    and a département for everybody else."""
    if token.lower() in _NATIONAL_WORDS:
        return NATIONAL, ""
    prefix, colon, code = token.partition(":")
    if colon:
        kind = _KINDS.get(prefix.strip().lower())
        if kind is None or not code.strip():
            raise PeopleError(f"scope {token!r} is not understood: expected {SCOPE_FORMS}")
        return kind, code.strip()
    return (REGION if role == "ars" else DEPARTEMENT), token


def normalise_scope(role: str, scope: Iterable[str] | str | None) -> Scope:
    """Check the scope against the role (SPEC §2) and return it typed, codes as INSEE writes them.

    ARS agents act for régions, CPAM agents for départements, legal staff for départements or régions (a legal
    service may follow every CPTS of its ARS), national staff and administrators for every CPTS ("national",
    the default for them). Plain codes are régions for an ARS agent and départements otherwise.
    """
    tokens = split_scope(scope)
    if role in NATIONAL_ROLES:
        typed = [_typed(t, role) for t in tokens]
        if any(kind != NATIONAL for kind, _ in typed):
            raise PeopleError(f"{_article(role)} {role} user acts for every CPTS: drop --scope (or give --scope "
                              f"national), not {', '.join(tokens)}")
        return Scope(national=True)
    regions: list[str] = []
    departements: list[str] = []
    for token in tokens:
        kind, code = _typed(token, role)
        if kind == NATIONAL:
            raise PeopleError(f"{_article(role)} {role} user acts for a territory, not for every CPTS: "
                              f"{_territory_hint(role)}; national reach is for the roles national and admin")
        if kind == REGION:
            if role == "cpam":
                raise PeopleError(f"a CPAM agent acts for départements, not régions ({token}): "
                                  f"{_territory_hint(role)}")
            regions.append(_region(code, role))
        else:
            if role == "ars":
                raise PeopleError(f"an ARS agent acts for régions, not départements ({token}): "
                                  f"{_territory_hint(role)}")
            departements.append(territory.departement(code).code)
    if not regions and not departements:
        raise PeopleError(f"{_WHO[role]}: {_territory_hint(role)}")
    return Scope(False, tuple(dict.fromkeys(regions)), tuple(dict.fromkeys(departements)))


_WHO = {
    "ars": "an ARS agent acts for one or more régions",
    "cpam": "a CPAM agent acts for one or more départements",
    "legal": "legal staff act for départements or régions and receive the notices of those only",
}


def _territory_hint(role: str) -> str:
    if role == "ars":
        return "give --scope with région codes, e.g. --scope 44 (Grand Est)"
    if role == "cpam":
        return "give --scope with département codes, e.g. --scope 57"
    return "give --scope with département codes, e.g. --scope 57, or région codes as reg:44"


def check_role(role: str) -> str:
    text = (role or "").strip().lower()
    if text not in ROLES:
        raise PeopleError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return text


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
            "scope": scope_of(user).tokens()}


# ------------------------------------------------------------------------------------------- use cases
def add_user(uow: UnitOfWork, name: str, email: str, role: str, scope: Iterable[str] | str | None = (),
             *, now: datetime | None = None) -> User:
    """Register a user; a second user with the same e-mail (whatever its case) is refused."""
    name = normalise_name(name)
    role = check_role(role)
    email = normalise_email(email, "--email")
    checked = normalise_scope(role, scope)
    user = User(name=name, email=email, role=role, scope=json.dumps(checked.tokens()), created_at=now or utc_now())
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


def edit_user(uow: UnitOfWork, email: str, *, name: str | None = None, new_email: str | None = None,
              role: str | None = None, scope: Iterable[str] | str | None = None) -> User:
    """Correct a user's name, e-mail, role or scope (only those given), with the checks of `add_user`.

    A user who is the ARS or CPAM referent of a case keeps a role and a scope that fit it: assign another
    referent first. A new role without a new scope keeps the scope if it fits the role.
    """
    if all(v is None for v in (name, new_email, role, scope)):
        raise PeopleError("nothing to change: give --name, --email, --role or --scope")
    name = normalise_name(name) if name is not None else None
    new_email = normalise_email(new_email, "--email") if new_email is not None else None
    role = check_role(role) if role is not None else None
    try:
        with uow:
            user = uow.users.find(email)
            if user is None:
                raise UnknownUser(email)
            new_role = role or user.role
            if scope is not None:
                checked = normalise_scope(new_role, scope)
            elif new_role != user.role:
                checked = _scope_for_new_role(user, new_role)
            else:
                checked = scope_of(user)
            if new_email is not None and new_email.lower() != user.email.lower():
                other = uow.users.find(new_email)
                if other is not None:
                    raise PeopleError(f"a user with e-mail {other.email} already exists ({other.name}, {other.role}); "
                                      "e-mail addresses identify users")
            _check_referent_cases(uow, user, new_role, checked)
            if name is not None:
                user.name = name
            if new_email is not None:
                user.email = new_email
            user.role = new_role
            user.scope = json.dumps(checked.tokens())
            uow.commit()
    except DuplicateKey:  # the same address taken concurrently: the unique index decided
        raise PeopleError(f"a user with e-mail {new_email} already exists; e-mail addresses identify users") from None
    return user


def _scope_for_new_role(user: User, role: str) -> Scope:
    """The user's scope carried over to a new role, when it fits that role; else PeopleError asking for one."""
    if role in NATIONAL_ROLES:
        return Scope(national=True)
    current = Scope.stored(user.scope)
    try:
        return normalise_scope(role, current.tokens())
    except PeopleError:
        shown = current.describe() or "no scope"
        raise PeopleError(f"{user.email} becomes {_article(role)} {role} user, whose scope cannot be {shown}: "
                          f"{_territory_hint(role)}") from None


def _check_referent_cases(uow: UnitOfWork, user: User, role: str, scope: Scope) -> None:
    """A referent keeps a role and a scope covering the cases they are referent of (SPEC §2)."""
    if user.role not in ("ars", "cpam"):
        return
    cases = uow.cases.followed_by(user)
    if not cases:
        return
    title = user.role.upper()
    if role != user.role:
        listed = ", ".join(str(c.id) for c in cases[:10]) + (" …" if len(cases) > 10 else "")
        raise PeopleError(f"{user.email} is the {title} referent of {len(cases)} case(s) ({listed}): assign "
                          f"another {title} referent first (`cpts case assign CASE --{user.role} EMAIL`), then "
                          "change the role")
    outside = [c for c in cases if not scope.covers(c.seat_departement, c.region)]
    if outside:
        listed = ", ".join(f"{c.id} (département {c.seat_departement}, région {c.region})" for c in outside[:5])
        raise PeopleError(f"{user.email} is the {title} referent of case(s) outside the new scope: {listed}; "
                          f"assign another {title} referent first, or keep them in the scope")


def get_user(uow: UnitOfWork, email: str) -> User:
    with uow:
        user = uow.users.find(email)
        if user is None:
            raise UnknownUser(email)
        return user


def covers(user: User, case: Case) -> bool:
    """Whether the user's scope takes in the case (national staff and administrators: every case; a user
    without a scope: none)."""
    return scope_of(user).covers(case.seat_departement, case.region)


def _referent(uow: UnitOfWork, email: str, role: str, case: Case) -> User:
    user = uow.users.find(normalise_email(email, f"--{role}"))
    if user is None:
        raise UnknownUser(email)
    title = "ARS" if role == "ars" else "CPAM"
    if user.role != role:
        raise PeopleError(f"{user.email} is {_article(user.role)} {user.role} user, not {_article(role)} {title} "
                          f"agent: the {title} referent of a CPTS must have role {role}")
    if not covers(user, case):
        scope = scope_of(user).describe() or "none"
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
            values["cpts_contact_name"] = (normalise_name(contact_name, "--contact-name", "Dr Anne Weber")
                                           if contact_name.strip() else None)
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
