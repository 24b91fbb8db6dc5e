"""Why a due date is that date, in French, for e-mails and calendar entries (SPEC §6)."""

from __future__ import annotations

from lifecycle.calendar import DateExplanation, DeadlineKind, french_date
from lifecycle.deadlines import Deadline

ANCHORS_FR = {
    "contact_recorded": "le premier contact",
    "fir_granted": "l'octroi du FIR",
    "fir_renewed": "le renouvellement du FIR",
    "health_project_received": "la réception du projet de santé par l'ARS",
    "contract_refusal_received": "la réception du refus de contrat",
    "contract_signed": "la signature du contrat",
    "anniversary": "la date anniversaire du contrat",
    "termination_notice_received": "la réception du courrier de résiliation",
    "cpl_referral_received": "la saisine de la CPL",
    "cpl_meeting_scheduled": "la réunion de la CPL",
    "cpl_meeting_held": "la réunion de la CPL",
    "cpl_opinion_notified": "la notification de l'avis de la CPL",
    "cpl_opinion_deemed": "l'avis réputé rendu de la CPL",
    "funders_decision_notified": "la notification de la décision de l'ARS et de la CPAM",
    "termination_effective": "la prise d'effet de la résiliation",
}


def _de(phrase: str) -> str:
    """French 'de' + article: de le → du, de les → des."""
    if phrase.startswith("le "):
        return "du " + phrase[3:]
    if phrase.startswith("les "):
        return "des " + phrase[4:]
    return "de " + phrase


def period_fr(explanation: DateExplanation) -> str:
    period = explanation.period
    if period.months:
        return f"{period.months} mois"
    return f"{period.days} jour" + ("s" if period.days > 1 else "")


def explain_fr(deadline: Deadline) -> str:
    """One French paragraph: anchor, rule, raw date, each day skipped and why, due date, source."""
    e = deadline.explanation
    anchor = ANCHORS_FR.get(deadline.anchor_event, deadline.anchor_event.replace("_", " "))
    if e.period.days == 0 and e.period.months == 0:
        text = f"Échéance fixée au {french_date(e.raw)} ({anchor})"
    elif e.before:
        text = f"Au moins {period_fr(e)} avant {anchor} ({french_date(e.anchor)}) : {french_date(e.raw)}"
    else:
        text = f"Délai de {period_fr(e)} à compter {_de(anchor)} ({french_date(e.anchor)})"
        text += " (jour de départ non compté)" if e.period.days else " (même quantième, art. 641 CPC)"
        text += f" : {french_date(e.raw)}"
    if e.franc:
        text += " ; délai franc : le dernier jour ne compte pas non plus"
    if e.steps:
        # A step's reason is "samedi" or "vendredi, Vendredi saint": keep the holiday's name.
        skipped = " ; ".join(french_date(s.day) + (f", {s.reason.split(', ', 1)[1]}" if ", " in s.reason else "")
                             for s in e.steps)
        direction = "précédent" if e.before else "suivant"
        text += f". Jour non ouvré ({skipped}) : échéance reportée au premier jour ouvré {direction}, " \
                f"le {french_date(e.due)} (art. 642 CPC)"
    elif e.kind is DeadlineKind.PROCEDURAL and e.raw != e.anchor:
        text += ", jour ouvré"
    return text + f". Source : {e.source}."
