"""*Financements* (`/financements`): the funders' forecast for a year, by région, département or component, over
the CPTS of the user's scope (what `cpts forecast` prints for the whole portfolio), with its CSV and XLSX exports.

The page, its htmx fragment and both exports are built from one `FinanceView`, so an export holds exactly the
rows and columns shown. Filters are a plain GET form (it works without JavaScript); htmx swaps the results in
place and pushes the URL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dashboard.access import user_scope
from dashboard.labels import component_label
from dashboard.pages import current_user, render, web
from lifecycle import territory
from lifecycle.errors import DomainError
from workflows.persistence.tables import User
from workflows.read.finance import (
    FIRST_YEAR,
    LAST_YEAR,
    ForecastGroup,
    ToConfirm,
    forecast,
    forecast_to_confirm,
    forecast_years,
)
from workflows.services.people import Scope

router = APIRouter()

Grouping = Literal["region", "departement", "composante"]
# URL value → (grouping of the read model, column header, "par …" in a sentence).
GROUPINGS: dict[str, tuple[str, str, str]] = {
    "region": ("region", "Région", "région"),
    "departement": ("departement", "Département", "département"),
    "composante": ("component", "Composante", "composante"),
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class FinanceRow:
    """A row of the page and of its exports (amounts in euros, exact)."""

    label: str
    code: str
    committed: Decimal
    paid: Decimal
    remaining: Decimal
    awaiting: Decimal
    maximum: Decimal
    lines: int
    cases: int
    # The part computed from ruleset rows not checked against the signed text (avenant 2): its amount and the
    # rows' sources ("" when none): shown "à confirmer".
    unverified: Decimal = Decimal("0.00")
    to_confirm: str = ""

    @property
    def chart(self) -> tuple[str, Decimal]:
        """(label, committed): a bar of the page's chart."""
        return self.label, self.committed

    @classmethod
    def of(cls, group: ForecastGroup, label: str, code: str, doubt: ToConfirm | None = None) -> FinanceRow:
        return cls(label, code, group.committed, group.paid, group.committed - group.paid, group.awaiting_ceiling,
                   group.maximum, group.lines, group.cases, doubt.amount if doubt else Decimal("0.00"),
                   doubt.text() if doubt else "")


# The columns, in order, as the table, the CSV and the XLSX show them: (header, attribute, kind).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Code", "code", "text"),
    ("Montant engagé", "committed", "euros"),
    ("Déjà payé", "paid", "euros"),
    ("Reste à payer", "remaining", "euros"),
    ("Part variable en attente d'évaluation (plafond)", "awaiting", "euros"),
    ("Maximum", "maximum", "euros"),
    ("Lignes d'échéancier", "lines", "number"),
    ("CPTS", "cases", "number"),
    ("Dont à confirmer", "unverified", "euros"),
    ("À confirmer (source)", "to_confirm", "text"),
)


@dataclass(frozen=True)
class FinanceView:
    """What the page shows: the year and grouping chosen, the years offered, the rows and their total."""

    year: int
    par: str
    rows: tuple[FinanceRow, ...]
    total: FinanceRow
    years: tuple[int, ...]
    scope_text: str

    @property
    def group_header(self) -> str:
        return GROUPINGS[self.par][1]

    @property
    def group_word(self) -> str:
        return GROUPINGS[self.par][2]

    @property
    def headers(self) -> list[str]:
        return [self.group_header, *(header for header, _, _ in COLUMNS)]

    @property
    def year_options(self) -> list[tuple[str, str]]:
        return [(str(year), str(year)) for year in self.years]

    @property
    def query(self) -> str:
        return f"annee={self.year}&par={self.par}"

    def cells(self, row: FinanceRow) -> list[object]:
        return [row.label, *(getattr(row, attribute) for _, attribute, _ in COLUMNS)]


def _view(request: Request, user: User, year: int | None, par: str) -> FinanceView:
    context = web(request)
    scope = user_scope(user)
    year = year or context.today().year
    by = GROUPINGS[par][0]
    groups = forecast(context.uow, year, by=by, scope=scope)  # year and grouping checked by FastAPI
    span = forecast_years(context.uow)
    years = {year, context.today().year, context.today().year + 1}  # next year: the budget being planned
    if span:
        years.update(range(max(FIRST_YEAR, span[0]), min(LAST_YEAR, span[1]) + 1))
    label: Callable[[ForecastGroup], str] = (
        (lambda g: component_label(g.key)) if by == "component" else (lambda g: g.label))
    doubts = forecast_to_confirm(context.uow, year, by=by, scope=scope)
    rows = tuple(FinanceRow.of(g, label(g), g.key, doubts.get(g.key)) for g in groups)
    total = FinanceRow.of(groups.total, "Total", "", doubts.get("total"))
    return FinanceView(year, par, rows, total, tuple(sorted(years)), _scope_text(scope))


def _scope_text(scope: Scope) -> str:
    """"région Grand Est (44), département Moselle (57)"; every CPTS for national staff."""
    if scope.national:
        return "toutes les CPTS"
    parts = [f"région {_name(territory.region, code)}" for code in scope.regions]
    parts += [f"département {_name(territory.departement, code)}" for code in scope.departements]
    return ", ".join(parts) if parts else "aucune CPTS"


def _name(find: Callable[[str], object], code: str) -> str:
    try:
        return f"{find(code).name} ({code})"  # type: ignore[attr-defined]
    except DomainError:
        return code


Year = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)]
Par = Annotated[Grouping, Query()]


@router.get("/financements")
def finance_page(request: Request, user: Annotated[User, Depends(current_user)], annee: Year = None,
                 par: Par = "region") -> Response:
    view = _view(request, user, annee, par)
    # An htmx swap gets the results alone; a history restore (back button) needs the whole page.
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    return render(request, "finance_results.html" if fragment else "finance.html",
                  {"view": view, "groupings": [(k, v[1]) for k, v in GROUPINGS.items()]},
                  headers={"Vary": "HX-Request"})


@router.get("/financements.csv")
def finance_csv(request: Request, user: Annotated[User, Depends(current_user)], annee: Year = None,
                par: Par = "region") -> Response:
    view = _view(request, user, annee, par)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(view.headers)
    for row in (*view.rows, view.total):
        writer.writerow([_csv_value(value) for value in view.cells(row)])
    # With a byte-order mark, a spreadsheet opens the accents right; amounts keep a dot and two decimals.
    return Response(out.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                    headers=_attachment(view, "csv"))


@router.get("/financements.xlsx")
def finance_xlsx(request: Request, user: Annotated[User, Depends(current_user)], annee: Year = None,
                 par: Par = "region") -> Response:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    view = _view(request, user, annee, par)
    book = Workbook()
    sheet = book.active
    sheet.title = f"Financements {view.year}"
    sheet.append(view.headers)
    for row in (*view.rows, view.total):
        sheet.append(view.cells(row))
    kinds = ["text", *(kind for _, _, kind in COLUMNS)]
    for index, kind in enumerate(kinds, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 36 if index == 1 else (18 if kind == "euros" else 14)
        if kind == "euros":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "#,##0.00"
    for cell in (*sheet[1], *sheet[sheet.max_row]):
        cell.font = Font(bold=True)
    sheet.freeze_panes = "B2"
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX_TYPE, headers=_attachment(view, "xlsx"))


def _csv_value(value: object) -> object:
    return f"{value:.2f}" if isinstance(value, Decimal) else value


def _attachment(view: FinanceView, extension: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="financements-{view.year}-par-{view.par}.{extension}"'}
