"""*Portefeuille* (`/portefeuille`): every CPTS of the user's scope with its state, size, population, seat,
referents, next deadline and contract signature; filters, sort, pages of 50, the cases counted by lifecycle phase
(chart and table), and the CSV and XLSX exports (`/portefeuille.csv`, `/portefeuille.xlsx`) of exactly what is
filtered, all pages, in the same order.

Filters are a plain GET form (it works without JavaScript); htmx swaps the results in place and pushes the URL.
Everything is read from the projection tables by `workflows.read.worklist`, in SQL.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dashboard import labels
from dashboard.pages import current_user, render, web
from lifecycle import territory
from lifecycle.errors import DomainError
from lifecycle.machine import STATES
from notifications.addresses import MAX_NAME
from workflows.persistence.tables import User
from workflows.read.worklist import (
    CaseFilters,
    PortfolioRow,
    ScopeChoices,
    StateCounts,
    known,
    portfolio_page,
    portfolio_rows,
    referent_condition,
    scope_choices,
)

router = APIRouter()

MAX_PAGE = 100_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Several = Annotated[list[str] | None, Query()]  # unknown values are dropped (`known`)
# Sort keys in the URL (`tri`) → the read model's; `ordre` is asc or desc.
SORTS = {"nom": "name", "etat": "state", "echeance": "next_deadline", "population": "population"}
# The table's sortable columns: column index → URL sort key.
SORTABLE = {0: "nom", 1: "etat", 4: "population", 7: "echeance"}
HEADERS = ["CPTS", "État", "Taille", "Siège", "Population", "Référents", "Signature du contrat",
           "Prochaine échéance"]


@dataclass(frozen=True)
class PortfolioQuery:
    """The filters and order of the page (as the URL says them), and what they mean for the read model."""

    filters: CaseFilters
    mine: bool
    etat: str
    phase: str
    departement: str
    region: str
    nom: str
    tri: str
    ordre: str
    params: tuple[tuple[str, str], ...]

    @property
    def sort(self) -> str:
        return SORTS[self.tri]

    @property
    def descending(self) -> bool:
        return self.ordre == "desc"

    @property
    def query(self) -> str:
        """The filters and the order, as a query string (the exports' links)."""
        return urlencode(self.params)

    @property
    def filters_only(self) -> str:
        """The filters without the order: the sort links add theirs."""
        params = [(k, v) for k, v in self.params if k not in ("tri", "ordre")]
        return f"/portefeuille?{urlencode(params)}&" if params else "/portefeuille?"

    @property
    def base(self) -> str:
        """The page's URL with its filters and order, ready for `page=`."""
        return f"/portefeuille?{self.query}&" if self.params else "/portefeuille?"

    def sort_links(self) -> dict[int, tuple[str, str | None, str]]:
        """`ui.table`'s `sort`: for each sortable column, its key, its direction if it is the current one, the
        URL to add `tri=…&ordre=…` to."""
        return {index: (key, self.ordre if key == self.tri else None, self.filters_only)
                for index, key in SORTABLE.items()}


def portfolio_query(request: Request, user: User, choices: ScopeChoices, *, etat: list[str], phase: str,
                    departement: list[str], region: list[str], nom: str, perimetre: str, tri: str,
                    ordre: str) -> PortfolioQuery:
    """The filters of the URL, cleaned: unknown values are dropped, the phase narrows the states."""
    offers_mine = referent_condition(user) is not None
    mine = offers_mine and perimetre == "mes"
    states: tuple[str, ...] | None = known(etat, STATES) or None
    phase = phase if phase in labels.PHASES else ""
    deployed = None
    if phase:
        in_phase = [s for s in STATES if labels.STATE_PHASES.get(s) == phase]
        if phase == "deployed":  # a contract whose socle missions are all deployed
            in_phase, deployed = ["contracted"], True
        elif phase == "contract":
            deployed = False
        states = tuple(s for s in in_phase if states is None or s in states)
    departements = known(departement, choices.departements)
    regions = known(region, choices.regions)
    name = nom.strip()
    filters = CaseFilters(mine=mine, states=states, departements=departements, regions=regions, name=name,
                          deployed=deployed)
    tri = tri if tri in SORTS else "nom"
    ordre = "desc" if ordre == "desc" else "asc"
    params: list[tuple[str, str]] = []
    if mine:
        params.append(("perimetre", "mes"))
    params += [("etat", s) for s in known(etat, STATES)]
    if phase:
        params.append(("phase", phase))
    params += [("departement", d) for d in departements] + [("region", r) for r in regions]
    if name:
        params.append(("nom", name))
    if tri != "nom" or ordre != "asc":
        params += [("tri", tri), ("ordre", ordre)]
    etats = known(etat, STATES)
    return PortfolioQuery(filters, mine, etats[0] if etats else "", phase, departements[0] if departements else "",
                          regions[0] if regions else "", name, tri, ordre, tuple(params))


Name = Annotated[str, Query(max_length=MAX_NAME)]
Short = Annotated[str, Query(max_length=40)]


@router.get("/portefeuille")
def portfolio(request: Request, user: Annotated[User, Depends(current_user)], etat: Several = None,
              phase: Short = "", departement: Several = None, region: Several = None, nom: Name = "",
              perimetre: Short = "", tri: Short = "", ordre: Short = "",
              page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    context = web(request)
    choices = scope_choices(context.uow, user)
    query = portfolio_query(request, user, choices, etat=etat or [], phase=phase, departement=departement or [],
                            region=region or [], nom=nom, perimetre=perimetre, tri=tri, ordre=ordre)
    result = portfolio_page(context.uow, user, query.filters, sort=query.sort, descending=query.descending,
                            page=page)
    # An htmx swap gets the results alone; a history restore (back button) needs the whole page.
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    return render(request, "portfolio_results.html" if fragment else "portfolio.html", {
        "q": query, "result": result, "phases": phase_rows(result.counts), "options": _options(user, choices),
        "offers_mine": referent_condition(user) is not None, "headers": HEADERS, "seat": seat,
    }, headers={"Vary": "HX-Request"})


@router.get("/portefeuille.csv")
def portfolio_csv(request: Request, user: Annotated[User, Depends(current_user)], etat: Several = None,
                  phase: Short = "", departement: Several = None, region: Several = None, nom: Name = "",
                  perimetre: Short = "", tri: Short = "", ordre: Short = "") -> Response:
    rows = _export_rows(request, user, etat, phase, departement, region, nom, perimetre, tri, ordre)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow([_csv_value(value) for value in export_cells(row)])
    # With a byte-order mark, a spreadsheet opens the accents right; dates are ISO 8601 (2025-06-02).
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers=_attachment(web(request).today(), "csv"))


@router.get("/portefeuille.xlsx")
def portfolio_xlsx(request: Request, user: Annotated[User, Depends(current_user)], etat: Several = None,
                   phase: Short = "", departement: Several = None, region: Several = None, nom: Name = "",
                   perimetre: Short = "", tri: Short = "", ordre: Short = "") -> Response:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    rows = _export_rows(request, user, etat, phase, departement, region, nom, perimetre, tri, ordre)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Portefeuille")
    for index, (_, width) in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "C2"
    bold = Font(bold=True)
    header = []
    for title, _ in EXPORT_COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for value in export_cells(row):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and cell.data_type == "f":
                cell.data_type = "s"  # a name starting with "=" is text, never a formula
            elif isinstance(value, date):
                cell.number_format = "DD/MM/YYYY"
            elif isinstance(value, int):
                cell.number_format = "#,##0"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX_TYPE, headers=_attachment(web(request).today(), "xlsx"))


