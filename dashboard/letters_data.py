"""What a letter says about a case (issue 12): its dates and amounts, each explained in French, as the
`documents.letters.LetterData` its template is filled with. Shared by `cpts letter` and the case's *Lettres* page.

Everything comes from the case's page read model (`workflows.read.case_page.case_sheet`: the projection tables,
no replay): the journal gives the acts (a notice received, a referral, a meeting's date), the deadline rows the
dates computed from them with the reason of each (`dashboard.explain`, the words of the case page), the
échéancier's refund line its amount and the engine's account of how it was computed.

A letter whose dates do not exist yet for the case is refused with `LetterUnavailable`, whose message (English,
for the command line; `french` for the pages) says which event to record first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dashboard import labels
from dashboard.explain import explanation_lines
from dashboard.formatting import euros, long_date
from documents.letters import KINDS, CaseIdentity, LetterAmount, LetterData, LetterDate, letter_kind
from lifecycle.errors import DomainError
from lifecycle.events import read_evidence
from workflows.persistence.tables import Case
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.case_page import CaseSheet, DeadlineLine, JournalLine, PaymentLineView, case_sheet

ZERO = Decimal("0.00")


class LetterUnavailable(DomainError):
    """A letter the case has no dates for yet (or that does not apply to it): `str()` in English, `french` for
    the pages; both name the event to record first."""

    def __init__(self, english: str, french: str) -> None:
        super().__init__(english)
        self.french = french


@dataclass(frozen=True)
class LetterOption:
    """A kind of letter as the *Lettres* page lists it: available for the case, or why not (French)."""

    kind: str
    title: str
    available: bool
    reason: str | None


def letter_file_name(kind: str, case_id: int) -> str:
    """"lettre-resiliation-cpts-12.docx"."""
    return f"lettre-{kind}-cpts-{case_id}.docx"


def letter_data(uow: SqlUnitOfWork, case: Case, kind: str, *, today: date) -> LetterData:
    """The data of a letter of `kind` for `case` (whom the caller checked the user may see) as of `today`, the
    letter's date; UnknownLetterKind, or LetterUnavailable when the case lacks what the letter states."""
    letter_kind(kind)
    sheet = case_sheet(uow, case, today=today)
    return _BUILDERS[kind](_Source(sheet, lambda: _refund_explanation(sheet)))


def letter_options(uow: SqlUnitOfWork, case: Case, *, today: date) -> list[LetterOption]:
    """Every kind of letter, available for `case` or not (with the French reason)."""
    source = _Source(case_sheet(uow, case, today=today), lambda: None)
    options = []
    for kind in KINDS.values():
        try:
            _BUILDERS[kind.name](source)
        except LetterUnavailable as exc:
            options.append(LetterOption(kind.name, kind.title, False, exc.french))
        else:
            options.append(LetterOption(kind.name, kind.title, True, None))
    return options


@dataclass(frozen=True)
class _Source:
    """What a builder reads: the case's sheet, and the engine's text of the refund's computation (on demand)."""

    sheet: CaseSheet
    refund_text: Callable[[], str | None]


# ------------------------------------------------------------------------------------------------ the kinds
def _resiliation(source: _Source) -> LetterData:
    """The funders' termination letter (ACI art. 11.2): its effect, the CPTS's right to refer to the CPL within
    the window, the suspension a referral brings."""
    sheet = source.sheet
    notice = _last(sheet, "termination_notice_received")
    if notice is None:
        raise _record_first(sheet, "termination letter", "termination_notice_received",
                            "la réception du courrier de résiliation")
    if notice.data.get("initiator") != "funders":
        raise LetterUnavailable(
            f"case {sheet.id}: the termination was notified by the CPTS itself, not by the ARS and the CPAM: there "
            "is no funders' termination letter to write",
            "La résiliation a été notifiée par la CPTS elle-même : il n'y a pas de lettre de résiliation de l'ARS "
            "et de la CPAM à rédiger.")
    effective = _deadline(sheet, "termination_effective", anchor=notice.at, event="termination_notice_received")
    window = _deadline(sheet, "termination_cpl_window", anchor=notice.at)
    if effective is None or window is None:
        raise _not_computed(sheet, "termination_notice_received")
    dates = {
        "notice": _recorded("Réception du courrier de résiliation", notice,
                            "Date à laquelle la CPTS a reçu le courrier de résiliation",
                            "point de départ des délais de l'article 11.2 de l'ACI"),
        "effective": _dated("Prise d'effet de la résiliation", effective),
        "window": _dated("Fin du délai de saisine de la CPL", window),
    }
    return _letter(sheet, "resiliation", dates=dates, words={
        "grounds": GROUNDS.get(str(notice.data.get("grounds")), "[motif à préciser]"),
        "notice_evidence": f" (pièce : {evidence_words(notice.evidence)})" if notice.evidence else "",
    }, flags={"window_after_effect": window.due > effective.due})


