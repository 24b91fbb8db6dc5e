"""Tools of legal staff that are not a case's page: the date calculator (`/calendrier`) and the court-ready case
file (`/cpts/{id}/dossier.pdf`).

- *Calculateur de délais* is the web form of `cpts calendar add`: an anchor date, a number of days or months
  after or before it, the seat's département (its public holidays), the deadline's kind (only a procedural one
  rolls over non-working days, CPC art. 642) and whether it is a délai franc. The due date is written as a long
  French date with the same explanation as a case's deadlines (`dashboard.explain`). A plain GET form, so it
  works without JavaScript and its URL can be shared; htmx refreshes the result in place as a field changes.
  A value that cannot be read is said in French next to its field (422 for the plain form; 200 for an htmx
  refresh, which only swaps a successful response). Any signed-in user may use it.
- *Dossier (PDF)*: the case file a lawyer can put in a court file (`documents.case_file`), drawn up now, for
  anyone who sees the case (out of scope: 404, like a case that does not exist).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

# `dashboard.case_file_data` imports `dashboard.routes.events`, whose package imports this module: the module is
# bound here and its function looked up when a file is asked for, so either may be imported first.
from dashboard import case_file_data as case_files
from dashboard import labels
from dashboard.access import user_scope, visible_case
from dashboard.explain import explanation_lines
from dashboard.formatting import long_date
from dashboard.pages import current_user, render, web
from documents.case_file import file_name, render_case_file
from lifecycle import territory
from lifecycle.calendar import (
    FIRST_CALENDAR_DATE,
    LAST_CALENDAR_DATE,
    DateExplanation,
    DeadlineKind,
    LegalCalendar,
    Period,
)
from lifecycle.errors import CalendarError
from workflows.persistence.tables import User
from workflows.read.deadlines import due_date_reason

router = APIRouter()

# The CLI's bounds (`cpts calendar add`): a century either way.
MAX_DAYS = 36_500
MAX_MONTHS = 1_200
UNITS = (("jours", "jours"), ("mois", "mois"))
DIRECTIONS = (("apres", "Après la date de départ"), ("avant", "Avant la date de départ (« au moins … avant »)"))
FRANC = "oui"
FIELDS = ("date", "duree", "unite", "sens", "departement", "nature", "franc")
MAX_VALUE_CHARS = 40  # what a field may hold; longer is cut before it is shown again
_FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


# ------------------------------------------------------------------------------------------ the case file
@router.get("/cpts/{case_id}/dossier.pdf")
def case_file_pdf(request: Request, case_id: str, user: Annotated[User, Depends(current_user)]) -> Response:
    """The court-ready case file (PDF), drawn up now, as an attachment."""
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    document = render_case_file(case_files.case_file_data(context.uow, case, now=context.now()))
    return Response(document, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{file_name(case.id)}"'})


# ------------------------------------------------------------------------------------------ the calculator
@dataclass(frozen=True)
class Calculation:
    """A date computed by the calculator.

    Attributes:
        due: the due date. summary: what was asked, in French ("2 mois après le lundi 10 mars 2025…").
        lines: why the due date is that date, as (term, description) pairs (`dashboard.explain`).
    """

    due: date
    summary: str
    lines: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CalculatorForm:
    """The form as sent: its values (to show again), the errors by field, and the result when every value is read.

    Attributes:
        values: field → text as typed (franc: "oui" or ""). errors: field → French message.
        result: the computed date, None while a value is missing or wrong. asked: the form was submitted (not
            a first visit, nor an htmx refresh while fields are still being filled in).
    """

    values: dict[str, str]
    errors: dict[str, str]
    result: Calculation | None
    asked: bool


@cache
def departement_options() -> tuple[tuple[str, str], ...]:
    """Every département that can seat a CPTS (mainland, Corsica, 971–976), by code: (code, "Moselle (57)")."""
    codes = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"] + [str(n) for n in range(971, 977)]
    found = []
    for code in codes:
        try:
            seat = territory.departement(code)
        except territory.UnknownDepartement:
            continue
        found.append((seat.code, f"{seat.name} ({seat.code})"))
    return tuple(sorted(found, key=lambda option: option[0].replace("2A", "20A").replace("2B", "20B")))


def _seats() -> dict[str, str]:
    return dict(departement_options())


def read_form(query: dict[str, str], *, default_departement: str = "") -> CalculatorForm:
    """Read the calculator's fields; compute the date when every one is present and right.

    Submitted (the button's `calculer` is in the query): a missing value is an error. Otherwise (a first visit,
    or htmx refreshing while the user fills the form in) only a value given and wrong is one."""
    asked = "calculer" in query
    values = {name: str(query.get(name, "")).strip()[:MAX_VALUE_CHARS] for name in FIELDS}
    if not any(values.values()) and not asked:
        values.update({"unite": "jours", "sens": "apres", "nature": DeadlineKind.PROCEDURAL.value,
                       "departement": default_departement if default_departement in _seats() else ""})
        return CalculatorForm(values, {}, None, False)
    errors: dict[str, str] = {}
    missing: set[str] = set()

    def refuse(name: str, message: str) -> None:
        """A value given and wrong is an error; a value not given yet is missing."""
        if values[name]:
            errors[name] = message
        else:
            missing.add(name)

    anchor = _anchor(values["date"], errors, missing)
    if anchor is not None:
        values["date"] = anchor.isoformat()  # what a date picker shows (a date typed JJ/MM/AAAA is read too)
    unit = values["unite"] if values["unite"] in dict(UNITS) else None
    if unit is None:
        refuse("unite", _MISSING["unite"])
    amount = _amount(values["duree"], unit, errors, missing)
    before = {"apres": False, "avant": True}.get(values["sens"])
    if before is None:
        refuse("sens", _MISSING["sens"])
    seat = values["departement"].upper()
    if seat not in _seats():
        refuse("departement", "Choisissez le département du siège de la CPTS dans la liste.")
    kind = values["nature"] if values["nature"] in {k.value for k in DeadlineKind} else None
    if kind is None:
        refuse("nature", "Choisissez la nature du délai dans la liste.")
    franc = values["franc"] == FRANC
    if values["franc"] and not franc:
        errors["franc"] = "Cochez la case ou laissez-la vide."
    if franc and before:
        errors["franc"] = ("Un délai franc se compte après la date de départ : décochez « délai franc » pour un "
                           "délai compté à rebours.")
    if asked:
        for name in missing:
            errors.setdefault(name, _MISSING[name])
    if errors or missing:
        return CalculatorForm(values, errors, None, asked)
    assert anchor is not None and amount is not None and unit is not None and kind is not None
    period = Period(months=amount) if unit == "mois" else Period(days=amount)
    try:
        computed = LegalCalendar(seat).add(anchor, period, kind=kind, before=bool(before), franc=franc)
    except CalendarError:
        errors["duree"] = (f"La date obtenue sort du calendrier légal, qui va du {long_date(FIRST_CALENDAR_DATE)} "
                           f"au {long_date(LAST_CALENDAR_DATE)} : indiquez une durée plus courte.")
        return CalculatorForm(values, errors, None, asked)
    return CalculatorForm(values, {}, _calculation(computed, seat), asked)


_MISSING = {"date": "Indiquez la date de départ.", "duree": "Indiquez le nombre de jours ou de mois.",
            "unite": "Choisissez « jours » ou « mois ».",
            "sens": "Choisissez « après » ou « avant » la date de départ.",
            "departement": "Choisissez le département du siège de la CPTS.",
            "nature": "Choisissez la nature du délai."}


def _anchor(text: str, errors: dict[str, str], missing: set[str]) -> date | None:
    if not text:
        missing.add("date")
        return None
    french = _FRENCH_DATE.fullmatch(text)
    try:
        day = (date(int(french.group(3)), int(french.group(2)), int(french.group(1))) if french
               else date.fromisoformat(text))
    except ValueError:
        errors["date"] = "Date illisible : écrivez-la sous la forme JJ/MM/AAAA, par exemple 10/03/2025."
        return None
    if not FIRST_CALENDAR_DATE <= day <= LAST_CALENDAR_DATE:
        errors["date"] = (f"Le calendrier légal va du {long_date(FIRST_CALENDAR_DATE)} au "
                          f"{long_date(LAST_CALENDAR_DATE)} : choisissez une date dans cet intervalle.")
        return None
    return day


def _amount(text: str, unit: str | None, errors: dict[str, str], missing: set[str]) -> int | None:
    if not text:
        missing.add("duree")
        return None
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        errors["duree"] = "Indiquez un nombre entier de jours ou de mois, par exemple 15."
        return None
    amount = int(text)
    if amount < 0:
        errors["duree"] = "La durée ne peut pas être négative : choisissez « avant » pour compter à rebours."
        return None
    bound = MAX_MONTHS if unit == "mois" else MAX_DAYS
    if amount > bound:
        errors["duree"] = f"Au plus {bound:,} {unit or 'jours'} (un siècle).".replace(",", "\u202f")
        return None
    return amount


def _calculation(computed: DateExplanation, seat: str) -> Calculation:
    """The result of `LegalCalendar.add` said the pages' way: the reason of a stored deadline is read from the same
    explanation (`DateExplanation.as_dict`), so the calculator and a case's page explain a date alike."""
    reason = due_date_reason(json.dumps(computed.as_dict()))
    lines = explanation_lines(reason, status="pending", expiry_event=None)
    # The anchor is the date typed, not an event of a case.
    start = long_date(computed.anchor)
    lines[0] = ("Point de départ", f"{start[:1].upper()}{start[1:]}, date indiquée")
    period = f"{reason.months} mois" if reason.months else f"{reason.days} jour{'s' if reason.days > 1 else ''}"
    kind = labels.KIND_LABELS.get(reason.kind, reason.kind).lower()
    summary = (f"{period} {'avant' if reason.before else 'après'} le {start}"
               f"{' (délai franc)' if reason.franc else ''} — siège : "
               f"{_seats()[seat]}, {kind}")
    return Calculation(computed.due, summary, tuple(lines))


@router.get("/calendrier")
def calculator_page(request: Request, user: Annotated[User, Depends(current_user)]) -> Response:
    """The date calculator: the form, and the due date with its explanation once every field is filled in."""
    scope = user_scope(user)
    default = scope.departements[0] if scope.departements else ""
    form = read_form(dict(request.query_params), default_departement=default)
    # An htmx refresh gets the calculator alone; a history restore (back button) needs the whole page.
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    status = 422 if form.errors and not fragment else 200
    context = {"form": form, "section": "calculator", "title": "Calculateur de délais",
               "options": {"unite": UNITS, "sens": DIRECTIONS, "departement": departement_options(),
                           "nature": tuple((k.value, labels.KIND_LABELS[k.value]) for k in DeadlineKind),
                           "franc": ((FRANC, "Délai franc : le dernier jour ne compte pas non plus"),)}}
    return render(request, "calculator_panel.html" if fragment else "calculator.html", context,
                  status_code=status, headers={"Vary": "HX-Request"})
