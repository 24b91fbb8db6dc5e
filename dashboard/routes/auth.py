"""Sign-in and sign-out (`/connexion`, `/deconnexion`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from dashboard.pages import current_user, render, web
from dashboard.security import safe_next, sign_in, sign_out, signed_in_id
from workflows.persistence.tables import User
from workflows.services.accounts import SignInRefused, authenticate

router = APIRouter()


@router.get("/connexion")
def sign_in_form(request: Request, suite: str | None = None) -> Response:
    if signed_in_id(request) is not None:
        return RedirectResponse(safe_next(suite), status_code=303)
    return render(request, "signin.html", {"next": safe_next(suite), "email": "", "error": None})


@router.post("/connexion")
def sign_in_submit(request: Request, email: Annotated[str, Form(max_length=320)] = "",
                   password: Annotated[str, Form(max_length=1024)] = "",
                   suite: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    context = web(request)
    try:
        user = authenticate(context.writer, email, password, now=context.now())
    except SignInRefused as refused:
        return render(request, "signin.html", {"next": safe_next(suite), "email": email, "error": str(refused)},
                      status_code=401)
    sign_in(request, user, context.now().isoformat())
    return RedirectResponse(safe_next(suite), status_code=303)


@router.post("/deconnexion")
def sign_out_submit(request: Request, _user: Annotated[User, Depends(current_user)]) -> Response:
    sign_out(request)
    return RedirectResponse("/connexion", status_code=303)