def _accuse_saisine(source: _Source) -> LetterData:
    """Acknowledgement of a referral to the CPL (ACI art. 12.4): the meeting's deadline; for a termination, the
    suspension of its effect (art. 11.2)."""
    sheet = source.sheet
    referral = _referral(sheet)
    meeting = _deadline(sheet, "cpl_meeting", anchor=referral.at)
    if meeting is None:
        raise _not_computed(sheet, "cpl_referral_received")
    dates = {"referral": _referral_date(referral)}
    effective = _suspended_effect(sheet, referral)
    if effective is not None:
        dates["effective"] = effective
    dates["meeting_deadline"] = _dated("Date limite de réunion de la CPL", meeting)
    return _letter(sheet, "accuse-saisine-cpl", dates=dates, words={"about": _about(referral)},
                   flags={"termination": effective is not None})


def _convocation(source: _Source) -> LetterData:
    """Convocation of the CPL's members (règlement intérieur, art. 1.2): the meeting, the latest dates of sending
    the convocation (15 days before) and the agenda (5 days before)."""
    sheet = source.sheet
    referral = _referral(sheet)
    scheduled = _last(sheet, "cpl_meeting_scheduled", since=referral.at)
    if scheduled is None:
        raise LetterUnavailable(
            f"no CPL meeting is scheduled for case {sheet.id}: record the meeting's date first (cpl_meeting_scheduled)",
            "Aucune réunion de la CPL n'est fixée pour ce dossier : enregistrez d'abord sa date (« "
            f"{labels.EVENT_LABELS['cpl_meeting_scheduled']} »).")
    meeting_day = date.fromisoformat(str(scheduled.data["date"]))
    deadline = _deadline(sheet, "cpl_meeting", anchor=referral.at)
    convocation = _deadline(sheet, "cpl_convocation", anchor=meeting_day)
    agenda = _deadline(sheet, "cpl_agenda", anchor=meeting_day)
    if deadline is None or convocation is None or agenda is None:
        raise _not_computed(sheet, "cpl_meeting_scheduled")
    within = "dans le délai de réunion" if meeting_day <= deadline.due else "après l'expiration du délai de réunion"
    meeting = LetterDate(
        "Réunion de la CPL", meeting_day, long_date(meeting_day),
        f"Date de la réunion enregistrée au dossier le {long_date(scheduled.at)} (saisie n° {scheduled.seq}) ; "
        f"elle se situe {within}, qui expire le {long_date(deadline.due)} (deux mois après la réception de la "
        "saisine, ACI art. 12.4.2).")
    dates = {
        "referral": _referral_date(referral),
        "meeting_deadline": _dated("Date limite de réunion de la CPL", deadline),
        "meeting": meeting,
        "convocation": _dated("Envoi des convocations, au plus tard", convocation),
        "agenda": _dated("Envoi de l'ordre du jour, au plus tard", agenda),
    }
    return _letter(sheet, "convocation-cpl", dates=dates, words={"about": _about(referral)})


