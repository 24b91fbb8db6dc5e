"""The home page: where each role starts (a binôme: *À traiter*)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dashboard.pages import current_user
from workflows.persistence.tables import User

router = APIRouter()


@router.get("/")
def home(request: Request, user: Annotated[User, Depends(current_user)]) -> Response:
    return RedirectResponse("/a-traiter", status_code=303)
