"""Sessions, CSRF, the signed-in user, and the response headers every page carries.

- **Session**: a cookie signed with the deployment's secret (Starlette's SessionMiddleware, itsdangerous):
  HttpOnly, SameSite=Lax, Secure when the application is reached over HTTPS, 8 hours. It holds the user's id,
  the CSRF token and the time of sign-in; signing out clears it.
- **CSRF**: every POST must carry the session's token, as the form field `csrf_token` or the `X-CSRF-Token`
  header (htmx sends it from the `hx-headers` of `<body>`); otherwise 403 and nothing is done. The sign-in form
  has one too (a session is opened for it), so a foreign page cannot sign a browser in to another account.
- **Headers**: a Content-Security-Policy with scripts and styles from this origin only (no `unsafe-inline`),
  no framing, no referrer sent to other sites, no MIME sniffing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from starlette.responses import Response

from workflows.persistence.tables import User

SESSION_COOKIE = "cpts_session"
SESSION_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form (which brings the user back afterwards)."""


class CsrfRefused(Exception):
    """A state-changing request without the session's token."""


class NotFound(Exception):
    """A page, or a case outside the user's scope: both answer the same 404."""


class Forbidden(Exception):
    """Signed in and in scope, but not allowed this action (e.g. national staff recording an event)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created with the session."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """A dependency of every route: an unsafe method must carry the session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise CsrfRefused()


def sign_in(request: Request, user: User, now_iso: str) -> None:
    """Start a fresh session for `user` (a new CSRF token: one seen before sign-in is worth nothing after)."""
    request.session.clear()
    request.session.update({"uid": user.id, "csrf": secrets.token_urlsafe(32), "since": now_iso})


def sign_out(request: Request) -> None:
    request.session.clear()


def signed_in_id(request: Request) -> int | None:
    uid = request.session.get("uid")
    return uid if isinstance(uid, int) else None


def sign_in_url(request: Request) -> str:
    """The sign-in page, bringing the user back to where they were going (a local path only)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/connexion?suite=" + quote(target, safe="")


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in; anything else (another site, `//host`) → the home page."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def security_headers_middleware(on_error: Callable[[Request, Exception], Response]) -> Callable[
        [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Headers on every response; an exception no handler took becomes `on_error`'s page (never a trace)."""

    async def add_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: log it, show a plain page
            response = on_error(request, exc)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "public, max-age=3600")
        else:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return add_headers


def session_options(secret: str | None, https: bool) -> dict[str, Any]:
    """Keyword arguments of SessionMiddleware."""
    return {
        "secret_key": secret or secrets.token_urlsafe(48),
        "session_cookie": SESSION_COOKIE,
        "max_age": SESSION_SECONDS,
        "same_site": "lax",
        "https_only": https,
    }
