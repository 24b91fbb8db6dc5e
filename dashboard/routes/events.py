"""*Enregistrer un événement* (`/cpts/{id}/evenement`): a form for each event the case's state allows, built from
the event vocabulary (`lifecycle.events.EVENT_SPECS`, SPEC §11), recorded through `workflows.services.apply`.

- The events offered are those the lifecycle table allows in the case's current state (`lifecycle.machine`)
  that the user may record (`dashboard.access.may_record`): the binôme and administrators every one of them,
  legal staff the termination and CPL events, national staff none (403, and no form anywhere).
- Each data key gets the widget its checker calls for: a select for a choice, checkboxes for missions and
  documents, a date picker, a year, an amount, a yes/no, a text, or JSON for the indicators.
- A refused event (a `DomainError`: bad data, a date in the future, a transition the state does not allow)
  re-displays the form (422) with the engine's message next to the field it is about, the values kept, and
  nothing written; a recorded one goes back to the case page (303) with a message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select
from starlette.datastructures import FormData

from dashboard import formatting, labels
from dashboard.access import RECORDABLE_EVENTS, may_record, may_record_any, visible_case
from dashboard.messages import french
from dashboard.pages import current_user, render, web
from dashboard.security import Forbidden
from lifecycle.errors import DomainError, EventRejected, WindowClosed
from lifecycle.events import EVENT_SPECS, FieldShape, field_shape, parse_data_json
from lifecycle.indicators import NATIONAL_ACCESS_INDICATORS
from lifecycle.machine import allowed_states
from workflows.persistence.errors import DatabaseNotReady, DatabaseUnavailable
from workflows.persistence.tables import Case, DeadlineRow, User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply
from workflows.services.cases import ruleset_for
from workflows.services.clock import local_today
from workflows.settings import cpl_seats

router = APIRouter()

FLASH = "case_flash"  # the message the case page shows once, after a write
MAX_FIELD_CHARS = 70_000  # a form value (the indicators' JSON is the largest: 64 KB at most, SPEC bounds)

INDICATORS_EXAMPLE = ('{"access": {"indicators": [{"name": "patients_with_medecin_traitant", "baseline": 0.70, '
                      '"target": 0.80, "actual": 0.75}]}}')
EVIDENCE_EXAMPLE = "LRAR 1A 123 456 7890 1"
LRAR_EXAMPLE = "1A 123 456 7890 1"


def choice_label(key: str, value: object) -> str:
    if key == "component":
        return labels.component_label(str(value))
    if key in ("missions", "add_missions", "drop_missions"):
        return labels.MISSION_LABELS.get(str(value), str(value))
    return labels.CHOICE_LABELS.get(key, {}).get(str(value), str(value))


def field_label(event_type: str, key: str) -> str:
    return labels.EVENT_FIELD_LABELS.get((event_type, key)) or labels.FIELD_LABELS.get(key, key.replace("_", " "))


# ------------------------------------------------------------------------------------------ the form's fields
@dataclass(frozen=True)
class FormField:
    """One data key of an event as a form field.

    Attributes:
        key: the data key (SPEC §11); name: the form field's name (`d_<key>`).
        widget: select, checkboxes, date, year, number, amount, boolean (a box, the event has a default),
            yesno (a select: yes, no, or not given), text, json.
        label, help: French. required: the event needs it. options: (value, label) of a select or checkboxes.
        default: what the form shows first (a box ticked by default, the options of a list ticked).
    """

    key: str
    name: str
    widget: str
    label: str
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    default: Any = None
    help: str | None = None


# The widget each shape of data calls for (lifecycle.events.FieldShape.kind).
WIDGETS = {"choice": "select", "choices": "checkboxes", "boolean": "boolean", "population": "number",
           "year": "year", "amount": "amount", "paid_amount": "amount", "date": "date", "text": "text",
           "number": "text", "seq": "number", "indicators": "json"}


def widget_of(shape: FieldShape) -> str:
    """The widget of a data key; "text" (the engine still checks the value) for a shape this page does not know."""
    return WIDGETS.get(shape.kind, "text")


def event_fields(event_type: str) -> tuple[FormField, ...]:
    """The form fields of an event's data, required ones first, in the vocabulary's order (a CPL deliberation:
    one widget of counts, see `read_deliberation`)."""
    if event_type == "cpl_meeting_held":
        return (FormField("deliberation", "d_deliberation", "deliberation", "Délibération de la CPL", False,
                          help="Laissez tout vide pour enregistrer la réunion sans sa délibération."),)
    spec = EVENT_SPECS[event_type]
    fields = []
    for required, checkers in ((True, spec.required), (False, spec.optional)):
        for key, checker in checkers.items():
            shape = field_shape(checker)
            widget = widget_of(shape)
            default = spec.defaults.get(key)
            options: tuple[tuple[str, str], ...] = ()
            help_text = None
            if widget in ("select", "checkboxes"):
                options = tuple((v, choice_label(key, v)) for v in shape.allowed)
            if widget == "boolean" and key not in spec.defaults:
                widget = "yesno"  # not given means "unchanged": a box could not say it
            if widget == "year":
                options = tuple((str(y), f"Année {y}") for y in range(1, 6))
                if event_type == "payment_recorded":  # the payment at the lettre d'intention (ACI avenant 2)
                    options = (("0", "Avant le contrat (soutien dès la lettre d'intention)"), *options)
            if widget == "amount":
                help_text = "En euros, par exemple 12 500,00."
            if widget == "json":
                names = ", ".join(n.name for n in NATIONAL_ACCESS_INDICATORS)
                help_text = (f"Un objet par mission, par exemple {INDICATORS_EXAMPLE}. Indicateurs nationaux de la "
                             f"mission d'accès : {names}.")
            fields.append(FormField(key, f"d_{key}", widget, field_label(event_type, key), required, options,
                                    default, help_text))
    return tuple(fields)


def events_allowed(state: str) -> tuple[str, ...]:
    """Events a person may record in `state` according to the lifecycle table (guards aside), in vocabulary
    order; voiding an entry is done from the history, not here."""
    return tuple(e for e in RECORDABLE_EVENTS if e != "event_voided" and state in allowed_states(e))


# Acts that only complete a deadline of the CPL procedure: offered while it is open (pending, or breached and
# still to be done late), not on every case whose state would allow them (the engine checks the rest).
COMPLETING_ACTS = {"cpl_convocations_sent": "cpl_convocation", "cpl_agenda_sent": "cpl_agenda",
                   "cpl_minutes_signed": "cpl_minutes", "cpl_carence_recorded": "cpl_meeting"}


def open_deadline_keys(uow: SqlUnitOfWork, case_id: int) -> frozenset[str]:
    """The keys of the case's deadlines still to be met (pending or breached), without their suffix."""
    with uow:
        keys = uow.session.exec(select(DeadlineRow.key).where(
            DeadlineRow.case_id == case_id, col(DeadlineRow.status).in_(("pending", "breached")))).all()
    return frozenset(key.split(".", 1)[0] for key in keys)


