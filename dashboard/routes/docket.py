"""*Contentieux* (`/contentieux`, `/contentieux.csv`): the legal docket — every termination, contract refusal and
CPL referral of the user's scope, one row per case, with its dates (each explained) and the next act due.

Everyone signed in may read it within their scope (SPEC §2): legal staff act on it (a link to record the next
CPL or termination event), ARS and CPAM agents read the docket of the cases of their scope, national staff read
every case. Cases out of scope never appear. Filters (état: en cours / clos / tous; département) are a plain GET
form, swapped in place by htmx. Everything is read by `workflows.read.docket` from the projection tables.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dashboard import labels
from dashboard.access import user_scope
from dashboard.explain import explanation_lines
from dashboard.pages import current_user, render, web
from lifecycle import territory
from lifecycle.errors import DomainError
from workflows.persistence.tables import User
from workflows.read.docket import DocketDate, DocketFilters, DocketRow, docket, docket_departements

router = APIRouter()

Several = Annotated[list[str] | None, Query()]
# The état filter: URL value → (read model's filter, label).
ETATS = {"en-cours": ("open", "En cours"), "clos": ("closed", "Clos"), "tous": ("all", "Tous")}
MATTER_LABELS = {"termination": "Résiliation", "contract_refusal": "Refus de contrat",
                 "cpl_referral": "Saisine de la CPL"}
INITIATOR_LABELS = {"funders": "Financeurs (ARS et Assurance maladie)", "cpts": "CPTS"}
GROUNDS_LABELS = {"non_compliance": "Non-respect des engagements",
                  "ineligible": "Conditions d'éligibilité non remplies"}
# The dates of a row, in the order the page shows them: field of DocketRow → column heading.
DATE_COLUMNS = {
    "effective": "Prise d'effet", "referral_window": "Fin du délai de saisine de la CPL",
    "meeting_deadline": "Réunion de la CPL au plus tard", "convocation": "Convocations au plus tard",
    "agenda": "Ordre du jour au plus tard", "opinion": "Avis de la CPL au plus tard",
    "new_decision": "Nouvelle décision des financeurs au plus tard", "refund_due": "Remboursement au plus tard",
}


@dataclass(frozen=True)
class ShownDate:
    """A deadline of a row, in French: its heading, its status and the lines of its explanation."""

    heading: str
    date: DocketDate
    status_label: str
    status_tone: str
    actor: str
    reason: list[tuple[str, str]]


@dataclass(frozen=True)
class ShownRow:
    """A row of the table, in French."""

    row: DocketRow
    matter: str
    initiator: str
    grounds: str
    dates: list[ShownDate]
    next_act: ShownDate | None
    may_act: bool


@dataclass(frozen=True)
class DocketView:
    rows: list[ShownRow]
    etat: str
    departement: str
    departements: list[tuple[str, str]]
    today: date
    params: tuple[tuple[str, str], ...]

    @property
    def csv_url(self) -> str:
        return "/contentieux.csv" + (f"?{urlencode(self.params)}" if self.params else "")


def _view(request: Request, user: User, etat: str, departement: list[str]) -> DocketView:
    context = web(request)
    scope = user_scope(user)
    offered = docket_departements(context.uow, scope)
    chosen = tuple(dict.fromkeys(d for d in departement if d in offered))
    etat = etat if etat in ETATS else "en-cours"
    today = context.today()
    rows = docket(context.uow, scope, today=today,
                  filters=DocketFilters(state=ETATS[etat][0], departements=chosen))
    params = ([("etat", etat)] if etat != "en-cours" else []) + [("departement", d) for d in chosen]
    acts = user.role in ("legal", "admin")
    return DocketView([_shown(row, acts) for row in rows], etat, chosen[0] if chosen else "",
                      [(code, _departement_name(code)) for code in offered], today, tuple(params))


def _shown(row: DocketRow, may_act: bool) -> ShownRow:
    dates = [_date(heading, getattr(row, name)) for name, heading in DATE_COLUMNS.items()
             if getattr(row, name) is not None]
    return ShownRow(row, MATTER_LABELS.get(row.matter, row.matter),
                    INITIATOR_LABELS.get(row.initiator or "", row.initiator or ""),
                    GROUNDS_LABELS.get(row.grounds or "", row.grounds or ""), dates,
                    _date("Prochain acte", row.next_act) if row.next_act else None, may_act and not row.closed)


def _date(heading: str, value: DocketDate) -> ShownDate:
    return ShownDate(heading, value, labels.STATUS_LABELS.get(value.status, value.status),
                     labels.STATUS_TONES.get(value.status, "neutral"),
                     labels.ACTOR_LABELS.get(value.actor, value.actor),
                     explanation_lines(value.reason, status=value.status, expiry_event=value.expiry_event))


def _departement_name(code: str) -> str:
    try:
        return f"{territory.departement(code).name} ({code})"
    except DomainError:
        return code


@router.get("/contentieux")
def docket_page(request: Request, user: Annotated[User, Depends(current_user)],
                etat: Annotated[str, Query(max_length=10)] = "", departement: Several = None) -> Response:
    view = _view(request, user, etat, departement or [])
    # An htmx swap gets the results alone; a history restore (back button) needs the whole page.
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    return render(request, "docket_results.html" if fragment else "docket.html",
                  {"view": view, "etats": [(key, label) for key, (_, label) in ETATS.items()]},
                  headers={"Vary": "HX-Request"})


CSV_HEADERS = ["CPTS", "Dossier", "Département", "État", "Affaire", "Initiateur", "Motif", "Notification reçue le",
               "Preuve de la notification", "N° de LRAR",
               "Première présentation le", "AR signé le", "Saisine de la CPL le", "Suspendue", "Réunion de la CPL le",
               *DATE_COLUMNS.values(), "Montant à rembourser", "Prochain acte", "Prochain acte le", "Jours restants",
               "Qui doit agir"]


@router.get("/contentieux.csv")
def docket_csv(request: Request, user: Annotated[User, Depends(current_user)],
               etat: Annotated[str, Query(max_length=10)] = "", departement: Several = None) -> Response:
    view = _view(request, user, etat, departement or [])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for shown in view.rows:
        writer.writerow(csv_cells(shown.row))
    # With a byte-order mark, a spreadsheet opens the accents right; dates are ISO, amounts have a dot.
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="contentieux-{view.etat}.csv"'})


def csv_cells(row: DocketRow) -> list[object]:
    """A docket row as CSV cells (French words, ISO dates), as the page's export and `cpts legal docket --csv`
    write it."""
    def day(value: date | None) -> str:
        return value.isoformat() if value else ""

    nxt = row.next_act
    return [
        _safe(row.case_name), row.case_id, row.departement, labels.STATE_LABELS.get(row.state, row.state),
        MATTER_LABELS.get(row.matter, row.matter), INITIATOR_LABELS.get(row.initiator or "", row.initiator or ""),
        GROUNDS_LABELS.get(row.grounds or "", row.grounds or ""), day(row.notice_on), _safe(row.notice_evidence or ""),
        _safe(row.notice_lrar or ""), day(row.notice_presented_on), day(row.notice_received_on),
        day(row.referral_on), "oui" if row.suspended else "non", day(row.meeting_on),
        *(day(getattr(row, name).due) if getattr(row, name) else "" for name in DATE_COLUMNS),
        f"{row.refund_amount:.2f}" if row.refund_amount is not None else "",
        nxt.label if nxt else "", day(nxt.due) if nxt else "", nxt.days_left if nxt else "",
        labels.ACTOR_LABELS.get(nxt.actor, nxt.actor) if nxt else "",
    ]


def _safe(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (=, +, -, @ first)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
