"""Users, referents, the outbox and the calendar feed through the `cpts` command line (SPEC §2, §10).

Commands run in-process through `workflows.cli.main`, the real entry point (domain errors → one line on stderr,
exit code 2). Cases are set up through the engine API on the same SQLite file.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from builders import health_project_received_18_feb_2025, new_case, record
from cli_runner import assert_one_line_error, make_runner
from icalendar import Calendar
from sqlalchemy import Engine, text

from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_view
from workflows.services import people

ARS, CPAM = "elise.martin@ars.example.fr", "paul.durand@cpam.example.fr"
D = date.fromisoformat


@pytest.fixture
def cpts(sqlite_db, monkeypatch, capsys):
    """Run `cpts ARGS…` in-process on the test's database."""
    return make_runner(monkeypatch, capsys, sqlite_db.url.render_as_string(hide_password=False))


def referents(cpts) -> None:
    assert cpts("user", "add", "--name", "Élise Martin", "--email", ARS, "--role", "ars", "--scope", "44").code == 0
    assert cpts("user", "add", "--name", "Paul Durand", "--email", CPAM, "--role", "cpam", "--scope", "57,54").code == 0


def metz_case(engine: Engine, name: str = "CPTS du Pays Messin", departement: str = "57") -> int:
    return new_case(engine, name, departement=departement)


def case_with_pending_deadlines(engine: Engine, name: str = "CPTS du Pays Messin") -> int:
    """Three deadlines pending today: FIR follow-up meeting and renewal, the ARS's opposition window."""
    today = date.today()
    case_id = metz_case(engine, name)
    for days_ago, kind, data in [
        (100, "contact_recorded", {"source": "ars"}), (95, "first_meeting_held", {}), (90, "loi_submitted", {}),
        (80, "loi_decision", {"party": "ars", "decision": "approve"}),
        (79, "loi_decision", {"party": "am", "decision": "approve"}),
        (20, "fir_granted", {"amount": "30000.00"}), (10, "health_project_received", {}),
    ]:
        record(engine, case_id, today - timedelta(days=days_ago), kind, data)
    return case_id


def case_columns(engine: Engine, case_id: int) -> dict:
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT version, journal_head, state, ars_referent_id, cpam_referent_id, cpts_contact_name, "
            "cpts_contact_email, (SELECT count(*) FROM journal WHERE case_id = :c) AS journal "
            "FROM cases WHERE id = :c"), {"c": case_id}).one()
        return dict(row._mapping)


# ------------------------------------------------------------------------------------------- users
def test_an_ars_and_a_cpam_agent_are_added_with_their_scope_and_listed(cpts):
    added = cpts("user", "add", "--name", "Élise Martin", "--email", ARS, "--role", "ars", "--scope", "44", "--json")
    cpts("user", "add", "--name", "Paul Durand", "--email", CPAM, "--role", "cpam", "--scope", "57,54",
         "--scope", "8")
    cpts("user", "add", "--name", "Inès Legrand", "--email", "ines@dgos.example.fr", "--role", "national")

    listed = cpts("user", "list", "--json")

    assert added.code == 0 and added.json()["scope"] == ["reg:44"]
    assert [(u["email"], u["role"], u["scope"]) for u in listed.json()] == [
        (ARS, "ars", ["reg:44"]), (CPAM, "cpam", ["dep:57", "dep:54", "dep:08"]),
        ("ines@dgos.example.fr", "national", ["national"])]
    assert "3 user(s)" in cpts("user", "list").out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--role", "director", "--scope", "44"), "unknown role 'director': expected one of ars, cpam, legal"),
        (("--role", "ars", "--scope", "57"), "unknown région code '57' for an ARS scope"),
        (("--role", "ars"), "an ARS agent acts for one or more régions"),
        (("--role", "cpam"), "a CPAM agent acts for one or more départements"),
        (("--role", "cpam", "--scope", "99"), "unknown département '99'"),
        (("--role", "legal", "--scope", "975"), "outside the accord's scope"),
        (("--role", "national", "--scope", "57"), "a national user acts for every CPTS: drop --scope"),
    ],
    ids=["unknown role", "ars with a département", "ars without scope", "cpam without scope",
         "unknown département", "collectivité d'outre-mer", "national with a scope"],
)
def test_a_user_with_a_wrong_role_or_scope_is_refused_in_one_line(cpts, args, says):
    outcome = cpts("user", "add", "--name", "Anne", "--email", "anne@example.fr", *args)

    assert_one_line_error(outcome, says)
    assert cpts("user", "list", "--json").json() == []


