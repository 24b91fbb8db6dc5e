"""French reminder, breach and digest e-mails (SPEC §10): content, escaping, MIME shape, identity."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from email import message_from_bytes, policy

import pytest
from notices import ARS, CPAM, OPPOSITION_REMINDER

from lifecycle.ruleset import load_ruleset
from notifications.actions import ACTIONS, GENERIC, action_for
from notifications.model import Digest, DigestItem
from notifications.render import build_message, render_digest, render_notice

MISSION_BREACH = replace(
    OPPOSITION_REMINDER,
    deadline_key="mission_start.access",
    deadline_label="démarrage de la mission d'accès aux soins",
    due=date(2025, 5, 12),
    explanation="contrat signé le 12 novembre 2024 ; six mois après : lundi 12 mai 2025",
    kind="breach",
    offset_days=1,
    on=date(2025, 5, 13),
    anchor_key="mission_start.access:2024-11-12",
)


def test_a_reminder_names_the_cpts_the_deadline_its_french_due_date_and_the_days_left():
    email = render_notice(OPPOSITION_REMINDER)

    for part in (email.subject, email.text, email.html):
        assert "CPTS du Pays de Lunel" in part
        assert "vendredi 18 avril 2025" in part
        assert "dans 30 jours" in part
    assert "délai d'opposition de l'ARS au projet de santé" in email.subject
    assert "Délai d'opposition de l'ARS au projet de santé" in email.text
    assert "département 34" in email.text


def test_a_reminder_the_day_before_says_tomorrow():
    email = render_notice(replace(OPPOSITION_REMINDER, offset_days=1, on=date(2025, 4, 17)))

    assert "échéance demain" in email.subject
    assert "arrive demain" in email.text


def test_an_opposition_reminder_says_what_the_ars_must_do_and_by_when():
    email = render_notice(OPPOSITION_REMINDER)

    assert (
        "Si l'ARS entend s'opposer au projet de santé, la décision motivée doit être notifiée au plus tard "
        "le vendredi 18 avril 2025 ; à défaut le projet est réputé validé"
    ) in email.text


def test_a_reminder_carries_the_explanation_of_the_date_and_the_link_to_the_case():
    email = render_notice(OPPOSITION_REMINDER)

    assert "projet de santé reçu le 18 février 2025" in email.text
    assert "https://cpts.example.fr/cases/cpts-34-lunel" in email.text
    assert 'href="https://cpts.example.fr/cases/cpts-34-lunel"' in email.html


def test_a_notice_without_a_status_url_renders_without_a_link():
    email = render_notice(replace(OPPOSITION_REMINDER, status_url=None))

    assert "Suivre le dossier" not in email.text
    assert "href" not in email.html


def test_a_breach_notice_says_since_when_the_deadline_is_breached():
    email = render_notice(MISSION_BREACH)

    assert email.subject.startswith("[CPTS du Pays de Lunel] Échéance dépassée")
    assert "lundi 12 mai 2025" in email.subject
    assert "dépassée depuis hier" in email.text
    later = render_notice(replace(MISSION_BREACH, on=date(2025, 5, 15)))
    assert "dépassée depuis 3 jours" in later.text


def test_a_mission_start_breach_asks_to_check_the_mission_with_the_cpts_and_warns_of_termination():
    email = render_notice(MISSION_BREACH)

    assert "Vérifier avec la CPTS" in email.text
    assert "ACI art. 11" in email.text
    assert "Démarrage de la mission d'accès aux soins" in email.text


def test_the_most_specific_action_prefix_wins_and_unknown_keys_get_the_generic_text():
    assert action_for("mission_start.parcours") is ACTIONS["mission_start"]
    assert action_for("annual_review.3") is ACTIONS["annual_review"]
    assert action_for("termination_cpl_window") is ACTIONS["termination_cpl_window"]
    assert action_for("something_new") is GENERIC


def test_every_deadline_of_the_ruleset_has_its_own_action_text():
    keys = load_ruleset().deadlines

    assert [key for key in keys if action_for(key) is GENERIC] == []


def test_every_action_text_names_only_the_due_date():
    for action in (*ACTIONS.values(), GENERIC):
        for text in (action.before, action.after):
            text.format(due="lundi 12 mai 2025")  # no other placeholder, no stray brace


def test_an_unknown_deadline_key_still_renders_with_the_generic_action():
    unknown = replace(OPPOSITION_REMINDER, deadline_key="new_rule", deadline_label="nouvelle règle")
    email = render_notice(unknown)

    assert "enregistrer l'acte attendu au plus tard le vendredi 18 avril 2025" in email.text


def test_the_html_part_escapes_markup_in_case_data_but_the_text_part_keeps_it():
    email = render_notice(replace(OPPOSITION_REMINDER, case_name="CPTS <Sud> & Co"))

    assert "CPTS &lt;Sud&gt; &amp; Co" in email.html
    assert "<Sud>" not in email.html
    assert "CPTS <Sud> & Co" in email.text


def test_the_subject_stays_on_one_line_whatever_the_case_name_holds():
    email = render_notice(replace(OPPOSITION_REMINDER, case_name="CPTS\r\nBcc: someone@example.org"))

    assert "\n" not in email.subject and "\r" not in email.subject


def test_the_unique_key_names_case_deadline_instance_due_date_kind_and_offset():
    assert OPPOSITION_REMINDER.unique_key == (
        "cpts-34-lunel|health_project_opposition:2025-02-18|2025-04-18|reminder|30"
    )


def test_the_message_id_is_deterministic_and_differs_per_reminder():
    same = replace(OPPOSITION_REMINDER, recipients=(ARS,), status_url=None)
    other_offset = replace(OPPOSITION_REMINDER, offset_days=7, on=date(2025, 4, 11))

    message_id = OPPOSITION_REMINDER.message_id("cpts.example.fr")
    assert re.fullmatch(r"<[0-9a-f]{64}@cpts\.example\.fr>", message_id)
    assert same.message_id("cpts.example.fr") == message_id
    assert other_offset.message_id("cpts.example.fr") != message_id


def test_a_message_id_domain_must_be_a_host_name():
    with pytest.raises(ValueError, match="host name"):
        OPPOSITION_REMINDER.message_id("bad domain@x")


def test_a_notice_kind_other_than_reminder_or_breach_is_refused():
    with pytest.raises(ValueError, match="reminder or breach"):
        replace(OPPOSITION_REMINDER, kind="digest")


DIGEST = Digest(
    referent=ARS,
    on=date(2025, 5, 12),
    overdue=(
        DigestItem("cpts-57-metz", "CPTS de Metz", "refund", "remboursement du trop-perçu après résiliation",
                   date(2025, 5, 9), "breached"),
    ),
    upcoming=(
        DigestItem("cpts-34-lunel", "CPTS du Pays de Lunel", "cpl_meeting", "réunion de la CPL saisie",
                   date(2025, 5, 13), "pending", "https://cpts.example.fr/cases/cpts-34-lunel"),
        DigestItem("cpts-95-vexin", "CPTS du Vexin", "annual_review.2",
                   "réunion annuelle de suivi du contrat (année 2)", date(2025, 5, 19), "pending"),
    ),
)


def test_a_digest_lists_the_referents_overdue_and_upcoming_deadlines_with_their_status():
    email = render_digest(DIGEST)

    assert email.subject == "Échéances CPTS au lundi 12 mai 2025 : 1 dépassée, 2 à venir"
    assert "Bonjour Élise Martin," in email.text
    assert (
        "- CPTS de Metz : remboursement du trop-perçu après résiliation — échéance du vendredi 9 mai 2025, "
        "dépassée depuis 3 jours [dépassée]"
    ) in email.text
    assert (
        "- CPTS du Pays de Lunel : réunion de la CPL saisie — mardi 13 mai 2025 (demain) [en cours]"
    ) in email.text
    assert "lundi 19 mai 2025 (dans 7 jours)" in email.text
    assert "CPTS du Vexin" in email.html
    assert 'href="https://cpts.example.fr/cases/cpts-34-lunel"' in email.html


def test_an_empty_digest_says_there_is_nothing():
    email = render_digest(replace(DIGEST, overdue=(), upcoming=()))

    assert email.subject == "Échéances CPTS au lundi 12 mai 2025 : 0 dépassée, 0 à venir"
    assert email.text.count("Aucune.") == 2


def test_a_digest_has_one_message_id_per_referent_and_day():
    assert DIGEST.message_id("x.fr") == replace(DIGEST, upcoming=()).message_id("x.fr")
    assert DIGEST.message_id("x.fr") != replace(DIGEST, on=date(2025, 5, 13)).message_id("x.fr")


def test_a_built_message_is_multipart_alternative_utf8_with_date_and_the_given_message_id():
    message_id = OPPOSITION_REMINDER.message_id("cpts.example.fr")
    message = build_message(
        render_notice(OPPOSITION_REMINDER),
        sender="Suivi des CPTS <suivi-cpts@ars.example.fr>",
        recipients=OPPOSITION_REMINDER.recipients,
        message_id=message_id,
        sent_at=datetime(2025, 3, 19, 7, 0, tzinfo=UTC),
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parsed.iter_parts())
    assert parsed["Message-ID"] == message_id
    assert parsed["Date"] == "Wed, 19 Mar 2025 07:00:00 +0000"
    assert parsed["Subject"].startswith("[CPTS du Pays de Lunel] Rappel")
    assert [a.addr_spec for a in parsed["To"].addresses] == [ARS.email, CPAM.email]
    assert parsed["To"].addresses[0].display_name == "Élise Martin"
    assert "vendredi 18 avril 2025" in parsed.get_body(("plain",)).get_content()
    assert "vendredi 18 avril 2025" in parsed.get_body(("html",)).get_content()


def test_a_message_needs_a_well_formed_message_id():
    with pytest.raises(ValueError, match="Message-ID"):
        build_message(render_notice(OPPOSITION_REMINDER), sender="a@b.fr", recipients=[ARS], message_id="abc")