def _export_rows(request: Request, user: User, etat: list[str] | None, phase: str, departement: list[str] | None,
                 region: list[str] | None, nom: str, perimetre: str, tri: str, ordre: str) -> list[PortfolioRow]:
    context = web(request)
    query = portfolio_query(request, user, scope_choices(context.uow, user), etat=etat or [], phase=phase,
                            departement=departement or [], region=region or [], nom=nom, perimetre=perimetre,
                            tri=tri, ordre=ordre)
    return portfolio_rows(context.uow, user, query.filters, sort=query.sort, descending=query.descending)


# The exports' columns, in order: (French header, width in the XLSX).
EXPORT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("N° de dossier", 12), ("CPTS", 36), ("État", 26), ("Phase", 20), ("Taille", 8), ("Population", 12),
    ("Département", 8), ("Nom du département", 22), ("Région", 8), ("Nom de la région", 26),
    ("Référent ARS", 24), ("Référent CPAM", 24), ("Prochaine échéance", 14), ("Objet de la prochaine échéance", 44),
    ("Signature du contrat", 14),
)


def export_cells(row: PortfolioRow) -> list[Any]:
    """A case's cells in the exports: numbers as numbers, dates as dates, "" when there is nothing."""
    return [
        row.id, row.name, labels.STATE_LABELS.get(row.state, row.state), labels.PHASE_LABELS[phase_of(row)],
        row.size, row.population, row.departement, _departement_name(row.departement), row.region,
        _region_name(row.region), row.ars_referent or "", row.cpam_referent or "",
        row.next_deadline.due if row.next_deadline else None,
        _capitalised(row.next_deadline.label) if row.next_deadline else "", row.signed_on,
    ]


def phase_of(row: PortfolioRow) -> str:
    if row.deployed:
        return "deployed"
    return labels.STATE_PHASES.get(row.state, "prospect")


def phase_rows(counts: StateCounts) -> list[tuple[str, int]]:
    """(phase label, cases) for each lifecycle phase, in order: the chart and its table."""
    by_phase = dict.fromkeys(labels.PHASES, 0)
    for state, count in counts.by_state.items():
        by_phase[labels.STATE_PHASES.get(state, "prospect")] += count
    by_phase["contract"] -= counts.deployed
    by_phase["deployed"] += counts.deployed
    return [(labels.PHASE_LABELS[phase], by_phase[phase]) for phase in labels.PHASES]


def seat(row: PortfolioRow) -> str:
    """"Moselle (57), Grand Est"."""
    return f"{_departement_name(row.departement)} ({row.departement}), {_region_name(row.region)}"


def _options(user: User, choices: ScopeChoices) -> dict[str, list[tuple[str, str]]]:
    return {
        "etat": [(state, labels.STATE_LABELS.get(state, state)) for state in STATES],
        "phase": [(phase, labels.PHASE_LABELS[phase]) for phase in labels.PHASES],
        "departement": [(code, f"{_departement_name(code)} ({code})") for code in choices.departements],
        "region": [(code, f"{_region_name(code)} ({code})") for code in choices.regions],
        "perimetre": [("tout", "Toutes les CPTS de mon périmètre"), ("mes", "Mes CPTS (dont je suis référent)")],
    }


def _departement_name(code: str) -> str:
    try:
        return territory.departement(code).name
    except DomainError:
        return code


def _region_name(code: str) -> str:
    try:
        return territory.region(code).name
    except DomainError:
        return code


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet would read it as a formula
    return value


def _attachment(today: date, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="portefeuille-{today.isoformat()}.{extension}"'}