def test_an_e_mail_address_identifies_one_user_whatever_its_case(cpts):
    referents(cpts)

    again = cpts("user", "add", "--name", "Autre", "--email", ARS.upper(), "--role", "ars", "--scope", "44")
    malformed = cpts("user", "add", "--name", "Autre", "--email", "paul.durand", "--role", "cpam", "--scope", "57")

    assert_one_line_error(again, f"a user with e-mail {ARS} already exists (Élise Martin, ars)")
    assert_one_line_error(malformed, "'paul.durand' is not a usable e-mail address")


# ------------------------------------------------------------------------------------------- assign
def test_assigning_the_binome_and_the_contact_is_not_a_lifecycle_event(cpts, sqlite_db):
    referents(cpts)
    case_id = metz_case(sqlite_db)
    record(sqlite_db, case_id, D("2025-01-06"), "contact_recorded", {"source": "cpam"})
    before = case_columns(sqlite_db, case_id)

    outcome = cpts("case", "assign", str(case_id), "--ars", ARS, "--cpam", CPAM.upper(),
                   "--contact-name", "Dr Anne Roux", "--contact-email", "contact@cpts-metz.example.fr", "--json")

    assert outcome.code == 0, outcome.err
    assert outcome.json() == {"case": case_id, "ars": ARS, "cpam": CPAM, "contact_name": "Dr Anne Roux",
                              "contact_email": "contact@cpts-metz.example.fr", "unaddressed": []}
    after = case_columns(sqlite_db, case_id)
    assert {k: after[k] for k in ("version", "journal_head", "state", "journal")} == {
        k: before[k] for k in ("version", "journal_head", "state", "journal")}
    assert after["ars_referent_id"] is not None and after["cpam_referent_id"] is not None
    # The case still takes events: the version check of `apply` is not disturbed.
    record(sqlite_db, case_id, D("2025-01-13"), "first_meeting_held")
    assert case_columns(sqlite_db, case_id)["version"] == before["version"] + 1


def test_assigning_only_the_contact_keeps_the_binome(cpts, sqlite_db):
    referents(cpts)
    case_id = metz_case(sqlite_db)
    cpts("case", "assign", str(case_id), "--ars", ARS, "--cpam", CPAM)

    outcome = cpts("case", "assign", str(case_id), "--contact-email", "secretariat@cpts-metz.example.fr")

    assert outcome.code == 0
    assert outcome.out.strip() == (f"case {case_id} CPTS du Pays Messin: ARS {ARS}, CPAM {CPAM}, "
                                   "contact — <secretariat@cpts-metz.example.fr>")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--ars", "claire@ars-idf.example.fr"), "cannot be the ARS referent of case 1 'CPTS du Pays Messin': it "
                                                 "is seated in région 44 (Grand Est), outside their scope (région 11)"),
        (("--cpam", "luc@cpam-88.example.fr"), "cannot be the CPAM referent of case 1 'CPTS du Pays Messin': it "
                                               "is seated in département 57 (Moselle), outside their scope "
                                               "(département 88)"),
        (("--ars", CPAM), f"{CPAM} is a cpam user, not an ARS agent"),
        (("--cpam", ARS), f"{ARS} is an ars user, not a CPAM agent"),
        (("--ars", "nobody@ars.example.fr"), "no user with e-mail 'nobody@ars.example.fr': add them first"),
        (("--contact-email", "not-an-address"), "--contact-email 'not-an-address' is not a usable e-mail address"),
        ((), "nothing to assign: give --ars EMAIL, --cpam EMAIL"),
    ],
    ids=["ars of another région", "cpam of another département", "cpam user as ars", "ars user as cpam",
         "unknown e-mail", "malformed contact", "nothing given"],
)
def test_an_assignment_outside_the_rules_is_refused_and_changes_nothing(cpts, sqlite_db, args, says):
    referents(cpts)
    cpts("user", "add", "--name", "Claire", "--email", "claire@ars-idf.example.fr", "--role", "ars", "--scope", "11")
    cpts("user", "add", "--name", "Luc", "--email", "luc@cpam-88.example.fr", "--role", "cpam", "--scope", "88")
    case_id = metz_case(sqlite_db)
    assert case_id == 1
    before = case_columns(sqlite_db, case_id)

    # A valid referent given with the wrong one is not kept either: the assignment is all or nothing.
    extra = ("--cpam", CPAM) if "--cpam" not in args and args else ()
    outcome = cpts("case", "assign", str(case_id), *args, *extra)

    assert_one_line_error(outcome, says)
    assert case_columns(sqlite_db, case_id) == before


