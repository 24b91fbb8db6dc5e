"""*Fiche CPTS* (`/cpts/{id}`): a case's header, lifecycle, deadlines with the reason of each date, history,
échéancier, indicators, overlaps; the journal's hash chain on demand; voiding an entry; assigning referents.

Everything shown is read from the projection tables (`workflows.read.case_page`), never by replaying the journal;
the chain check, which recomputes every row's hash, runs only when asked for (`/cpts/{id}/verification`, a
fragment htmx loads in place, a plain page without JavaScript).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dashboard import formatting, labels
from dashboard.access import may_assign, may_record, may_record_any, user_scope, visible_case
from dashboard.explain import explanation_lines
from dashboard.messages import french
from dashboard.pages import current_user, render, web
from dashboard.routes.events import FLASH, summarise
from dashboard.security import Forbidden, NotFound
from lifecycle.errors import DomainError
from lifecycle.indicators import NATIONAL_ACCESS_INDICATORS
from workflows.persistence.errors import DatabaseNotReady, DatabaseUnavailable
from workflows.persistence.tables import Case, User
from workflows.read.case_page import CaseSheet, attainment_percent, case_sheet, chain_status
from workflows.read.people import list_users
from workflows.read.rulesets import governing, origin_text
from workflows.services import void
from workflows.services.clock import local_today
from workflows.services.people import PeopleError, assign, normalise_email, normalise_name

router = APIRouter()

NATIONAL_INDICATOR_LABELS = {n.name: n.label for n in NATIONAL_ACCESS_INDICATORS}
SHOWN_COMMUNES = 12


# ------------------------------------------------------------------------------------------ presentation
def lifecycle_steps(sheet: CaseSheet) -> list[tuple[str, str]]:
    """The stepper: (phase label, done | current | todo | skipped) over labels.PHASES."""
    phase = labels.STATE_PHASES.get(sheet.state, "prospect")
    if phase == "contract" and sheet.socle_deployed:
        phase = "deployed"
    names = [labels.PHASE_LABELS[p] for p in labels.PHASES]
    if phase != "ended":
        current = labels.PHASES.index(phase)
        return [(name, "done" if i < current else "current" if i == current else "todo")
                for i, name in enumerate(names)]
    reached = {"prospect"}
    for milestone, reached_phase in (("loi_submitted", "loi"), ("health_project_received", "health_project"),
                                     ("contract_signed", "contract")):
        if milestone in sheet.milestones:
            reached.add(reached_phase)
    if sheet.socle_deployed:
        reached.add("deployed")
    return [(name, "current" if p == "ended" else "done" if p in reached else "skipped")
            for p, name in zip(labels.PHASES, names, strict=True)]


def _case_context(request: Request, user: User, case: Case, **extra: Any) -> dict[str, Any]:
    context = web(request)
    today = local_today(case, context.now())
    sheet = case_sheet(context.uow, case, today=today)
    scope = user_scope(user)
    communes = sheet.communes
    return {
        "sheet": sheet, "case": case, "section": "portfolio", "title": sheet.name,
        "steps": lifecycle_steps(sheet),
        "deadlines": [(d, labels.ACTOR_LABELS.get(d.actor, d.actor),
                       explanation_lines(d.reason, status=d.status, expiry_event=d.expiry_event))
                      for d in sheet.deadlines],
        "journal": [(j, summarise(j.type, j.data)) for j in sheet.journal],
        "indicator_labels": NATIONAL_INDICATOR_LABELS,
        "percent": attainment_percent,
        "overlaps": [(o, scope.covers(o.seat_departement, o.region)) for o in sheet.overlaps],
        "shown_communes": communes[:SHOWN_COMMUNES], "more_communes": max(len(communes) - SHOWN_COMMUNES, 0),
        "may_record": may_record_any(user, case),
        "may_void": may_record(user, case, "event_voided"),
        "may_assign": may_assign(user, case),
        "flash": request.session.pop(FLASH, None),
        "void_error": None,
        "timers_message": _timers_message(sheet),
        # Which version of the accord governs the case today, and each line's ruleset row (issue 13).
        "governing": governing(sheet.ruleset_id, sheet.contract_signed_on, today),
        "origin_text": origin_text,
        **extra,
    }


def _timers_message(sheet: CaseSheet) -> str | None:
    """A window closed whose timer the sweep has not recorded yet (the state shown is the last one written)."""
    if not sheet.timers_due:
        return None
    what = " ; ".join(f"{d.label} (échéance du {formatting.long_date(d.due)}) : "
                      f"« {labels.EVENT_LABELS.get(d.expiry_event or '', d.expiry_event)} »" for d in sheet.timers_due)
    return (f"Délai écoulé, suite automatique pas encore enregistrée — {what}. Le planificateur l'enregistre à son "
            "prochain passage ; l'état affiché est celui du dernier enregistrement.")


# ------------------------------------------------------------------------------------------ routes
@router.get("/cpts/{case_id}")
def case_page(request: Request, case_id: str, user: Annotated[User, Depends(current_user)]) -> Response:
    case = visible_case(web(request).uow, user, case_id)
    return render(request, "case.html", _case_context(request, user, case))


@router.get("/cpts/{case_id}/verification")
def case_verification(request: Request, case_id: str, user: Annotated[User, Depends(current_user)]) -> Response:
    """The journal's hash chain recomputed (`cpts case verify`): a fragment for htmx, a page without it."""
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    status = chain_status(context.uow, case.id)
    template = "case_verification_result.html" if request.headers.get("hx-request") == "true" \
        else "case_verification.html"
    return render(request, template, {"case": case, "chain": status, "section": "portfolio",
                                      "title": f"Intégrité du journal — {case.name}"})


