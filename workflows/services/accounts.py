"""Web sign-in for the users of `cpts user add`: passwords (argon2) and lock-out after repeated failures.

`set_password` stores an argon2id hash (argon2-cffi's defaults, RFC 9106 low-memory profile), never the
password. `authenticate` answers a user or one refusal whatever went wrong (unknown address, wrong password,
no password set, account locked), so that the sign-in page tells nobody which addresses exist; it hashes a
dummy password for an unknown address so that the answer takes the same time. After `MAX_FAILURES` failures in
a row the account is locked for `LOCK_MINUTES`; a success resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from lifecycle.errors import DomainError
from workflows.persistence.tables import User
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.clock import utc_now
from workflows.services.people import UnknownUser, normalise_email

MIN_PASSWORD = 12
MAX_PASSWORD = 256
MAX_FAILURES = 5
LOCK_MINUTES = 15


class PasswordRefused(DomainError):
    """A password that does not meet the rules; the message says which."""


@dataclass(frozen=True)
class SignInRefused(Exception):
    """Wrong address or password, no password set, or a locked account: one message for all of them."""

    message: str = "Adresse e-mail ou mot de passe incorrect."

    def __str__(self) -> str:
        return self.message


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a password of anybody")


def check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise PasswordRefused(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters "
                              f"(got {len(password) if isinstance(password, str) else 0})")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise PasswordRefused("a password has no control characters (line feeds, tabs…)")
    return password


def set_password(uow: UnitOfWork, email: str, password: str) -> User:
    """Store the user's new password hash; the count of failures and any lock-out are reset."""
    check_password(password)
    digest = _hasher().hash(password)
    with uow:
        user = uow.users.find(normalise_email(email))
        if user is None:
            raise UnknownUser(email)
        user.password_hash = digest
        user.failed_sign_ins = 0
        user.locked_until = None
        uow.commit()
        return user


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def authenticate(uow: UnitOfWork, email: str, password: str, *, now: datetime | None = None) -> User:
    """The user with that address and password; SignInRefused otherwise (failures counted, lock-out)."""
    now = now or utc_now()
    address = (email or "").strip()
    with uow:
        user = uow.users.find(address) if address and len(address) <= 254 else None
        if user is None or not user.password_hash:
            _verify(_dummy_hash(), password)
            raise SignInRefused()
        locked_until = _utc(user.locked_until)
        if locked_until is not None and locked_until > now:
            _verify(_dummy_hash(), password)
            raise SignInRefused("Trop de tentatives : ce compte est verrouillé pour quelques minutes. "
                                "Réessayez plus tard.")
        if not _verify(user.password_hash, password):
            user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
            if user.failed_sign_ins >= MAX_FAILURES:
                user.failed_sign_ins = 0
                user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            uow.commit()
            raise SignInRefused()
        if user.failed_sign_ins or user.locked_until is not None:
            user.failed_sign_ins = 0
            user.locked_until = None
        if _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hasher().hash(password)
        uow.commit()
        return user


def _verify(digest: str, password: str) -> bool:
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher().verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