def _decision(source: _Source) -> LetterData:
    """The funders' new decision after the CPL's opinion (ACI art. 12.4.2): the opinion (notified, or deemed
    given), the deadline of the decision, and, once recorded, the decision and the termination's effect."""
    sheet = source.sheet
    referral = _referral(sheet)
    held = _last(sheet, "cpl_meeting_held", since=referral.at)
    if held is None:
        raise _record_first(sheet, "funders' decision letter", "cpl_meeting_held",
                            "la tenue de la réunion de la CPL")
    opinion = _last(sheet, ("cpl_opinion_notified", "cpl_opinion_deemed"), since=held.at)
    if opinion is None:
        raise _no_opinion(sheet, held)
    decision_deadline = _deadline(sheet, "funders_new_decision", anchor=opinion.at)
    if decision_deadline is None:
        raise _not_computed(sheet, opinion.type)
    deemed = opinion.type == "cpl_opinion_deemed"
    termination = referral.data.get("subject") == "termination"
    dates = {"referral": _referral_date(referral),
             "meeting_held": _recorded("Réunion de la CPL", held, "Date de la réunion de la CPL",
                                       "point de départ du délai de trente jours de son avis (ACI art. 12.4.2)")}
    if deemed:
        window = _deadline(sheet, "cpl_opinion", anchor=held.at)
        dates["opinion"] = LetterDate(
            "Avis de la CPL réputé rendu", opinion.at, long_date(opinion.at),
            (_sentence(window) + " " if window is not None else "")
            + "Faute d'avis notifié à cette date, l'avis de la commission est réputé rendu (ACI art. 12.4.2).")
    else:
        dates["opinion"] = _recorded("Notification de l'avis de la CPL", opinion,
                                     "Date de notification de l'avis de la commission",
                                     "point de départ du délai de trente jours de la nouvelle décision "
                                     "(ACI art. 12.4.2)")
    dates["decision_deadline"] = _dated("Date limite de la nouvelle décision", decision_deadline)
    decision = _last(sheet, "funders_decision_notified", since=opinion.at)
    outcome = str(decision.data.get("outcome")) if decision is not None else None
    words = {"about": _about(referral), "opinion": _opinion_sentence(opinion),
             "decision": DECISIONS.get((termination, outcome), "[décision à compléter]")}
    if decision is not None:
        dates["decision"] = _recorded("Notification de la nouvelle décision", decision,
                                      "Date de notification de la décision de l'ARS et de la caisse", "")
    effective_known = termination and outcome == "maintained"
    if effective_known:
        effect = _maintained_effect(sheet, referral, decision)
        if effect is not None:
            dates["effective"] = effect
        effective_known = effect is not None
    undecided = termination and decision is None
    if undecided:
        original = _suspended_effect(sheet, referral)
        if original is not None:
            dates["original_effective"] = original
        undecided = original is not None
    return _letter(sheet, "decision-financeurs", dates=dates, words=words, flags={
        "termination": termination and outcome != "withdrawn", "effective_known": effective_known,
        "termination_undecided": undecided, "opinion_attached": not deemed})


def _remboursement(source: _Source) -> LetterData:
    """The refund demand after a termination (ACI art. 11.3): the amount, how it is computed, its due date."""
    sheet = source.sheet
    deadline = next((d for d in reversed(sheet.deadlines) if d.rule_key == "refund"), None)
    refund = next((p for p in reversed(sheet.payments) if p.is_refund and p.status != "cancelled"), None)
    if deadline is None or refund is None or refund.amount is None:
        if sheet.state != "terminated":
            raise LetterUnavailable(
                f"no refund demand for case {sheet.id}: the termination has not taken effect; termination_effective "
                "must be recorded first (the scheduler records it on the effective date)",
                "Pas de demande de remboursement : la résiliation n'a pas encore pris effet (« "
                f"{labels.EVENT_LABELS['termination_effective']} », enregistrée automatiquement à sa date).")
        raise LetterUnavailable(
            f"no refund is owed for case {sheet.id}: the advances paid for the termination year do not exceed what "
            "that year is owed (ACI art. 11.3)",
            "Aucun remboursement n'est dû : les avances versées pour l'année de la résiliation ne dépassent pas la "
            "rémunération due pour cette année (ACI art. 11.3).")
    if refund.paid >= refund.amount:
        raise LetterUnavailable(
            f"case {sheet.id}: the refund of {refund.amount} € was received in full: there is no demand to send",
            f"Le remboursement de {euros(refund.amount)} a été reçu en totalité : il n'y a pas de demande à "
            "envoyer.")
    effective_on = deadline.reason.anchor
    dates = {"effective": _effect_on(sheet, effective_on),
             "refund_due": _dated("Date limite du remboursement", deadline)}
    computed = _refund_computation(source.refund_text(), refund, sheet, effective_on)
    # The refund is computed from every component of its year: "à confirmer" when one of their rows is.
    doubt = refund.to_confirm or ""
    amounts = {
        "due_for_year": LetterAmount(f"Rémunération due pour l'année {refund.year}", computed.due,
                                     euros(computed.due), computed.due_explanation, to_confirm=doubt),
        "advances": LetterAmount(f"Avances versées pour l'année {refund.year}", computed.advances,
                                 euros(computed.advances),
                                 f"Avances de l'année {refund.year} du contrat échues au plus tard à la prise "
                                 f"d'effet de la résiliation, le {long_date(effective_on)} (ACI art. 11.3)."),
        "refund": LetterAmount("Montant à rembourser", refund.amount, euros(refund.amount),
                               f"Avances versées ({euros(computed.advances)}) moins la rémunération due "
                               f"({euros(computed.due)}) pour l'année {refund.year} (ACI art. 11.3).",
                               to_confirm=doubt),
    }
    partly = refund.paid > 0
    if partly:
        remaining = refund.amount - refund.paid
        amounts["received"] = LetterAmount("Remboursement déjà reçu", refund.paid, euros(refund.paid),
                                           "Sommes reçues au titre du remboursement, enregistrées au dossier.")
        amounts["remaining"] = LetterAmount("Reste à rembourser", remaining, euros(remaining),
                                            f"{euros(refund.amount)} moins {euros(refund.paid)} déjà reçus.",
                                            to_confirm=doubt)
    return _letter(sheet, "remboursement", dates=dates, amounts=amounts, words={"year": str(refund.year)},
                   flags={"partly_received": partly})


