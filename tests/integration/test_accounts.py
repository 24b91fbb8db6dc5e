"""Web sign-in on both databases: the password hash, failures counted, the lock-out and migration 0008."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from workflows.persistence.db import alembic_config
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.accounts import LOCK_MINUTES, MAX_FAILURES, SignInRefused, authenticate, set_password
from workflows.services.people import add_user, get_user

EMAIL = "elise.martin@ars.example.fr"
MONDAY = datetime(2025, 6, 16, 8, 30, tzinfo=UTC)


@pytest.fixture
def uow(db) -> SqlUnitOfWork:
    uow = SqlUnitOfWork(db)
    add_user(uow, "Élise Martin", EMAIL, "ars", ["44"])
    set_password(uow, EMAIL, "une phrase de passe solide")
    return uow


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes_then_it_opens_again(uow):
    for attempt in range(MAX_FAILURES):
        with pytest.raises(SignInRefused, match="incorrect"):
            authenticate(uow, EMAIL, f"mauvais essai {attempt}", now=MONDAY)
    with pytest.raises(SignInRefused, match="verrouillé"):
        authenticate(uow, EMAIL, "une phrase de passe solide", now=MONDAY + timedelta(minutes=LOCK_MINUTES - 1))
    opened = authenticate(uow, EMAIL, "une phrase de passe solide", now=MONDAY + timedelta(minutes=LOCK_MINUTES + 1))
    assert opened.email == EMAIL
    stored = get_user(uow, EMAIL)
    assert stored.failed_sign_ins == 0 and stored.locked_until is None


def test_a_success_forgets_the_earlier_failures(uow):
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(SignInRefused):
            authenticate(uow, EMAIL, "pas le bon mot de passe", now=MONDAY)
    authenticate(uow, EMAIL, "une phrase de passe solide", now=MONDAY)
    with pytest.raises(SignInRefused, match="incorrect"):  # one more failure does not lock
        authenticate(uow, EMAIL, "pas le bon mot de passe", now=MONDAY)
    assert authenticate(uow, EMAIL, "une phrase de passe solide", now=MONDAY).email == EMAIL


def test_setting_a_new_password_unlocks_the_account(uow):
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInRefused):
            authenticate(uow, EMAIL, "pas le bon mot de passe", now=MONDAY)
    set_password(uow, EMAIL, "une autre phrase de passe")
    assert authenticate(uow, EMAIL, "une autre phrase de passe", now=MONDAY).email == EMAIL


def test_downgrading_below_0008_drops_the_sign_in_columns_and_keeps_the_users(db, uow):
    command.downgrade(alembic_config(db), "0007")
    assert "password_hash" not in {c["name"] for c in inspect(db).get_columns("users")}
    command.upgrade(alembic_config(db), "head")
    assert get_user(uow, EMAIL).password_hash is None  # the hash went with the column: set it again
    with pytest.raises(SignInRefused):
        authenticate(uow, EMAIL, "une phrase de passe solide", now=MONDAY)
