"""Every environment setting is read in one place, with its documented default."""

from __future__ import annotations

from workflows.settings import Settings, load_settings


def test_an_empty_environment_gives_the_documented_defaults():
    assert load_settings({}) == Settings(database_url="sqlite:///cpts.db", smtp_url=None,
                                         mail_domain="cpts-lifecycle.local", outbox_max_attempts=12, actor="cli")


def test_each_variable_sets_its_setting():
    settings = load_settings({
        "CPTS_DATABASE_URL": "postgresql://cpts@db.example/cpts", "CPTS_SMTP_URL": "smtp://mail.example:25",
        "CPTS_MAIL_DOMAIN": "ars.example.fr", "CPTS_OUTBOX_MAX_ATTEMPTS": "3", "CPTS_ACTOR": "elise.martin",
    })
    assert settings == Settings("postgresql://cpts@db.example/cpts", "smtp://mail.example:25", "ars.example.fr", 3,
                                "elise.martin")


def test_a_malformed_or_zero_attempt_count_falls_back_to_a_usable_value():
    assert load_settings({"CPTS_OUTBOX_MAX_ATTEMPTS": "many"}).outbox_max_attempts == 12
    assert load_settings({"CPTS_OUTBOX_MAX_ATTEMPTS": "0"}).outbox_max_attempts == 1