_BUILDERS: dict[str, Callable[[_Source], LetterData]] = {
    "resiliation": _resiliation, "accuse-saisine-cpl": _accuse_saisine, "convocation-cpl": _convocation,
    "decision-financeurs": _decision, "remboursement": _remboursement,
}
assert set(_BUILDERS) == set(KINDS), "a letter kind without its builder (or the reverse)"

# ------------------------------------------------------------------------------------------------ words
GROUNDS = {
    "non_compliance": "non-respect manifeste des engagements du contrat (notamment des missions non mises en "
                      "œuvre)",
    "ineligible": "la CPTS ne remplit plus les conditions d'éligibilité au contrat",
}
# What a referral is about, after "relative".
ABOUT = {"termination": "à la résiliation du contrat tripartite notifiée par l'ARS et la caisse",
         "contract_refusal": "au refus de conclure le contrat tripartite"}
# (about a termination, outcome) → the decision as the letter states it.
DECISIONS = {
    (True, "maintained"): "la résiliation du contrat tripartite est maintenue",
    (True, "withdrawn"): "la résiliation du contrat tripartite est retirée ; le contrat se poursuit",
    (True, None): "[à compléter : maintien ou retrait de la résiliation]",
    (False, "granted"): "le refus est levé ; votre demande d'adhésion au contrat tripartite est de nouveau "
                        "instruite",
    (False, "maintained"): "le refus de conclure le contrat tripartite est maintenu",
    (False, None): "[à compléter : levée ou maintien du refus]",
}
OPINIONS = {
    "favourable": "La commission a rendu un avis favorable, notifié le {day}.",
    "unfavourable": "La commission a rendu un avis défavorable, notifié le {day}.",
    # ACI annex 5: a tie kept after the second, secret vote.
    "no_agreement": "La commission n'a pu dégager d'accord : le partage des voix a été maintenu après un second "
                    "vote à bulletin secret, et l'absence d'accord est actée dans le procès-verbal notifié le {day}.",
}


def _about(referral: JournalLine) -> str:
    return ABOUT.get(str(referral.data.get("subject")), "[objet de la saisine]")


def _opinion_sentence(opinion: JournalLine) -> str:
    day = long_date(opinion.at)
    if opinion.type == "cpl_opinion_deemed":  # ACI art. 12.4.2; never to be confused with a notified opinion
        return (f"La commission n'ayant pas notifié d'avis dans les trente jours suivant sa réunion, son avis est "
                f"réputé rendu le {day} (ACI, art. 12.4.2).")
    value = str(opinion.data.get("opinion"))
    return OPINIONS.get(value, "La commission a rendu son avis ({value}), notifié le {day}.").format(
        day=day, value=value)


# ------------------------------------------------------------------------------------------------ the case
def _letter(sheet: CaseSheet, kind: str, *, dates: dict[str, LetterDate],
            amounts: dict[str, LetterAmount] | None = None, words: dict[str, str] | None = None,
            flags: dict[str, bool] | None = None) -> LetterData:
    return LetterData(kind=kind, case=identity(sheet), issued_on=long_date(sheet.today), dates=dates,
                      amounts=amounts or {}, words=words or {}, flags=flags or {})


