"""Documents of a case for legal staff (issue 12): the Word letters (`/cpts/{id}/lettres`).

Whoever sees a case may download its letters: the letters page lists every kind, available for this case or not
(and why not: the event to record first); `/cpts/{id}/lettres/{kind}.docx` answers the Word file as an attachment.
A case out of the user's scope, or a kind that does not exist, is a 404 like a missing case.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dashboard.access import visible_case
from dashboard.letters_data import LetterUnavailable, letter_data, letter_file_name, letter_options
from dashboard.pages import current_user, render, web
from dashboard.security import NotFound
from documents.letters import DOCX_TYPE, KINDS, render_letter
from workflows.persistence.tables import Case, User
from workflows.services.clock import local_today

router = APIRouter()


# ------------------------------------------------------------------------------------------------ letters
@router.get("/cpts/{case_id}/lettres")
def letters_page(request: Request, case_id: str, user: Annotated[User, Depends(current_user)]) -> Response:
    """The letters of the case: each kind, with its download or the reason it is not available yet."""
    case = visible_case(web(request).uow, user, case_id)
    return _letters_page(request, case)


@router.get("/cpts/{case_id}/lettres/{kind}.docx")
def letter_download(request: Request, case_id: str, kind: str,
                    user: Annotated[User, Depends(current_user)]) -> Response:
    """The Word letter of `kind` for the case, dated today at its seat; the letters page, with the reason, when
    the case does not have its dates yet (409)."""
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    if kind not in KINDS:
        raise NotFound()
    try:
        data = letter_data(context.uow, case, kind, today=local_today(case, context.now()))
    except LetterUnavailable as exc:
        return _letters_page(request, case, error=exc.french, status_code=409)
    return Response(render_letter(kind, data), media_type=DOCX_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{letter_file_name(kind, case.id)}"'})


def _letters_page(request: Request, case: Case, *, error: str | None = None, status_code: int = 200) -> Response:
    context = web(request)
    options = letter_options(context.uow, case, today=local_today(case, context.now()))
    return render(request, "case_letters.html", {"case": case, "options": options, "error": error,
                                                 "section": "portfolio", "title": f"Lettres — {case.name}"},
                  status_code=status_code)