@router.post("/cpts/{case_id}/annuler/{seq}")
def void_entry(request: Request, case_id: str, seq: str, user: Annotated[User, Depends(current_user)],
               motif: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Void journal entry `seq` (a mistaken record) with a reason: the case is rebuilt without it."""
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    if not may_record(user, case, "event_voided"):
        raise Forbidden("Seuls le binôme du dossier et les administrateurs peuvent annuler une saisie.")
    if not seq.isdigit() or not 1 <= int(seq) < 2**31:
        raise NotFound()
    number = int(seq)
    reason = motif.strip()
    if not reason:
        return _void_refused(request, user, case, number, motif, "Indiquez le motif de l'annulation.")
    now = context.now()
    today = local_today(case, now)
    try:
        void(context.writer, case.id, number, user.email, at=today, reason=reason, today=today, now=now)
    except (DatabaseUnavailable, DatabaseNotReady):
        raise
    except DomainError as exc:
        return _void_refused(request, user, case, number, motif, french(exc))
    request.session[FLASH] = f"Saisie n° {number} annulée : le dossier a été recalculé sans elle."
    return RedirectResponse(f"/cpts/{case.id}", status_code=303)


def _void_refused(request: Request, user: User, case: Case, seq: int, reason: str, message: str) -> Response:
    context = _case_context(request, user, case, void_error={"seq": seq, "message": message, "reason": reason})
    return render(request, "case.html", context, status_code=422)


# ------------------------------------------------------------------------------------------ referents
def _eligible(request: Request, case: Case) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """ARS agents whose scope covers the case's région, CPAM agents covering its département: (email, label)."""
    uow = web(request).uow
    ars = [(u.email, f"{u.name} ({u.email})") for u in list_users(uow, role="ars")
           if u.scope.covers(case.seat_departement, case.region)]
    cpam = [(u.email, f"{u.name} ({u.email})") for u in list_users(uow, role="cpam")
            if u.scope.covers(case.seat_departement, case.region)]
    return ars, cpam


def _referents_context(request: Request, case: Case, values: dict[str, str], errors: dict[str, str],
                       error: str | None = None) -> dict[str, Any]:
    ars, cpam = _eligible(request, case)
    return {"case": case, "ars_options": ars, "cpam_options": cpam, "values": values, "errors": errors, "error": error,
            "section": "portfolio", "title": f"Référents — {case.name}"}


def _current_values(request: Request, case: Case) -> dict[str, str]:
    uow = web(request).uow
    with uow:
        ars = uow.users.get(case.ars_referent_id) if case.ars_referent_id else None
        cpam = uow.users.get(case.cpam_referent_id) if case.cpam_referent_id else None
    return {"ars": ars.email if ars else "", "cpam": cpam.email if cpam else "",
            "contact_name": case.cpts_contact_name or "", "contact_email": case.cpts_contact_email or ""}


def _check_assigner(user: User, case: Case) -> None:
    if not may_assign(user, case):
        raise Forbidden("Seuls le binôme du dossier et les administrateurs désignent ses référents et son contact.")


@router.get("/cpts/{case_id}/referents")
def referents_form(request: Request, case_id: str, user: Annotated[User, Depends(current_user)]) -> Response:
    case = visible_case(web(request).uow, user, case_id)
    _check_assigner(user, case)
    return render(request, "case_referents.html", _referents_context(request, case, _current_values(request, case),
                                                                      {}))


@router.post("/cpts/{case_id}/referents")
def referents_submit(request: Request, case_id: str, user: Annotated[User, Depends(current_user)],
                     ars: Annotated[str, Form(max_length=400)] = "", cpam: Annotated[str, Form(max_length=400)] = "",
                     contact_name: Annotated[str, Form(max_length=1000)] = "",
                     contact_email: Annotated[str, Form(max_length=1000)] = "") -> Response:
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    _check_assigner(user, case)
    values = {"ars": ars, "cpam": cpam, "contact_name": contact_name, "contact_email": contact_email}
    errors: dict[str, str] = {}
    # Each field checked on its own first, so that every mistake is shown at once.
    for field, check in (("contact_name", lambda v: normalise_name(v, "--contact-name", "Dr Anne Weber")),
                         ("contact_email", lambda v: normalise_email(v, "--contact-email"))):
        if values[field].strip():
            try:
                check(values[field])
            except PeopleError as exc:
                errors[field] = french(exc)
    if errors:
        return render(request, "case_referents.html", _referents_context(request, case, values, errors),
                      status_code=422)
    given = {name: (value.strip() or None) for name, value in values.items()}
    if all(value is None for value in given.values()):
        return render(request, "case_referents.html",
                      _referents_context(request, case, values, {}, "Rien à enregistrer : choisissez un référent ou "
                                                                    "indiquez le contact de la CPTS."),
                      status_code=422)
    try:
        assign(context.writer, case.id, ars_email=given["ars"], cpam_email=given["cpam"],
               contact_name=given["contact_name"], contact_email=given["contact_email"], now=context.now())
    except (DatabaseUnavailable, DatabaseNotReady):
        raise
    except DomainError as exc:
        message = str(exc)
        field = _assignment_field(message, given)
        errors = {field: french(exc)} if field else {}
        return render(request, "case_referents.html",
                      _referents_context(request, case, values, errors, None if field else french(exc)),
                      status_code=422)
    request.session[FLASH] = "Référents et contact de la CPTS enregistrés."
    return RedirectResponse(f"/cpts/{case.id}", status_code=303)


def _assignment_field(message: str, given: dict[str, str | None]) -> str | None:
    """The field an assignment refusal is about (the service names the option or the role)."""
    for field, marks in (("ars", ("--ars", "ARS referent", "ARS agent")), ("cpam", ("--cpam", "CPAM referent",
                                                                                    "CPAM agent")),
                         ("contact_name", ("--contact-name",)), ("contact_email", ("--contact-email",))):
        if any(mark in message for mark in marks):
            return field
    for field in ("ars", "cpam"):  # "no user with e-mail …": the field that named them
        if given[field] and repr(given[field]) in message:
            return field
    return None