def identity(sheet: CaseSheet) -> CaseIdentity:
    """The case and its parties: the ARS of its région, the caisse of its département, the seat's commission."""
    if sheet.cpl.startswith("CPL "):
        of = sheet.cpl.removeprefix("CPL ")  # "de la Moselle"
        commission, cpam = f"commission paritaire locale {of}", f"Caisse primaire d'assurance maladie {of}"
    else:  # 971-976 (ACI art. 12): a commission paritaire territoriale, and a caisse générale (Mayotte: a CSS)
        commission = sheet.cpl
        of = sheet.cpl.removeprefix("commission paritaire territoriale ")
        cpam = (f"Caisse de sécurité sociale {of}" if sheet.seat_departement == "976"
                else f"Caisse générale de sécurité sociale {of}")
    return CaseIdentity(
        id=sheet.id, name=sheet.name, departement=sheet.seat_departement, departement_name=sheet.departement_name,
        region=sheet.region, region_name=sheet.region_name, ars=f"Agence régionale de santé {sheet.region_name}",
        cpam=cpam, commission=commission, commission_title=commission[:1].upper() + commission[1:],
        addressee=sheet.contact_name or "la présidence de la CPTS",
        contract_signed_on=long_date(sheet.contract_signed_on),
    )


def _last(sheet: CaseSheet, types: str | tuple[str, ...], *, since: date | None = None) -> JournalLine | None:
    """The latest live (not voided) journal entry of one of `types`, dated `since` or later."""
    wanted = (types,) if isinstance(types, str) else types
    found = [j for j in sheet.journal if j.type in wanted and j.voided_by is None
             and (since is None or j.at >= since)]
    return max(found, key=lambda j: (j.at, j.seq), default=None)


def _deadline(sheet: CaseSheet, key: str, *, anchor: date, event: str | None = None) -> DeadlineLine | None:
    """The deadline of rule `key` counted from `anchor` (from the event `event`, when given); the last one."""
    found = [d for d in sheet.deadlines if d.rule_key == key and d.reason.anchor == anchor
             and (event is None or d.reason.anchor_event == event)]
    return found[-1] if found else None


def _referral(sheet: CaseSheet) -> JournalLine:
    referral = _last(sheet, "cpl_referral_received")
    if referral is None:
        raise LetterUnavailable(
            f"no CPL referral for case {sheet.id}: record the referral first (cpl_referral_received)",
            "Aucune saisine de la CPL pour ce dossier : enregistrez d'abord sa réception (« "
            f"{labels.EVENT_LABELS['cpl_referral_received']} »).")
    return referral


def _suspended_effect(sheet: CaseSheet, referral: JournalLine) -> LetterDate | None:
    """For a referral against a funders' termination, the effect it suspends (its original date)."""
    if referral.data.get("subject") != "termination":
        return None
    notice = _last(sheet, "termination_notice_received")
    if notice is None or notice.at > referral.at:
        return None
    effective = _deadline(sheet, "termination_effective", anchor=notice.at, event="termination_notice_received")
    return _dated("Prise d'effet initiale de la résiliation", effective) if effective is not None else None


def _maintained_effect(sheet: CaseSheet, referral: JournalLine, decision: JournalLine | None) -> LetterDate | None:
    """The effect of a termination maintained after the referral: the later of its original date and the
    decision's notification (SPEC §5, the reading of ACI art. 11.2 the engine applies)."""
    original = _suspended_effect(sheet, referral)
    if original is None or decision is None:
        return None
    effective_on = max(original.day, decision.at)
    which = "la date d'effet initiale" if effective_on == original.day else "la notification de la décision"
    return LetterDate(
        "Prise d'effet de la résiliation maintenue", effective_on, long_date(effective_on),
        f"La résiliation maintenue après la saisine de la CPL prend effet à la plus tardive de sa date d'effet "
        f"initiale ({original.text}) et de la notification de la décision de maintien ({long_date(decision.at)}), "
        f"soit {which} : le {long_date(effective_on)} ; une date d'effet ne se reporte pas les samedis, dimanches "
        "et jours fériés (ACI art. 11.2, lecture retenue : la saisine suspend l'effet jusqu'à la nouvelle décision).")


