"""What every route shares: the web context (`Web`), the signed-in user, and `render` of `templates/web/`.

Routes get the context from `request.app.state.web` (set by `dashboard.app.create_app`), the signed-in user from
the `current_user` dependency, and answer with `render(request, "page.html", {...})`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import formatting, labels
from dashboard.security import SignInRequired, csrf_token, signed_in_id
from workflows.persistence.tables import User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.clock import latest_local_date

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "web"
HTMX_VERSION = "2.0.11"
PICO_VERSION = "2.1.1"


@dataclass
class Web:
    """What every route needs: the database, the clock (tests and demos pass a virtual one), the templates.

    `uow` only reads (pages; on SQLite its transactions take no write lock); `writer` is the unit of work of
    the use cases that write (sign-in's failure count, apply, void, assign, retry).
    """

    uow: SqlUnitOfWork
    writer: SqlUnitOfWork
    now: Callable[[], datetime]
    templates: Jinja2Templates
    # The deployment's CPL composition (Settings.cpl_members), recorded into the deliberations recorded here.
    cpl_members: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def today(self) -> date:
        """Today in France (the latest local date over the seats' time zones): what "overdue" is measured on."""
        return latest_local_date(self.now())


def web(request: Request) -> Web:
    return request.app.state.web


def current_user(request: Request) -> User:
    """The signed-in user (a dependency); SignInRequired when there is no valid session."""
    uid = signed_in_id(request)
    if uid is None:
        raise SignInRequired()
    context = web(request)
    with context.uow:
        user = context.uow.users.get(uid)
    if user is None or not user.password_hash:
        request.session.clear()
        raise SignInRequired()
    request.state.user = user
    return user


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page or a fragment of `templates/web/`, with what every template may use."""
    values = {"request": request, "user": getattr(request.state, "user", None), "csrf": csrf_token(request),
              "today": web(request).today(), "htmx": request.headers.get("hx-request") == "true",
              **(context or {})}
    return web(request).templates.TemplateResponse(request, template, values, status_code=status_code,
                                                   headers=headers)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters.update({
        "long_date": formatting.long_date, "short_date": formatting.short_date, "date_time": formatting.date_time,
        "euros": formatting.euros, "number": formatting.number, "days_left": formatting.days_left,
        "percent": formatting.percent,
    })
    env.globals.update({"HTMX_VERSION": HTMX_VERSION, "PICO_VERSION": PICO_VERSION, "ROLE_NAMES": labels.ROLE_NAMES,
                        "labels": labels})
    return templates