def test_assigning_an_unknown_case_names_the_command_that_lists_them(cpts):
    referents(cpts)

    assert_one_line_error(cpts("case", "assign", "42", "--ars", ARS), "unknown case '42'", "cpts case list")


# ------------------------------------------------------------------------------------------- outbox
def test_a_notice_without_addressee_waits_unaddressed_until_the_binome_is_assigned_and_retried(cpts, sqlite_db):
    referents(cpts)
    case_id = health_project_received_18_feb_2025(sqlite_db)
    assert cpts("sweep", "--today", "2025-03-25").code == 0

    [waiting] = cpts("outbox", "list", "--status", "unaddressed", "--json").json()
    too_early = cpts("outbox", "retry", str(waiting["id"]))
    assigned = cpts("case", "assign", str(case_id), "--ars", ARS, "--cpam", CPAM)
    retried = cpts("outbox", "retry", str(waiting["id"]))
    [pending] = cpts("outbox", "list", "--status", "pending", "--json").json()

    assert (waiting["kind"], waiting["deadline"], waiting["offset_days"], waiting["recipients"]) == (
        "reminder", "health_project_opposition", 30, [])
    assert_one_line_error(too_early, "still has nobody to go to", "cpts case assign")
    assert f"1 notification(s) of this case had nobody to go to: `cpts outbox retry ID` for {waiting['id']}" \
        in assigned.out
    assert retried.code == 0 and f"outbox entry {waiting['id']} is pending again" in retried.out
    assert pending["id"] == waiting["id"] and pending["recipients"] == [ARS, CPAM]
    assert pending["message_id"] == waiting["message_id"]


def test_every_entry_not_sent_can_be_retried_and_a_sent_one_cannot(cpts, sqlite_db):
    referents(cpts)
    case_id = health_project_received_18_feb_2025(sqlite_db)
    cpts("case", "assign", str(case_id), "--ars", ARS, "--cpam", CPAM)
    cpts("sweep", "--today", "2025-03-25")
    [entry] = cpts("outbox", "list", "--json").json()

    assert cpts("outbox", "retry", str(entry["id"])).code == 0  # pending: queued again, now
    assert_one_line_error(cpts("outbox", "retry", "999"), "no outbox entry 999", "cpts outbox list")
    with sqlite_db.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = 'dead', attempts = 6, last_error = '550 gone'"))
    listed = cpts("outbox", "list", "--status", "dead")
    assert "dead" in listed.out and "tries 6" in listed.out and "(550 gone)" in listed.out
    assert cpts("outbox", "retry", str(entry["id"])).code == 0
    assert cpts("outbox", "list", "--status", "dead", "--json").json() == []
    with sqlite_db.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = 'sent'"))
    assert_one_line_error(cpts("outbox", "retry", str(entry["id"])), "was sent", "only entries not sent")


def test_outbox_list_refuses_an_unknown_status(cpts):
    assert_one_line_error(cpts("outbox", "list", "--status", "lost"),
                          "unknown outbox status 'lost': expected one of pending, sending, sent, dead, unaddressed")


@pytest.mark.parametrize("command", [("outbox", "drain"), ("scheduler", "run")])
def test_delivery_commands_need_a_valid_smtp_url(cpts, monkeypatch, command):
    missing = cpts(*command)
    monkeypatch.setenv("CPTS_SMTP_URL", "smtp://suivi:s3cret@mail.example.org:port")
    malformed = cpts(*command)

    assert_one_line_error(missing, "CPTS_SMTP_URL is not set", "smtp://user:password@mail.example.org:587")
    assert_one_line_error(malformed, "invalid CPTS_SMTP_URL: the URL cannot be parsed")
    assert "s3cret" not in malformed.err