def _effect_on(sheet: CaseSheet, effective_on: date) -> LetterDate:
    """The termination's effect on `effective_on`, explained by the deadline that fixed it."""
    rows = [d for d in sheet.deadlines if d.rule_key == "termination_effective" and d.due == effective_on]
    original = next((d for d in rows if d.reason.anchor_event == "termination_notice_received"), None)
    if original is not None:
        return _dated("Prise d'effet de la résiliation", original)
    referral, decision = _last(sheet, "cpl_referral_received"), _last(sheet, "funders_decision_notified")
    if referral is not None:
        maintained = _maintained_effect(sheet, referral, decision)
        if maintained is not None and maintained.day == effective_on:
            return LetterDate("Prise d'effet de la résiliation", effective_on, maintained.text,
                              maintained.explanation)
    return LetterDate("Prise d'effet de la résiliation", effective_on, long_date(effective_on),
                      "Date de la prise d'effet de la résiliation enregistrée au journal du dossier.")


def _referral_date(referral: JournalLine) -> LetterDate:
    return _recorded("Réception de la saisine de la CPL", referral, "Date de réception de la saisine de la CPL",
                     "point de départ du délai de deux mois de la réunion de la commission (ACI art. 12.4.2)")


# ------------------------------------------------------------------------------------------------ explanations
def _dated(label: str, deadline: DeadlineLine) -> LetterDate:
    return LetterDate(label, deadline.due, long_date(deadline.due), _sentence(deadline),
                      to_confirm=deadline.to_confirm or "")


def _sentence(deadline: DeadlineLine) -> str:
    """Why the deadline falls on its date, in one French sentence: the case page's explanation (anchor, rule,
    days rolled over with the holidays' names, due date, article), its engine's note left out (English)."""
    lines = explanation_lines(deadline.reason, status="pending", expiry_event=None)
    parts = [_part(term, text) for term, text in lines if term != "Remarque"]
    sentence = " ; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "."


def _part(term: str, text: str) -> str:
    if term == "Report" and text.startswith("Aucun : "):  # "Aucun : c'est un jour ouvré…"
        return "pas de report : " + text.removeprefix("Aucun : ")
    return f"{term[:1].lower()}{term[1:]} : {_uncapitalised(text)}"


def _uncapitalised(text: str) -> str:
    """"La réception…", "L'avis…" → "la réception…", "l'avis…"; an acronym ("ACI art. 11.2") stays."""
    return text if len(text) > 1 and text[1].isupper() else text[:1].lower() + text[1:]


def evidence_words(stored: str) -> str:
    """An event's evidence in a sentence: the free reference as given, or "LRAR n° …, présentée le …, avis de
    réception signé le …" for the registered letter (structured evidence)."""
    proof = read_evidence(stored)
    if proof is None or not proof.structured:
        return stored
    parts = [f"LRAR n° {proof.lrar}"] if proof.lrar else []
    if proof.presented_on:
        parts.append(f"première présentation le {long_date(proof.presented_on)}")
    if proof.received_on:
        parts.append(f"avis de réception signé le {long_date(proof.received_on)}")
    if proof.reference:
        parts.append(f"réf. {proof.reference}")
    return ", ".join(parts)


def _recorded(label: str, line: JournalLine, what: str, role: str) -> LetterDate:
    """A date the journal holds (the day an act was done), with where it is recorded."""
    evidence = f", pièce : {evidence_words(line.evidence)}" if line.evidence else ""
    return LetterDate(label, line.at, long_date(line.at),
                      f"{what}, enregistrée au journal du dossier (saisie n° {line.seq}{evidence})"
                      + (f" : {role}." if role else "."))


# ------------------------------------------------------------------------------------------------ refusals
def _record_first(sheet: CaseSheet, letter: str, event: str, what_fr: str) -> LetterUnavailable:
    return LetterUnavailable(
        f"no {letter} for case {sheet.id} yet: record {event} first",
        f"Enregistrez d'abord {what_fr} (« {labels.EVENT_LABELS.get(event, event)} »).")


def _not_computed(sheet: CaseSheet, event: str) -> LetterUnavailable:
    """The event is recorded but the dates it leads to are not in the tables (e.g. refused by a later replay)."""
    return LetterUnavailable(
        f"case {sheet.id}: the dates that follow {event} are not computed (see `cpts case show {sheet.id}`)",
        f"Les dates qui découlent de l'événement « {labels.EVENT_LABELS.get(event, event)} » ne sont pas "
        "calculées pour ce dossier : vérifiez sa fiche.")


