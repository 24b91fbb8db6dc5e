"""*Notifications*: the outbox for administrators (`/notifications`, with "Renvoyer"), and the notices of one case
for whoever sees the case (`/cpts/{id}/notifications`).

The outbox page exists for administrators only: anyone else gets the 404 of a page that does not exist. Putting
a notification back in the queue is `workflows.services.outbox.retry`, then a redirect to the list (a GET form
of filters, so the list works without JavaScript; htmx swaps the list in place and follows the redirect), with
the outcome said at the top of the list.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from dashboard import labels
from dashboard.access import visible_case
from dashboard.formatting import date_time
from dashboard.pages import current_user, render, web
from dashboard.security import NotFound
from workflows.persistence.errors import UnknownOutboxEntry
from workflows.persistence.tables import User
from workflows.read.outbox_page import case_notices, outbox_page
from workflows.services.outbox import retry

router = APIRouter()

FLASH = "outbox_flash"

Status = Literal["", "pending", "sending", "sent", "dead", "unaddressed"]
MAX_PAGE = 1_000_000


def _admin(user: Annotated[User, Depends(current_user)]) -> User:
    """An administrator; for anyone else the page does not exist."""
    if user.role != "admin":
        raise NotFound()
    return user


def _labels() -> dict[str, object]:
    return {"status_labels": labels.OUTBOX_STATUS_LABELS, "status_tones": labels.OUTBOX_STATUS_TONES,
            "kind_labels": labels.OUTBOX_KIND_LABELS}


def _list_url(statut: str, page: int) -> str:
    query = {key: value for key, value in (("statut", statut), ("page", page if page > 1 else "")) if value}
    return "/notifications" + (f"?{urlencode(query)}" if query else "")


@router.get("/notifications")
def outbox_list(request: Request, user: Annotated[User, Depends(_admin)],
                statut: Annotated[Status, Query()] = "",
                page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    listing = outbox_page(web(request).uow, status=statut or None, page=page)
    flash = request.session.pop(FLASH, None)
    base = "/notifications?" + (f"statut={statut}&" if statut else "")
    fragment = (request.headers.get("hx-request") == "true"
                and request.headers.get("hx-history-restore-request") != "true")
    return render(request, "outbox_list.html" if fragment else "outbox.html",
                  {"listing": listing, "statut": statut, "base": base, "flash": flash,
                   "statuses": list(labels.OUTBOX_STATUS_LABELS),
                   "status_options": list(labels.OUTBOX_STATUS_LABELS.items()),
                   **_labels()},
                  headers={"Vary": "HX-Request"})


@router.post("/notifications/{entry_id}/renvoyer")
def outbox_retry(request: Request, user: Annotated[User, Depends(_admin)], entry_id: int,
                 statut: Annotated[Status, Form()] = "",
                 page: Annotated[int, Form(ge=1, le=MAX_PAGE)] = 1) -> Response:
    context = web(request)
    if not 1 <= entry_id < 2**63:
        raise NotFound()
    try:
        row = retry(context.writer, entry_id, context.now())
    except UnknownOutboxEntry:
        with context.uow:
            row = context.uow.outbox.get(entry_id)
            status = row.status if row is not None else None
        if status is None:
            raise NotFound() from None
        message = (f"La notification n° {entry_id} a déjà été envoyée : elle ne peut pas être renvoyée."
                   if status == "sent" else
                   f"La notification n° {entry_id} n'a toujours aucun destinataire : désignez d'abord les "
                   "référents du dossier, puis renvoyez-la.")
        request.session[FLASH] = {"kind": "error", "message": message}
    else:
        at = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=UTC)
        later = f", pas avant le {date_time(at)}" if at > context.now() else ""
        request.session[FLASH] = {
            "kind": "success",
            "message": f"La notification n° {entry_id} est remise en file d'attente : elle partira au prochain "
                       f"passage de l'envoi{later}.",
        }
    return RedirectResponse(_list_url(statut, page), status_code=303)


@router.get("/cpts/{case_id}/notifications")
def case_outbox(request: Request, user: Annotated[User, Depends(current_user)], case_id: str) -> Response:
    context = web(request)
    case = visible_case(context.uow, user, case_id)
    notices = case_notices(context.uow, case.id)
    return render(request, "notifications_case.html",
                  {"case": case, "sent": [n for n in notices if n.status == "sent"],
                   "waiting": [n for n in notices if n.status != "sent"], **_labels()})