# ------------------------------------------------------------------------------------------- calendar
def parse(data: bytes | str) -> list:
    calendar = Calendar.from_ical(data)
    return [c for c in calendar.walk("VEVENT")]


def test_the_calendar_has_one_event_per_pending_deadline_with_its_explanation_and_reminders(cpts, sqlite_db, tmp_path):
    case_id = case_with_pending_deadlines(sqlite_db)
    view = case_view(SqlUnitOfWork(sqlite_db), case_id).as_dict()
    pending = [d for d in view["deadlines"] if d["status"] == "pending"]

    outcome = cpts("calendar", "export", "--output", str(tmp_path / "deadlines.ics"))
    events = parse((tmp_path / "deadlines.ics").read_bytes())

    assert outcome.code == 0 and outcome.out == ""
    assert len(pending) == 3
    assert sorted((e["DTSTART"].dt.isoformat(), str(e["SUMMARY"])) for e in events) == sorted(
        (d["due"], f"CPTS du Pays Messin — {d['label']}") for d in pending)
    opposition = next(e for e in events if "opposition" in str(e["SUMMARY"]))
    assert "Délai de 2 mois à compter de la réception du projet de santé par l'ARS" in str(opposition["DESCRIPTION"])
    for event in events:
        assert event["DTEND"].dt == event["DTSTART"].dt + timedelta(days=1)
        triggers = sorted(alarm["TRIGGER"].dt for alarm in event.walk("VALARM"))
        assert triggers == [timedelta(days=-30), timedelta(days=-7), timedelta(days=-1)]


def test_calendar_uids_are_stable_so_a_re_import_updates_the_events(cpts, sqlite_db):
    case_id = case_with_pending_deadlines(sqlite_db)

    first = parse(cpts("calendar", "export").out)
    second = parse(cpts("calendar", "export").out)
    record(sqlite_db, case_id, date.today(), "fir_followup_meeting_held")
    third = parse(cpts("calendar", "export").out)

    uids = sorted(str(e["UID"]) for e in first)
    assert len(set(uids)) == 3 and uids == sorted(str(e["UID"]) for e in second)
    # The follow-up meeting was held: its event is gone; the others keep their UID with a higher SEQUENCE.
    assert {str(e["UID"]) for e in third} < set(uids) and len(third) == 2
    assert min(int(e["SEQUENCE"]) for e in third) > max(int(e["SEQUENCE"]) for e in first)


def test_a_referents_calendar_has_only_the_cases_they_follow(cpts, sqlite_db):
    referents(cpts)
    followed = case_with_pending_deadlines(sqlite_db, "CPTS du Pays Messin")
    case_with_pending_deadlines(sqlite_db, "CPTS du Val de Fensch")
    cpts("case", "assign", str(followed), "--ars", ARS)

    mine = parse(cpts("calendar", "export", "--referent", ARS).out)
    everyone = parse(cpts("calendar", "export").out)
    cpam = parse(cpts("calendar", "export", "--referent", CPAM).out)

    assert {str(e["SUMMARY"]).split(" — ")[0] for e in mine} == {"CPTS du Pays Messin"}
    assert len(mine) == 3 and len(everyone) == 6 and cpam == []
    assert_one_line_error(cpts("calendar", "export", "--referent", "nobody@example.fr"),
                          "no user with e-mail 'nobody@example.fr'")


def test_people_services_can_be_used_without_the_cli(sqlite_db):
    user = people.add_user(SqlUnitOfWork(sqlite_db), "Élise Martin", ARS, "ars", "44 ; 11")
    case_id = metz_case(sqlite_db)

    done = people.assign(SqlUnitOfWork(sqlite_db), case_id, ars_email=ARS, now=datetime(2025, 1, 6, 9, 0).astimezone())

    assert json.loads(user.scope) == ["reg:44", "reg:11"]
    assert (done.ars, done.cpam, done.unaddressed) == (ARS, None, ())
