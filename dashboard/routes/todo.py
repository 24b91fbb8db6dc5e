"""*À traiter* (`/a-traiter`), a binôme's home: the deadlines breached, overdue and due soon across the CPTS of
the user's scope, sorted by due date, each with who must act and why it falls on its date.

ARS and CPAM agents see every case of their scope; "mes CPTS" narrows the list to those they are a referent of
(the default when they follow any). Filters are a plain GET form (it works without JavaScript); htmx swaps the
results in place and pushes the URL. Everything is read from the projection tables by `workflows.read.worklist`.

A pending deadline whose date has passed has not been swept yet: it is *en retard* when its expiry is a breach
(the next sweep records the breach), a *délai écoulé* when it is a window whose end is nobody's fault (the ARS's
opposition window: the next sweep records the tacit validation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dashboard import labels
from dashboard.explain import explanation_lines
from dashboard.pages import current_user, render, web
from lifecycle import territory
from lifecycle.errors import DomainError
from lifecycle.machine import STATES
from workflows.persistence.tables import User
from workflows.read.worklist import (
    DEFAULT_HORIZON,
    LATER,
    SOON,
    TODO_STATUSES,
    CaseFilters,
    DeadlineFilters,
    ScopeChoices,
    TodoItem,
    TodoPage,
    deadline_rules,
    known,
    referent_condition,
    scope_choices,
    todo_page,
)

router = APIRouter()

MAX_PAGE = 100_000
Several = Annotated[list[str] | None, Query()]  # unknown values are dropped (`known`)

# The status filter: URL value (the read model's status) → label.
STATUSES: dict[str, str] = {status: labels.STATUS_LABELS[status] for status in TODO_STATUSES}
HORIZONS = {"7": 7, "30": 30, "90": 90, "365": 365, "tout": None}
HORIZON_LABELS = {"7": "7 jours", "30": "30 jours", "90": "90 jours", "365": "1 an", "tout": "sans limite"}


@dataclass(frozen=True)
class TodoView:
    """What the page shows: the page of deadlines, the filters chosen (`params`, as the URL says them) and what
    the filters offer."""

    result: TodoPage
    choices: ScopeChoices
    mine: bool
    offers_mine: bool
    etat: str
    departement: str
    echeance: str
    nature: str
    statut: str
    horizon: str
    params: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        return urlencode(self.params)

    @property
    def base(self) -> str:
        """The page's URL with its filters, ready for `page=` (pagination)."""
        return f"/a-traiter?{self.query}&" if self.params else "/a-traiter?"

    def narrowed(self, statut: str, horizon: str | None = None) -> str:
        """The page's URL with another status (and horizon), the other filters kept: a count's link."""
        params = [(k, v) for k, v in self.params if k not in ("statut", "horizon")] + [("statut", statut)]
        if horizon is not None:
            params.append(("horizon", horizon))
        return f"/a-traiter?{urlencode(params)}"


def todo_view(request: Request, user: User, etat: list[str], departement: list[str], echeance: list[str],
              nature: list[str], statut: str, horizon: str, perimetre: str, page: int) -> TodoView:
    context = web(request)
    choices = scope_choices(context.uow, user)
    offers_mine = referent_condition(user) is not None
    mine = offers_mine and (perimetre == "mes" or (perimetre != "tout" and choices.follows_any))
    rules = [rule.key for rule in deadline_rules()]
    states = known(etat, STATES)
    cases = CaseFilters(mine=mine, states=states or None, departements=known(departement, choices.departements))
    chosen_horizon = horizon if horizon in HORIZONS else str(DEFAULT_HORIZON)
    deadlines = DeadlineFilters(status=statut if statut in TODO_STATUSES else None, rules=known(echeance, rules),
                                kinds=known(nature, labels.KIND_LABELS), horizon_days=HORIZONS[chosen_horizon])
    result = todo_page(context.uow, user, today=context.today(), cases=cases, deadlines=deadlines, page=page)
    params: list[tuple[str, str]] = []
    if offers_mine:
        params.append(("perimetre", "mes" if mine else "tout"))
    params += [("etat", s) for s in states] + [("departement", d) for d in cases.departements]
    params += [("echeance", r) for r in deadlines.rules] + [("nature", k) for k in deadlines.kinds]
    if deadlines.status:
        params.append(("statut", deadlines.status))
    if chosen_horizon != str(DEFAULT_HORIZON):
        params.append(("horizon", chosen_horizon))
    return TodoView(result, choices, mine, offers_mine, _first(states), _first(cases.departements),
                    _first(deadlines.rules), _first(deadlines.kinds), deadlines.status or "", chosen_horizon,
                    tuple(params))


@router.get("/a-traiter")
def todo(request: Request, user: Annotated[User, Depends(current_user)], etat: Several = None,
         departement: Several = None, echeance: Several = None, nature: Several = None,
         statut: Annotated[str, Query(max_length=40)] = "", horizon: Annotated[str, Query(max_length=10)] = "",
         perimetre: Annotated[str, Query(max_length=10)] = "",
         page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    view = todo_view(request, user, etat or [], departement or [], echeance or [], nature or [], statut, horizon,
                     perimetre, page)
    # An htmx swap gets the results alone; a history restore (back button) needs the whole page.
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    return render(request, "todo_results.html" if fragment else "todo.html",
                  {"view": view, "options": _options(view), "rows": [_row(item) for item in view.result.items],
                   "soon": SOON, "later": LATER},
                  headers={"Vary": "HX-Request"})


def _first(values: tuple[str, ...]) -> str:
    return values[0] if values else ""


def _options(view: TodoView) -> dict[str, list[tuple[str, str]]]:
    """The choices of each filter, as (value, French label)."""
    rules = []
    for rule in deadline_rules():
        label = rule.label.replace(" (année {year})", "").replace("{year}", "K")
        rules.append((rule.key, label[:1].upper() + label[1:]))
    return {
        "etat": [(state, labels.STATE_LABELS.get(state, state)) for state in STATES],
        "departement": [(code, _departement_name(code)) for code in view.choices.departements],
        "echeance": sorted(rules, key=lambda option: option[1]),
        "nature": list(labels.KIND_LABELS.items()),
        "statut": list(STATUSES.items()),
        "horizon": list(HORIZON_LABELS.items()),
        "perimetre": [("mes", "Mes CPTS (dont je suis référent)"), ("tout", "Toutes les CPTS de mon périmètre")],
    }


def _departement_name(code: str) -> str:
    try:
        return f"{territory.departement(code).name} ({code})"
    except DomainError:
        return code


@dataclass(frozen=True)
class TodoRow:
    """A row of the table, in French: the deadline and the lines of its explanation."""

    item: TodoItem
    status_label: str
    status_tone: str
    actor: str
    reason: list[tuple[str, str]]


def _row(item: TodoItem) -> TodoRow:
    return TodoRow(item, labels.STATUS_LABELS.get(item.status, item.status),
                   labels.STATUS_TONES.get(item.status, "neutral"), labels.ACTOR_LABELS.get(item.actor, item.actor),
                   explanation_lines(item.reason, status=item.status, expiry_event=item.expiry_event))