def offered_events(user: User, case: Case, open_keys: frozenset[str]) -> tuple[str, ...]:
    return tuple(e for e in events_allowed(case.state) if may_record(user, case, e)
                 and (e not in COMPLETING_ACTS or COMPLETING_ACTS[e] in open_keys))


# ------------------------------------------------------------------------------------------ reading the form
@dataclass(frozen=True)
class Submission:
    """What a form sent: the event's data (as the engine will check it), the raw values to show again, and
    the errors found before the engine was asked (a JSON text that does not parse)."""

    data: dict[str, Any]
    values: dict[str, Any]
    errors: dict[str, str]


def read_submission(fields: tuple[FormField, ...], form: FormData) -> Submission:
    data: dict[str, Any] = {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if f.widget == "deliberation":
            deliberation, raw = read_deliberation(form)
            data.update(deliberation)
            values.update(raw)
            continue
        if f.widget == "checkboxes" or f.widget == "boolean":
            chosen = [str(v)[:200] for v in form.getlist(f.name)]
            values[f.name] = chosen
            if f.widget == "boolean":
                data[f.key] = "true" in chosen
            elif chosen or f.required:
                data[f.key] = chosen
            continue
        raw = str(form.get(f.name) or "")[:MAX_FIELD_CHARS]
        values[f.name] = raw
        text = raw.strip()
        if not text:
            if f.required:
                data[f.key] = raw if f.widget in ("text", "json") else None
            continue
        if f.widget == "yesno":
            data[f.key] = {"true": True, "false": False}.get(text, text)
        elif f.widget in ("year", "number"):
            compact = _compact(text)
            data[f.key] = int(compact) if compact.isdigit() and len(compact) < 12 else text
        elif f.widget == "amount":
            data[f.key] = _amount_text(text)
        elif f.widget == "json":
            try:
                data[f.key] = parse_data_json(text)
            except EventRejected as exc:
                errors[f.key] = french(exc)
        else:
            data[f.key] = text
    # A required key left empty is sent as None: the engine names it ("… is not accepted"), next to its field.
    return Submission(data, values, errors)


# ---- the CPL deliberation's widget (annex 5 art. 2): numbers per section, the proxies as rows of a member and a
# count, the vote and the second, secret vote on a tie; the server builds the event's data from them.
SECTIONS = (("professional", "Section professionnelle"), ("social", "Section sociale"))
VOTES = (("for", "Pour"), ("against", "Contre"), ("blank", "Blancs"), ("abstention", "Abstentions"))
PROXY_ROWS = 6  # far above the usual; a member holds at most 3 proxies (the engine checks it)
DELIBERATION_KEYS = ("present", "represented", "proxies", "votes", "second_vote", "seats")


def deliberation_names() -> list[str]:
    """The names of the widget's inputs (`d_present_professional`, `d_proxy_holder_1`, …)."""
    names = [f"d_{group}_{section}" for group in ("present", "represented", "seats") for section, _ in SECTIONS]
    names += [f"d_{group}_{key}" for group in ("votes", "second_vote") for key, _ in VOTES]
    names += [f"d_proxy_{part}_{i}" for i in range(1, PROXY_ROWS + 1) for part in ("holder", "count")]
    return names


def _cpl_rules(request: Request, case: Case) -> dict[str, Any] | None:
    """What the deliberation's form says of the case's CPL: the seats a deliberation recorded here is held under
    when none are typed (`with_cpl_seats`) and the most delegations one member holds (the ruleset's)."""
    try:
        cpl = ruleset_for(case).cpl
    except DomainError:
        return None
    if cpl is None:
        return None
    seats = cpl_seats(web(request).cpl_members, case.seat_departement) or dict(cpl.members)
    return {"seats": seats, "max_proxies": cpl.max_proxies_per_member}


def read_deliberation(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The deliberation's data as the engine checks it, and the raw values to show again. A group left empty is
    not sent (the meeting without its deliberation when all are); an empty count of a group given is 0; a count
    that is not a whole number is sent as typed, for the engine to refuse in its words."""
    raw = {name: str(form.get(name) or "")[:200] for name in deliberation_names()}

    def count(name: str) -> int | str:
        compact = _compact(raw[name])
        if not compact:
            return 0
        return int(compact) if compact.isdigit() and len(compact) < 12 else raw[name].strip()

    def group(prefix: str, keys: tuple[tuple[str, str], ...]) -> dict[str, int | str] | None:
        names = [f"d_{prefix}_{key}" for key, _ in keys]
        if not any(raw[name].strip() for name in names):
            return None
        return {key: count(name) for (key, _), name in zip(keys, names, strict=True)}

    data: dict[str, Any] = {}
    for key, keys in (("present", SECTIONS), ("represented", SECTIONS), ("votes", VOTES),
                      ("second_vote", VOTES), ("seats", SECTIONS)):
        found = group(key, keys)
        if found is not None:
            data[key] = found
    proxies = []
    for i in range(1, PROXY_ROWS + 1):
        holder, number = raw[f"d_proxy_holder_{i}"].strip(), raw[f"d_proxy_count_{i}"].strip()
        if holder or number:
            proxies.append({"holder": holder, "count": count(f"d_proxy_count_{i}") if number else 1})
    if proxies:
        data["proxies"] = proxies
    return data, raw


def _amount_text(text: str) -> str:
    """An amount as the engine reads it ("12500.00") when it was typed the French way ("12 500,00 €"); anything
    else as typed, for the engine to refuse in its own words."""
    compact = _compact(text).removesuffix("€").replace(",", ".")
    return compact if _AMOUNT.fullmatch(compact) else text


_AMOUNT = re.compile(r"[+-]?\d+(\.\d+)?")


def _compact(text: str) -> str:
    """"12 500,00" as typed in French (spaces, no-break spaces as thousands separators) without its blanks."""
    return "".join(text.split()).replace("\u202f", "").replace("\xa0", "")


# The registered letter behind an event (structured evidence, lifecycle.events.Evidence): form field → part.
EVIDENCE_FIELDS = {"lrar": "lrar", "presente_le": "presented_on", "recu_le": "received_on"}


def evidence_of(reference: str, letter: Mapping[str, str]) -> str | dict[str, str] | None:
    """What the form's evidence fields give the engine: the reference text alone (as evidence always was), or
    structured evidence when a letter's number or date is filled in."""
    parts = {EVIDENCE_FIELDS[name]: value.strip() for name, value in letter.items() if value.strip()}
    if not parts:
        return reference or None
    return {"reference": reference, **parts} if reference.strip() else parts


def field_of_error(message: str, keys: tuple[str, ...], *, window_closed: bool = False) -> str | None:
    """The form field an engine message is about: a data key, "at" (the event date), "evidence" or one of the
    letter's fields (EVIDENCE_FIELDS), or None."""
    for name, part in EVIDENCE_FIELDS.items():
        if message.startswith((f"{part}=", f"malformed {part} ", f"{part} ", f"evidence: {part} ")):
            return name
    if window_closed or message.startswith("malformed event date") or message.startswith("event date ") \
            or " is in the future " in message:
        return "at"
    if message.startswith("evidence"):
        return "evidence"
    for key in keys:
        if message.startswith((f"{key}=", f"{key}:", f"{key}.", f"{key} ", f"malformed {key} ")):
            return key
    if "missing data key(s) " in message:
        missing = message.split("missing data key(s) ", 1)[1].split(",")[0].strip()
        if missing in keys:
            return missing
    return None


# ------------------------------------------------------------------------------------------ routes
async def posted_form(request: Request) -> FormData:
    """The submitted form (already read, and cached, by the CSRF check)."""
    return await request.form()


def _context(request: Request, user: User, case: Case, chosen: str | None, *, values: Mapping[str, Any] | None = None,
             errors: Mapping[str, str] | None = None, error: str | None = None,
             key: str | None = None) -> dict[str, Any]:
    offered = offered_events(user, case, open_deadline_keys(web(request).uow, case.id))
    today = local_today(case, web(request).now())
    return {
        "case": case, "offered": offered, "chosen": chosen,
        "offered_options": [("", "— choisir un événement —")] + [(e, labels.EVENT_LABELS.get(e, e)) for e in offered],
        "fields": event_fields(chosen) if chosen else (), "values": dict(values or {}), "errors": dict(errors or {}),
        "error": error, "case_today": today, "idempotency_key": key or secrets.token_urlsafe(16),
        "evidence_example": EVIDENCE_EXAMPLE, "lrar_example": LRAR_EXAMPLE, "section": "portfolio",
        "sections": SECTIONS, "vote_keys": VOTES, "proxy_rows": range(1, PROXY_ROWS + 1),
        "cpl": _cpl_rules(request, case) if chosen == "cpl_meeting_held" else None,
    }


@router.get("/cpts/{case_id}/evenement")
def event_form(request: Request, case_id: str, user: Annotated[User, Depends(current_user)],
               type: str | None = None) -> Response:
    case = visible_case(web(request).uow, user, case_id)
    if not may_record_any(user, case):
        raise Forbidden("Vous ne pouvez pas enregistrer d'événement sur ce dossier : seuls son binôme ARS/CPAM et "
                        "les administrateurs le peuvent (le service juridique : résiliation et CPL).")
    htmx = request.headers.get("hx-request") == "true"
    chosen = type or None
    if chosen is not None and chosen not in offered_events(user, case, open_deadline_keys(web(request).uow, case.id)):
        context = _context(request, user, case, None,
                           error="Cet événement ne peut pas être enregistré ici : choisissez-en un dans la liste.")
        return render(request, "event_form.html" if htmx else "event.html", context, status_code=422)
    context = _context(request, user, case, chosen)
    return render(request, "event_form.html" if htmx else "event.html", context)


@router.post("/cpts/{case_id}/evenement")
def event_submit(request: Request, case_id: str, user: Annotated[User, Depends(current_user)],
                 form: Annotated[FormData, Depends(posted_form)]) -> Response:
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    event_type = str(form.get("type") or "")
    if event_type not in EVENT_SPECS or not may_record(user, case, event_type):
        raise Forbidden("Vous ne pouvez pas enregistrer cet événement sur ce dossier.")
    fields = event_fields(event_type)
    submission = read_submission(fields, form)
    at = str(form.get("at") or "")[:40]
    evidence = str(form.get("evidence") or "")[:MAX_FIELD_CHARS]
    letter = {name: str(form.get(name) or "")[:200] for name in EVIDENCE_FIELDS}
    key = str(form.get("cle") or "")[:100] or None
    values = {**submission.values, "at": at, "evidence": evidence, **letter}
    errors = {f.name: submission.errors[f.key] for f in fields if f.key in submission.errors}
    if not at.strip():
        errors["at"] = "Indiquez la date de l'événement."
    if errors:
        return _refused(request, user, case, event_type, values, errors, None, key)
    now = context.now()
    try:
        result = apply(context.writer, case.id, NewEvent(event_type, at.strip(), submission.data,
                                                         evidence_of(evidence, letter)),
                       user.email, today=local_today(case, now), now=now, idempotency_key=key,
                       cpl_members=context.cpl_members)
    except (DatabaseUnavailable, DatabaseNotReady):
        raise
    except DomainError as exc:
        message = str(exc)
        keys = DELIBERATION_KEYS if event_type == "cpl_meeting_held" else tuple(f.key for f in fields)
        where = field_of_error(message, keys, window_closed=isinstance(exc, WindowClosed))
        if where is None:
            return _refused(request, user, case, event_type, values, {}, french(exc), key)
        name = where if where in ("at", "evidence", *EVIDENCE_FIELDS) else f"d_{where}"
        return _refused(request, user, case, event_type, values, {name: french(exc)}, None, key)
    request.session[FLASH] = (f"Événement enregistré : {labels.EVENT_LABELS.get(event_type, event_type)} du "
                              f"{formatting.long_date(date.fromisoformat(at.strip()))} (saisie n° {result.seq}).")
    return RedirectResponse(f"/cpts/{case.id}", status_code=303)


def _refused(request: Request, user: User, case: Case, event_type: str, values: dict[str, Any],
             errors: dict[str, str], error: str | None, key: str | None) -> Response:
    """The form again, with the values given and what was refused (nothing was written)."""
    context = _context(request, user, case, event_type, values=values, errors=errors, key=key,
                       error=error or "L'événement n'a pas été enregistré : corrigez le champ signalé.")
    return render(request, "event.html", context, status_code=422)


# ------------------------------------------------------------------------------------------ the history's words
def summarise(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """An event's data in French, one phrase per key ("Origine du premier contact : ARS")."""
    phrases = []
    spec = EVENT_SPECS.get(event_type)
    order = [*spec.required, *spec.optional] if spec is not None else []
    for key, value in sorted(data.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)):
        label = field_label(event_type, key).removesuffix(" (€)").removesuffix(" (JSON)")
        phrases.append(f"{label} : {_shown(event_type, key, value)}")
    return phrases


def _shown(event_type: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if event_type == "cpl_meeting_held" and key == "proxies" and isinstance(value, list):
        return ", ".join(f"{p.get('holder')} ({p.get('count')})" for p in value if isinstance(p, dict)) or "aucune"
    if event_type == "cpl_meeting_held" and isinstance(value, dict):
        words = dict(SECTIONS) | dict(VOTES)
        return ", ".join(f"{words.get(k, k).lower()} {v}" for k, v in value.items())
    if key in ("amount",):
        try:
            return formatting.euros(value)
        except (ArithmeticError, ValueError, TypeError):
            return str(value)
    if key == "date" and isinstance(value, str):
        try:
            return formatting.long_date(date.fromisoformat(value))
        except ValueError:
            return value
    if key == "seq":
        return f"n° {value}"
    if key == "year" or key == "population":
        return formatting.number(value) if isinstance(value, int) else str(value)
    if isinstance(value, list):
        return ", ".join(choice_label(key, v) for v in value) or "aucune"
    if event_type == "indicators_reported" and key == "missions" and isinstance(value, dict):
        return ", ".join(labels.MISSION_LABELS.get(m, m) for m in value)
    if isinstance(value, str):
        return choice_label(key, value)
    return str(value)
