"""The ASGI application: `create_app(settings)` → FastAPI, served by `cpts web` (uvicorn).

Routes live in `dashboard/routes/` (one module per page family); each gets the web context (`Web`: the unit of
work, the clock, the templates) from `request.app.state.web`, the signed-in user from `current_user`, and
renders `templates/web/`. Errors never show a stack trace or a secret: a case outside the user's scope and a
missing page are the same 404, an unexpected error a 500 page with nothing in it but an apology (the trace
goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from dashboard.pages import Web, make_templates, render
from dashboard.security import (
    CsrfRefused,
    Forbidden,
    NotFound,
    SignInRequired,
    check_csrf,
    security_headers_middleware,
    session_options,
    sign_in_url,
)
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.clock import utc_now
from workflows.settings import Settings, use_rulesets

log = logging.getLogger("cpts.web")

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, uow: SqlUnitOfWork | None = None,
               now: Callable[[], datetime] | None = None) -> FastAPI:
    """The web application on the configured database (or `uow`), its clock `now` (default: the real one)."""
    use_rulesets(settings)  # the deployment's ruleset files (CPTS_RULESETS_DIR); RulesetError if one is refused
    if uow is None:
        from workflows.persistence.db import open_engine

        uow = SqlUnitOfWork(open_engine(settings.database_url), keys=settings.journal_keys())
    app = FastAPI(title="cpts-lifecycle", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(check_csrf)])
    app.state.web = Web(uow=uow.reader(), writer=uow, now=now or utc_now, templates=make_templates(),
                        cpl_members=settings.cpl_members)
    app.middleware("http")(security_headers_middleware(_unexpected))
    app.add_middleware(SessionMiddleware, **session_options(settings.web_secret, settings.web_https))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _handlers(app)

    from dashboard.routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = sign_in_url(request)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, _exc: NotFound) -> Response:
        return _error(request, 404, "Page introuvable",
                      "Cette page n'existe pas, ou elle ne fait pas partie de votre périmètre.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await _not_found(request, NotFound())
        if exc.status_code == 405:
            return _error(request, 405, "Action impossible", "Cette adresse ne permet pas cette action.")
        return _error(request, exc.status_code, "Erreur", "La demande n'a pas pu être traitée.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, _exc: RequestValidationError) -> Response:
        return _error(request, 400, "Demande incorrecte",
                      "Un paramètre de l'adresse ou du formulaire n'est pas valide.")

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        return _error(request, 403, "Formulaire expiré",
                      "Ce formulaire n'est plus valide (jeton de sécurité absent ou expiré). Rechargez la page "
                      "et recommencez.")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "Action non autorisée", exc.message)



def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(request, 500, "Erreur interne",
                  "Une erreur inattendue s'est produite ; elle a été consignée. Rien n'a été enregistré.")


def _error(request: Request, status: int, title: str, message: str) -> Response:
    try:
        return render(request, "error.html", {"title": title, "message": message, "status": status},
                      status_code=status)
    except Exception:  # the error page itself failed: plain text, still without details
        log.exception("the error page failed")
        return HTMLResponse(f"<!doctype html><html lang=\"fr\"><title>{status}</title><p>{title}</p></html>",
                            status_code=status)
