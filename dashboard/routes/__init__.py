"""The application's routers, one module per page family; `create_app` includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.routes import (
    auth,
    calculator,
    cases,
    docket,
    documents,
    events,
    finance,
    home,
    outbox,
    portfolio,
    todo,
)

ROUTERS: list[APIRouter] = [auth.router, home.router, todo.router, portfolio.router, cases.router, events.router,
                            finance.router, outbox.router, documents.router, calculator.router, docket.router]