def _no_opinion(sheet: CaseSheet, held: JournalLine) -> LetterUnavailable:
    window = _deadline(sheet, "cpl_opinion", anchor=held.at)
    if window is not None and window.status in ("window_closed", "elapsed"):
        return LetterUnavailable(
            f"case {sheet.id}: the CPL's opinion is deemed given on {window.due.isoformat()} but not recorded yet: "
            "the scheduler records cpl_opinion_deemed at its next pass",
            f"L'avis de la CPL est réputé rendu le {long_date(window.due)}, mais ce n'est pas encore enregistré : "
            "le planificateur l'enregistre à son prochain passage.")
    until = f" (without one, it is deemed given after {window.due.isoformat()})" if window is not None else ""
    until_fr = f" ; à défaut, il est réputé rendu après le {long_date(window.due)}" if window is not None else ""
    return LetterUnavailable(
        f"no CPL opinion for case {sheet.id} yet: record cpl_opinion_notified first{until}",
        f"Enregistrez d'abord l'avis de la CPL (« {labels.EVENT_LABELS['cpl_opinion_notified']} »){until_fr}.")


# ------------------------------------------------------------------------------------------------ the refund
@dataclass(frozen=True)
class _RefundComputation:
    due: Decimal
    advances: Decimal
    due_explanation: str


# The engine's text of a refund line (lifecycle.payments, termination settlement), e.g. "112 125.00 − 102 397.26 to
# refund; due for year 2: fonctionnement 60 000 × 250/365 + access 29 500 × 250/365 = 102 397.26; advances paid for
# year 2: 112 125.00; …".
_NUMBER = r"\d[\d  ]*(?:\.\d\d)?"
_REFUND = re.compile(rf"^(?P<paid>{_NUMBER}) − (?P<due>{_NUMBER}) to refund; due for year \d+: (?P<rows>.+?) = "
                     rf"{_NUMBER}; advances paid for year \d+: {_NUMBER}")
_ROW = re.compile(rf"^(?P<component>[a-z_]+) (?P<annual>{_NUMBER}) × (?P<days>\d+)/(?P<length>\d+)$")


def _refund_explanation(sheet: CaseSheet) -> str | None:
    lines = [p for p in sheet.payments if p.component == "refund"]
    return lines[-1].explanation if lines else None


def _refund_computation(text: str | None, refund: PaymentLineView, sheet: CaseSheet,
                        effective_on: date) -> _RefundComputation:
    """What the termination year is owed and what was advanced for it, and how: from the engine's text of the
    refund line; without it (or in a shape not read here), from the échéancier's advance lines."""
    found = _REFUND.match(text or "")
    rows = [_ROW.match(row) for row in found.group("rows").split(" + ")] if found else []
    if found and rows and all(rows):
        due, advances = _amount(found.group("due")), _amount(found.group("paid"))
        terms = " + ".join(f"{_component(m.group('component'))} {euros(_amount(m.group('annual')))} × "
                           f"{m.group('days')}/{m.group('length')}" for m in rows if m is not None)
        return _RefundComputation(due, advances, (
            f"{terms[:1].upper()}{terms[1:]} = {euros(due)}. Pour chaque composante versée par avance, le montant "
            f"annuel est multiplié par le nombre de jours d'exécution de l'année {refund.year} du contrat (de son "
            f"début, ou du démarrage de la mission s'il est postérieur, jusqu'à la prise d'effet le "
            f"{long_date(effective_on)}), rapporté au nombre de jours de cette année (ACI art. 11.3)."))
    advances = sum((p.amount or ZERO for p in sheet.payments if p.year == refund.year and p.due <= effective_on
                    and p.component.endswith(".advance") and p.status != "cancelled"), ZERO)
    due = advances - refund.amount if refund.amount is not None else ZERO
    return _RefundComputation(due, advances, (
        f"Avances versées ({euros(advances)}) moins le montant à rembourser ({euros(refund.amount)}) : le montant "
        f"annuel de chaque composante versée par avance, au prorata des jours d'exécution de l'année {refund.year} "
        f"du contrat jusqu'à la prise d'effet le {long_date(effective_on)} (ACI art. 11.3)."))


def _component(name: str) -> str:
    if name == "fonctionnement":
        return "fonctionnement"
    mission = labels.MISSION_LABELS.get(name, name)
    return f"mission « {mission} » (part fixe{', SNP compris' if name == 'access' else ''})"


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(" ", "").replace("\u00a0", "").replace("\u202f", ""))
