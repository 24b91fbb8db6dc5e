"""Why a deadline falls on its date, in French, for the pages (SPEC §6): one renderer for *À traiter* and the
*Fiche CPTS*, so that the same deadline is explained with the same words on both.

The e-mails and calendar entries say it in one paragraph (`notifications.explain`); a page says it as a list of
(term, description) pairs shown in a `<dl>`: the anchor, the rule, the days rolled over, the due date, the
article, what a closed window leads to, and the engine's note.
"""

from __future__ import annotations

from dashboard import labels
from dashboard.formatting import long_date
from notifications.explain import ANCHORS_FR
from workflows.read.deadlines import WINDOW_CLOSED, DueDateReason

# Anchors the engine names by a date of its own rather than by an event type.
_MORE_ANCHORS = {"cpl_meeting_date": "la réunion de la CPL",
                 "termination_effective_date": "la prise d'effet de la résiliation"}
# The period's end of a kind that does not roll over, as the explanation says it.
_NO_ROLL = {"effect": "une date d'effet", "contractual": "une échéance contractuelle", "service": "un délai de service"}
# The texts an article belongs to, by the prefix of its reference ("I §6", "ACI art. 6").
_SOURCES = {"I ": "instruction DGOS/DIR/CNAM/2019/218 du 9 octobre 2019",
            "ACI": "accord conventionnel interprofessionnel des CPTS du 20 juin 2019"}
CPC = "code de procédure civile"


def explanation_lines(reason: DueDateReason, *, status: str, expiry_event: str | None) -> list[tuple[str, str]]:
    """Why the deadline falls on its date: (term, description) pairs. `status` is the deadline's as the page
    shows it; for a closed window (`window_closed`), a last line says what its end leads to (`expiry_event`,
    the event the engine records at its next pass)."""
    lines = [("Point de départ", _capitalised(_anchor(reason))), ("Règle", _capitalised(_rule(reason)))]
    if reason.skipped:
        days = ", ".join(long_date(s.day) + (f" ({s.holiday})" if s.holiday else "") for s in reason.skipped)
        seat = f" (département {reason.departement})" if reason.departement else ""
        way = "précédent" if reason.before else "suivant"
        lines.append(("Jours non ouvrés", f"{days}, non ouvrés au siège de la CPTS{seat} : échéance reportée au "
                                          f"premier jour ouvré {way} (art. 642 du {CPC})"))
    elif reason.procedural:
        lines.append(("Report", "Aucun : c'est un jour ouvré au siège de la CPTS"))
    else:
        kind = _NO_ROLL.get(reason.kind, "cette date")
        lines.append(("Report", f"Aucun : {kind} ne se reporte pas les samedis, dimanches et jours fériés"))
    lines.append(("Échéance", _capitalised(long_date(reason.due))))
    if reason.source:
        lines.append(("Source", _source(reason.source)))
    if status == WINDOW_CLOSED:
        lines.append(("Effet", _effect(reason, expiry_event)))
    if reason.note:
        lines.append(("Remarque", reason.note))
    return lines


def _anchor(reason: DueDateReason) -> str:
    on = f"le {long_date(reason.anchor)}"
    if reason.anchor_event == "anniversary":
        return f"la date anniversaire n° {reason.anchor_year} du contrat, {on}"
    phrase = ANCHORS_FR.get(reason.anchor_event) or _MORE_ANCHORS.get(reason.anchor_event)
    if phrase is None and reason.anchor_event in labels.EVENT_LABELS:
        phrase = labels.EVENT_LABELS[reason.anchor_event].lower()
    if phrase:
        return f"{phrase}, {on}"
    return f"date fixée par le moteur : {on}"


def _rule(reason: DueDateReason) -> str:
    if reason.months == 0 and reason.days == 0:
        return "échéance fixée à cette date même"
    period = f"{reason.months} mois" if reason.months else f"{reason.days} jour{'s' if reason.days > 1 else ''}"
    if reason.before:
        rule = f"au moins {period} avant cette date"
    elif reason.months:
        rule = (f"{period} après, au même quantième (le dernier jour du mois quand ce quantième n'existe pas ; "
                f"art. 641 du {CPC})")
    else:
        rule = f"{period} après, le jour de départ ne comptant pas (art. 640 et 641 du {CPC})"
    if reason.franc:
        rule += " ; délai franc : le dernier jour ne compte pas non plus"
    return rule + f", soit le {long_date(reason.raw)}"


def _effect(reason: DueDateReason, expiry_event: str | None) -> str:
    closed = f"Délai écoulé le {long_date(reason.due)}"
    if not expiry_event:
        return f"{closed} : la fenêtre est close"
    effect = labels.EVENT_LABELS.get(expiry_event, expiry_event)
    return f"{closed} : {effect[:1].lower()}{effect[1:]} ; le moteur l'enregistre à son prochain passage"


def _source(source: str) -> str:
    for prefix, text in _SOURCES.items():
        if source.startswith(prefix):
            return f"{source} ({text})"
    return source


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
