"""People and the outbox through the `cpts` command line after issue 10: what is refused at the door (one line,
exit code 2), `cpts user edit`, typed scopes as a user reads them, and `cpts outbox retry` of any entry not sent.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from builders import new_case, record_all
from cli_runner import assert_one_line_error, make_runner
from icalendar import Calendar
from spec_example import ALL_DOCUMENTS
from sqlalchemy import text

ARS, CPAM = "elise.martin@ars.example.fr", "paul.durand@cpam.example.fr"
NO_SCOPE = "no scope: receives nothing until `cpts user edit EMAIL --scope`"


@pytest.fixture
def cpts(sqlite_db, monkeypatch, capsys):
    return make_runner(monkeypatch, capsys, sqlite_db.url.render_as_string(hide_password=False))


def users(cpts) -> dict[str, dict]:
    return {u["email"]: u for u in cpts("user", "list", "--json").json()}


# ------------------------------------------------------------------------------------------- at the door
@pytest.mark.parametrize("address", ["évé@exämple.fr", "a(comment)b@x.fr", "eve@exämple.fr"])
def test_an_address_the_relay_cannot_carry_is_refused_in_one_line(cpts, address):
    outcome = cpts("user", "add", "--name", "Ève", "--email", address, "--role", "cpam", "--scope", "57")

    assert_one_line_error(outcome, f"--email {address!r} is not a usable e-mail address",
                          "expected an ASCII address of at most 254 characters")
    assert users(cpts) == {}


def test_a_name_with_a_line_break_is_refused_in_one_line(cpts):
    outcome = cpts("user", "add", "--name", "Eve\r\nBcc: x@y.fr", "--email", "eve@ars.example.fr", "--role", "ars",
                   "--scope", "44")

    assert_one_line_error(outcome, "--name", "control or invisible characters (U+000D, U+000A)")


def test_a_megabyte_name_is_refused_with_a_short_message(cpts):
    outcome = cpts("user", "add", "--name", "É" * 1_000_000, "--email", "eve@ars.example.fr", "--role", "ars",
                   "--scope", "44")

    assert_one_line_error(outcome, "--name is 1000000 characters long: at most 200 are allowed")
    assert len(outcome.err) < 200


def test_a_megabyte_contact_name_is_refused_by_case_assign(cpts, sqlite_db):
    case_id = new_case(sqlite_db)

    outcome = cpts("case", "assign", str(case_id), "--contact-name", "W" * 1_000_000)

    assert_one_line_error(outcome, "--contact-name is 1000000 characters long")


def test_legal_staff_need_a_scope_and_national_staff_may_say_national(cpts):
    legal = cpts("user", "add", "--name", "Service juridique", "--email", "juridique@ars.example.fr", "--role", "legal")
    national = cpts("user", "add", "--name", "Inès Legrand", "--email", "ines@dgos.example.fr", "--role", "national",
                    "--scope", "national")

    assert_one_line_error(legal, "legal staff act for départements or régions", "--scope 57", "reg:44")
    assert national.code == 0 and "national" in national.out
    assert users(cpts)["ines@dgos.example.fr"]["scope"] == ["national"]


def test_plain_and_prefixed_scopes_are_accepted_and_listed_typed(cpts):
    cpts("user", "add", "--name", "Élise Martin", "--email", ARS, "--role", "ars", "--scope", "reg:44")
    cpts("user", "add", "--name", "Paul Durand", "--email", CPAM, "--role", "cpam", "--scope", "dep:57,54")
    cpts("user", "add", "--name", "Service juridique", "--email", "juridique@ars.example.fr", "--role", "legal",
         "--scope", "57", "--scope", "reg:75")

    listed = users(cpts)

    assert [listed[e]["scope"] for e in (ARS, CPAM, "juridique@ars.example.fr")] == [
        ["reg:44"], ["dep:57", "dep:54"], ["reg:75", "dep:57"]]


# ------------------------------------------------------------------------------------------- user edit
def test_user_edit_corrects_a_name_an_address_a_scope_and_a_role(cpts):
    cpts("user", "add", "--name", "Elise Martn", "--email", "elise@ars.example.fr", "--role", "cpam", "--scope", "57")

    renamed = cpts("user", "edit", "elise@ars.example.fr", "--name", "Élise Martin", "--email", ARS)
    moved = cpts("user", "edit", ARS, "--role", "ars", "--scope", "44", "--json")

    assert renamed.code == 0 and f"Élise Martin <{ARS}>" in renamed.out
    assert moved.json() == {"id": 1, "name": "Élise Martin", "email": ARS, "role": "ars", "scope": ["reg:44"]}
    assert list(users(cpts)) == [ARS]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "nothing to change: give --name, --email, --role or --scope"),
        (("--email", "évé@exämple.fr"), "not a usable e-mail address"),
        (("--name", "Eve\nBcc: x@y.fr"), "control or invisible characters"),
        (("--email", CPAM), f"a user with e-mail {CPAM} already exists"),
        (("--role", "ars"), "becomes an ars user, whose scope cannot be département 57"),
        (("--scope", "reg:44"), "a CPAM agent acts for départements, not régions"),
    ],
    ids=["nothing", "bad address", "line break", "address taken", "role without a fitting scope", "wrong kind"],
)
def test_a_wrong_edit_is_refused_in_one_line_and_changes_nothing(cpts, args, says):
    cpts("user", "add", "--name", "Anne Martin", "--email", "anne@cpam.example.fr", "--role", "cpam", "--scope", "57")
    cpts("user", "add", "--name", "Paul Durand", "--email", CPAM, "--role", "cpam", "--scope", "57")
    before = users(cpts)

    assert_one_line_error(cpts("user", "edit", "anne@cpam.example.fr", *args), says)
    assert users(cpts) == before


def test_editing_an_unknown_user_names_the_command_that_adds_one(cpts):
    assert_one_line_error(cpts("user", "edit", "nobody@example.fr", "--name", "X"), "no user with e-mail",
                          "cpts user add")


def test_a_referent_keeps_a_role_and_a_scope_covering_their_cases(cpts, sqlite_db):
    cpts("user", "add", "--name", "Paul Durand", "--email", CPAM, "--role", "cpam", "--scope", "57")
    case_id = new_case(sqlite_db)
    cpts("case", "assign", str(case_id), "--cpam", CPAM)

    assert_one_line_error(cpts("user", "edit", CPAM, "--scope", "54"), "referent of case(s) outside the new scope")
    assert_one_line_error(cpts("user", "edit", CPAM, "--role", "legal"), "assign another CPAM referent first")
    assert cpts("user", "edit", CPAM, "--scope", "57,54").code == 0


# ------------------------------------------------------------------------------------------- legacy scopes
def test_a_legal_officer_without_a_scope_is_listed_as_receiving_nothing_until_edited(cpts, sqlite_db):
    with sqlite_db.begin() as connection:  # registered before scopes were required (migration 0006 keeps [])
        connection.execute(text("INSERT INTO users (name, email, role, scope, created_at) VALUES ('Service "
                                "juridique', 'juridique@ars.example.fr', 'legal', '[]', '2025-01-06 09:00:00')"))

    before = cpts("user", "list").out
    edited = cpts("user", "edit", "juridique@ars.example.fr", "--scope", "57")
    after = cpts("user", "list").out

    assert NO_SCOPE in before
    assert edited.code == 0 and "département 57" in edited.out
    assert NO_SCOPE not in after and "dep:57" in after


def refused_ten_days_ago(engine) -> int:  # type: ignore[no-untyped-def]
    """A Metz CPTS whose contract was refused ten days ago: its CPL referral window (legal staff follow it) is
    pending."""
    today = date.today()
    case_id = new_case(engine)
    record_all(engine, case_id, [(today - timedelta(days=days), kind, data) for days, kind, data in [
        (300, "contact_recorded", {"source": "ars"}), (295, "first_meeting_held", {}), (290, "loi_submitted", {}),
        (280, "loi_decision", {"party": "ars", "decision": "approve"}),
        (279, "loi_decision", {"party": "am", "decision": "approve"}), (200, "health_project_received", {}),
        (150, "health_project_validated", {}),
        (100, "adhesion_requested", ALL_DOCUMENTS),
        (10, "contract_refusal_received", {})]])
    return case_id


def test_a_legal_officers_calendar_has_only_the_cases_of_their_departement_not_of_the_region_numbered_alike(
        cpts, sqlite_db):
    for code in ("44", "57"):
        cpts("user", "add", "--name", f"Juridique {code}", "--email", f"juridique.{code}@ars.example.fr", "--role",
             "legal", "--scope", code)
    refused_ten_days_ago(sqlite_db)

    def events(email: str) -> list[str]:
        feed = Calendar.from_ical(cpts("calendar", "export", "--referent", email).out)
        return [str(e["SUMMARY"]) for e in feed.walk("VEVENT")]

    assert events("juridique.44@ars.example.fr") == []  # Loire-Atlantique, not Grand Est (région 44)
    assert events("juridique.57@ars.example.fr") == [
        "CPTS du Pays Messin — délai de saisine de la CPL après refus de contrat"]


# ------------------------------------------------------------------------------------------- outbox retry
@pytest.mark.parametrize("status", ["sending", "dead", "pending"])
def test_outbox_retry_works_on_any_entry_not_sent(cpts, sqlite_db, status):
    cpts("user", "add", "--name", "Élise Martin", "--email", ARS, "--role", "ars", "--scope", "44")
    case_id = new_case(sqlite_db)
    cpts("case", "assign", str(case_id), "--ars", ARS)
    record_all(sqlite_db, case_id, [("2025-01-06", "contact_recorded", {"source": "ars"})])
    assert cpts("sweep", "--today", "2025-01-14").code == 0  # the 7-day reminder of the first meeting
    with sqlite_db.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = :s, attempts = 2, last_error = 'boom'"), {"s": status})

    outcome = cpts("outbox", "retry", "1")

    [entry] = cpts("outbox", "list", "--json").json()
    assert outcome.code == 0 and "outbox entry 1 is pending again" in outcome.out
    assert (entry["status"], entry["attempts"], entry["last_error"]) == ("pending", 0, None)
    assert entry["recipients"] == [ARS]
