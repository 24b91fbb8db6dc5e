"""The engine's refusals in French, for the web pages (the domain and the CLI speak English).

`french(error)` reads a `DomainError`'s one-line English message against a table of patterns — a compiled regular
expression over the message, and the French sentence to write with what it captured — and returns that sentence.
Captured pieces are said the pages' way: ISO dates as `formatting.long_date` writes them, events and states by
their `labels`, amounts in euros, missions and payment lines by their French names.

Refusals are composed: `apply` wraps a lifecycle refusal ("<event> rejected in state <s>: <why>") in
"… (event dated <day>)", a voiding that would break a later entry quotes that entry's refusal. A pattern
therefore hands a captured piece to another table (`{reason:reason}`, `{inner:message}`): the message is
translated only if every piece is, so a page never shows half a sentence in English. A message no pattern
reads is shown whole, as "Refusé par le moteur : <English message>" — never lost — and the log records that a
translation is missing (the class of the error only: messages hold users' values and addresses).

`tests/web/test_messages.py` checks real refusals through the services, and scans `lifecycle/` and
`workflows/services/` so that a new refusal without a pattern fails the tests.
"""

from __future__ import annotations

import ast
import logging
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from dashboard import formatting, labels
from lifecycle.handlers import CPL_SEATS_SOURCE
from lifecycle.ruleset import load_ruleset

log = logging.getLogger("cpts.web")

UNTRANSLATED = "Refusé par le moteur : "
MAX_MESSAGE_CHARS = 20_000  # far above any refusal (values in them are cut at 60 characters)

Groups = Mapping[str, str | None]
Converter = Callable[[str | None, Groups], str | None]


# ------------------------------------------------------------------------------------------------ public
def french(error: Exception) -> str:
    """The French sentence a page shows for a refusal of the engine; the English message, marked as such,
    when no pattern reads it."""
    message = str(error)
    translated = translate(message)
    if translated is not None:
        return translated
    log.warning("no French for a %s refusal: shown in English", type(error).__name__)
    return UNTRANSLATED + message


def translate(message: str) -> str | None:
    """The French of an engine message (a sentence: capital letter, final full stop), or None if no pattern
    reads all of it."""
    if len(message) > MAX_MESSAGE_CHARS:
        return None
    text = _render(message.strip(), MESSAGES, {})
    if not text:
        return None
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "…")) else text + "."


# ------------------------------------------------------------------------------------------------ machinery
@dataclass(frozen=True)
class Rule:
    """An English message's shape and its French.

    Attributes:
        pattern: matched against the whole message (`fullmatch`); named groups capture its variable parts.
        template: the French, `str.format` style: `{name:kind}` writes group `name` with the converter `kind`
            (plain `{name}`: as captured); `{{` and `}}` are literal braces.
    """

    pattern: re.Pattern[str]
    template: str


def _rules(*pairs: tuple[str, str]) -> tuple[Rule, ...]:
    return tuple(Rule(re.compile(pattern, re.DOTALL), template) for pattern, template in pairs)


_FORMATTER = string.Formatter()


def _render(text: str, rules: tuple[Rule, ...], context: Groups) -> str | None:
    """The first rule whose pattern matches `text` and whose pieces all translate; None if none."""
    for rule in rules:
        match = rule.pattern.fullmatch(text)
        if match is None:
            continue
        filled = _fill(rule.template, {**context, **match.groupdict()})
        if filled is not None:
            return filled
    return None


def _fill(template: str, groups: Groups) -> str | None:
    parts: list[str] = []
    for literal, name, kind, _ in _FORMATTER.parse(template):
        parts.append(literal)
        if name is None:
            continue
        word = CONVERTERS[kind or "text"](groups.get(name), groups)
        if word is None:
            return None
        parts.append(word)
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ words
def _inside_sentence(word: str) -> str:
    """"Porteurs du projet" → "porteurs du projet"; "ARS", "PRS" stay as they are."""
    return word[:1].lower() + word[1:] if word[1:2].islower() else word


# The data keys of events as a message names them (the form's own labels are in dashboard.routes.events).
KEY_WORDS = {
    "source": "origine du premier contact", "orientations": "orientations de la lettre d'intention",
    "party": "partie qui décide", "decision": "décision", "amount": "montant", "grounds": "motif",
    "documents": "pièces du dossier", "missions": "missions", "population": "population couverte",
    "snp_compensation": "compensation des soins non programmés",
    "snp_orientation": "service d'orientation des soins non programmés", "mission": "mission",
    "year": "année du contrat", "add_missions": "missions ajoutées", "drop_missions": "missions retirées",
    "component": "composante de l'échéancier", "initiator": "initiative de la résiliation",
    "subject": "objet de la saisine", "date": "date", "opinion": "avis de la CPL",
    "outcome": "décision des financeurs", "reason": "motif", "seq": "saisie à annuler",
    "evidence": "pièce justificative", "event date": "date de l'événement", "attainment": "taux d'atteinte",
    "present": "membres présents", "represented": "membres représentés", "proxies": "délégations de vote",
    "votes": "vote", "second_vote": "second vote", "section": "section à l'origine de la carence",
    "lrar": "n° de la lettre recommandée", "presented_on": "date de première présentation",
    "received_on": "date de réception (AR signé)", "seats": "sièges de la CPL par section",
    "reference": "autre référence",
}
# The values of the choices a refusal may list, by data key (missions and components: `labels`): the form's
# words, in lower case inside a sentence (acronyms kept: "ARS", "PRS").
CHOICE_WORDS: dict[str, dict[str, str]] = {
    key: {value: _inside_sentence(word) for value, word in words.items()}
    for key, words in {**labels.CHOICE_LABELS,
                       "opinion": {**labels.CHOICE_LABELS["opinion"], "deemed": "Réputé rendu"}}.items()
    if key != "mission"
}
MISSION_KEYS = ("mission", "missions", "add_missions", "drop_missions")
# The options of `cpts case assign` and `cpts user`, as the referents' form names its fields.
OPTION_WORDS = {
    "--ars": "référent ARS", "--cpam": "référent CPAM", "--contact-name": "nom du contact de la CPTS",
    "--contact-email": "adresse e-mail du contact de la CPTS", "--name": "nom", "--email": "adresse e-mail",
    "e-mail": "adresse e-mail",
}
# Why an e-mail address is refused (notifications.addresses, then the email-validator library).
ADDRESS_REASONS = _rules(
    (r"the address is empty", "l'adresse est vide"),
    (r"the address is (?P<n>\S+) characters long, at most (?P<max>\S+) are allowed",
     "l'adresse compte {n:number} caractères, {max:number} au plus"),
    (r"the address holds non-ASCII characters \((?P<chars>.*)\); accented letters and internationalised domain "
     r"names are not supported by the mail relay",
     "l'adresse contient des caractères non ASCII ({chars}) : le relais de messagerie n'accepte ni lettres "
     "accentuées ni noms de domaine internationalisés"),
    (r"an email address must have an @-sign\.?", "il manque le signe @"),
    (r"there must be something before the @-sign\.?", "il manque la partie avant le signe @"),
    (r"there must be something after the @-sign\.?", "il manque la partie après le signe @"),
    (r"the part after the @-sign is not valid\. It should have a period\.?",
     "la partie après le signe @ doit contenir un point"),
    (r"the part after the @-sign is a special-use or reserved name that cannot be used with email\.?",
     "le domaine après le signe @ est un nom réservé"),
    (r"an email address cannot have two periods in a row\.?", "l'adresse contient deux points de suite"),
    (r"an email address cannot (?:start|end) with a period\.?",
     "l'adresse ne peut ni commencer ni finir par un point"),
    (r"the email address contains invalid characters before the @-sign: (?P<chars>.+?)\.?",
     "caractères interdits avant le signe @ : {chars}"),
    (r"the part after the @-sign contains invalid characters: (?P<chars>.+?)\.?",
     "caractères interdits après le signe @ : {chars}"),
)
JSON_ERRORS = {
    "Expecting value": "valeur attendue", "Expecting property name enclosed in double quotes":
    "nom de propriété entre guillemets attendu", "Expecting ',' delimiter": "virgule attendue",
    "Expecting ':' delimiter": "deux-points attendus", "Unterminated string starting at": "texte non terminé",
    "Extra data": "données en trop après l'objet", "Invalid control character at": "caractère de contrôle interdit",
    "Invalid \\escape": "séquence d'échappement invalide",
}
JSON_TYPES = {"list": "une liste", "str": "un texte", "int": "un nombre", "float": "un nombre", "bool": "un booléen",
              "NoneType": "null", "dict": "un objet"}
CONTROL_NAMES = {"NUL": "NUL", "tab": "tabulation", "line feed": "saut de ligne",
                 "carriage return": "retour chariot", "control": "contrôle"}


# ------------------------------------------------------------------------------------------------ converters
def _iso(value: str | None) -> date | None:
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _text(value: str | None, groups: Groups) -> str:
    return value or ""


def _date(value: str | None, groups: Groups) -> str:
    day = _iso(value)
    return formatting.long_date(day) if day else (value or "")


def _quoted(label: str) -> str:
    return f"« {label} »"


def _event(value: str | None, groups: Groups) -> str:
    return _quoted(labels.EVENT_LABELS.get(value or "", value or ""))


def _state(value: str | None, groups: Groups) -> str:
    return _quoted(labels.STATE_LABELS.get(value or "", value or ""))


def _either(words: list[str], last: str = "ou") -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _states(value: str | None, groups: Groups) -> str:
    states = [_state(v, groups) for v in _listed(value)] or [_state(value, groups)]
    return f"l'état {states[0]}" if len(states) == 1 else f"les états {_either(states)}"


def _mission(value: str | None, groups: Groups) -> str:
    return _quoted(labels.MISSION_LABELS.get(value or "", value or ""))


def _missions(value: str | None, groups: Groups) -> str:
    found = _listed(value)
    return _either([_mission(v, groups) for v in found], "et") if found else "aucune"


def _documents(value: str | None, groups: Groups) -> str:
    words = CHOICE_WORDS["documents"]
    return _either([_quoted(words.get(v, v)) for v in _listed(value)] or [value or ""], "et")


def _choice_word(key: str, value: str) -> str:
    if key in MISSION_KEYS:
        return labels.MISSION_LABELS.get(value, value)
    if key == "component":
        return labels.component_label(value)
    return CHOICE_WORDS.get(key, {}).get(value, value)


def _choices(value: str | None, groups: Groups) -> str:
    key = (groups.get("key") or "").rsplit(".", 1)[-1]
    return _either([_quoted(_choice_word(key, v)) for v in _listed(value)] or [value or ""])


def _field(value: str | None, groups: Groups) -> str:
    """A data key ("montant"), the data of an event, or a path into the indicators' JSON as typed."""
    key = value or ""
    if key in KEY_WORDS:
        return KEY_WORDS[key]
    if key == "event data":
        return "données de l'événement"
    cpl = re.fullmatch(r"(present|represented|votes|second_vote|proxies|seats)(?:\[(\d+)\])?(?:\.(\w+))?", key)
    if cpl:
        base, index, part = cpl.groups()
        where = f", délégation n° {int(index) + 1}" if index else ""
        return f"{KEY_WORDS[base]}{where}" + (f" ({CPL_PART_WORDS.get(part, part)})" if part else "")
    data = re.fullmatch(r"(\w+) data(.*)", key, re.DOTALL)
    if data:
        event, path = data.groups()
        where = f" ({path.lstrip('.')})" if path else ""
        return f"données de l'événement {_event(event, groups)}{where}"
    return _quoted(key)


def _fields(value: str | None, groups: Groups) -> str:
    if value == "no data":
        return "aucune"
    return ", ".join(_quoted(KEY_WORDS.get(v, v)) for v in _listed(value)) or (value or "")


def _value(value: str | None, groups: Groups) -> str:
    """A user's value as the engine quoted it: a Python repr, maybe cut short ("'abc… (75 characters)")."""
    text = value or ""
    cut = re.fullmatch(r"(.*)… \((\d+) characters\)", text, re.DOTALL)
    if cut:
        body = cut.group(1)
        body = body[1:] if body[:1] in "'\"" else body
        return f"{_quoted(body + '…')} ({formatting.number(int(cut.group(2)))} caractères)"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            return _quoted(str(ast.literal_eval(text)))
        except (ValueError, SyntaxError):
            return _quoted(text[1:-1])
    return _quoted(text)


def _refused(value: str | None, groups: Groups) -> str:
    if value in ("None", "''", '""', "[]"):
        return "aucune valeur n'a été donnée"
    return f"la valeur {_value(value, groups)} n'est pas acceptée"


def _number(value: str | None, groups: Groups) -> str:
    text = (value or "").replace(" ", "").replace(",", "")
    return formatting.number(int(text)) if text.isdigit() else (value or "")


def _euros(value: str | None, groups: Groups) -> str:
    try:
        return formatting.euros(Decimal((value or "").replace(" ", "")))
    except (InvalidOperation, ValueError):
        return f"{value} €"


def _component(value: str | None, groups: Groups) -> str:
    return _quoted(labels.component_label(value or ""))


def _no_line(value: str | None, groups: Groups) -> str:
    """What the échéancier lacks: "de ligne « … » pour l'année 1", "de remboursement du trop-perçu"."""
    if value == "the refund":
        return "de remboursement du trop-perçu"
    found = re.fullmatch(r"(\S+) of year (\S+)", value or "")
    if found:
        return f"de ligne {_component(found.group(1), groups)} pour l'année {found.group(2)}"
    return f"de ligne {_quoted(value or '')}"


def _line(value: str | None, groups: Groups) -> str:
    """A payment line as `lifecycle.payments.outstanding` names it: "<component> of year <n>", "the refund"."""
    if value == "the refund":
        return "le remboursement du trop-perçu"
    found = re.fullmatch(r"(\S+) of year (\S+)", value or "")
    if found:
        return f"la ligne {_component(found.group(1), groups)} de l'année {found.group(2)}"
    return _quoted(value or "")


@lru_cache(maxsize=1)
def _deadline_labels() -> dict[str, str]:
    rules = load_ruleset()
    return {key: re.sub(r"\s*\([^)]*\{year\}[^)]*\)", "", rule.label)
            for key, rule in rules.lineage_deadlines.items()}


def _deadline(value: str | None, groups: Groups) -> str:
    return _quoted(_deadline_labels().get(value or "", value or ""))


def _ident(value: str | None, groups: Groups) -> str:
    """A deadline's identity, "<key>:<anchor date>" (lifecycle.deadlines)."""
    key, _, anchor = (value or "").rpartition(":")
    if not key or _iso(anchor) is None:
        return _deadline(value, groups)
    return f"{_deadline(key, groups)} compté depuis le {_date(anchor, groups)}"


def _then_effect(value: str | None, groups: Groups) -> str:
    return f", puis {_event(value, groups)} a pris effet" if value else ""


def _on_date(value: str | None, groups: Groups) -> str:
    return f" le {_date(value, groups)}" if value else ""


def _party(value: str | None, groups: Groups) -> str:
    return {"ARS": "l'ARS", "AM": "l'Assurance maladie"}.get(value or "", value or "")


def _fir_what(value: str | None, groups: Groups) -> str:
    return {"renewed": "renouvelé", "granted": "accordé"}.get(value or "", value or "")


def _begins(value: str | None, groups: Groups) -> str:
    return "à la signature" if value == "the signature" else f"le {_date(value, groups)}"


def _deemed(value: str | None, groups: Groups) -> str:
    period = re.fullmatch(r"deemed (\d+) (month|day)s? after the meeting", value or "")
    if period:
        count, unit = int(period.group(1)), period.group(2)
        words = "mois" if unit == "month" else ("jour" if count == 1 else "jours")
        return f"réputé rendu {count} {words} après la réunion"
    return "réputé rendu à la fin de son délai"


def _opinion(value: str | None, groups: Groups) -> str:
    return CHOICE_WORDS["opinion"].get(value or "", value or "")


def _outcomes(value: str | None, groups: Groups) -> str:
    words = CHOICE_WORDS["outcome"]
    return _either([_quoted(words.get(v.strip(), v.strip())) for v in (value or "").split(" or ")])


def _window_what(value: str | None, groups: Groups) -> str:
    return {"the ARS can no longer oppose": "l'ARS ne peut plus s'opposer",
            "referral no longer admissible": "la saisine n'est plus recevable"}.get(value or "", value or "")


CPL_SECTION_WORDS = {"professional": "professionnelle", "social": "sociale"}
# The parts of a CPL deliberation's data (lifecycle.events: present.professional, votes.for, proxies[0].count).
CPL_PART_WORDS = {"professional": "section professionnelle", "social": "section sociale", "for": "pour",
                  "against": "contre", "blank": "blancs", "abstention": "abstentions", "holder": "membre",
                  "count": "nombre de délégations"}


def _section(value: str | None, groups: Groups) -> str:
    return CPL_SECTION_WORDS.get(value or "", value or "")


def _keys(value: str | None, groups: Groups) -> str:
    """"present and votes" as `lifecycle.events` lists the missing parts of a deliberation."""
    return _either([_quoted(KEY_WORDS.get(k, k)) for k in (value or "").split(" and ")], "et")


# Why a CPL cannot deliberate (lifecycle.machine.deliberation_valid), one piece each, "; "-separated.
CPL_PROBLEMS = (
    (re.compile(r"no quorum in the (?P<section>\S+) section \((?P<n>\S+) present or represented, at least "
                r"(?P<needed>\S+) of (?P<seats>\S+) needed\)"),
     "pas de quorum dans la section {section:section} ({n} membres présents ou représentés, il en faut au moins "
     "{needed} sur {seats})"),
    (re.compile(r"no parity \((?P<professional>\S+) professional and (?P<social>\S+) social members present or "
                r"represented: equal numbers needed\)"),
     "pas de parité ({professional} membres de la section professionnelle et {social} de la section sociale "
     "présents ou représentés : il faut autant de membres dans chaque section)"),
)


def _cpl_problems(value: str | None, groups: Groups) -> str:
    said = []
    for piece in (value or "").split("; "):
        for pattern, template in CPL_PROBLEMS:
            found = pattern.fullmatch(piece)
            if found:
                piece = _fill(template, {**groups, **found.groupdict()}) or piece
                break
        said.append(piece)
    return " ; ".join(said)


def _control(value: str | None, groups: Groups) -> str:
    return CONTROL_NAMES.get(value or "", value or "")


def _problem(value: str | None, groups: Groups) -> str:
    return _render(value or "", TEXT_PROBLEMS, groups) or "un caractère interdit"


def _json_error(value: str | None, groups: Groups) -> str:
    words = JSON_ERRORS.get((value or "").strip())
    return f"{words}, " if words else ""


def _json_type(value: str | None, groups: Groups) -> str:
    return JSON_TYPES.get(value or "", value or "")


def _option(value: str | None, groups: Groups) -> str:
    return OPTION_WORDS.get(value or "", value or "")


def _address_reason(value: str | None, groups: Groups) -> str:
    """Why an address is refused, when the table knows it (the library's own words are not shown)."""
    text = value or ""
    said = _render(text, ADDRESS_REASONS, groups) or _render(text[:1].upper() + text[1:], ADDRESS_REASONS, groups)
    return f" ({said})" if said else ""


def _role(value: str | None, groups: Groups) -> str:
    return labels.ROLE_NAMES.get(value or "", value or "")


def _scope(value: str | None, groups: Groups) -> str:
    return {"none": "aucun", "national": "national"}.get(value or "", value or "")


def _seat(value: str | None, groups: Groups) -> str:
    """Where a case is seated, as `workflows.services.people` says it: "région 44 (Grand Est)", "département 57
    (Moselle)"."""
    found = re.fullmatch(r"(région|département) (\S+) \((.*)\)", value or "")
    if found is None:
        return f"dans {value}"
    kind, code, name = found.groups()
    return f"en région {name} ({code})" if kind == "région" else f"dans le département {name} ({code})"


def _case_name(value: str | None, groups: Groups) -> str:
    return _value(value, groups)


def _overlaps(value: str | None, groups: Groups) -> str:
    """`workflows.services.cases.find_overlaps`'s list, one claim per other case."""
    claim = re.compile(r"communes (?P<codes>.+?) are also claimed by case (?P<id>\d+) "
                       r"(?P<name>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") \((?P<state>\w+)\)")
    text, said, at = value or "", [], 0
    while at < len(text):
        found = claim.match(text, at)
        if found is None:
            return text  # not the list's shape: as the engine wrote it
        said.append(f"les communes {found['codes']} sont aussi revendiquées par le dossier n° {found['id']} "
                    f"{_value(found['name'], groups)} ({_state(found['state'], groups)})")
        at = found.end()
        if text.startswith("; ", at):
            at += 2
    return " ; ".join(said)


def _nested(table: Callable[[], tuple[Rule, ...]]) -> Converter:
    def convert(value: str | None, groups: Groups) -> str | None:
        return _render(value or "", table(), groups)

    return convert


def _seats_source(value: str | None, groups: Groups) -> str:
    """Where a CPL's seats come from: the ruleset's article, or the composition recorded with the meeting."""
    return "composition de la CPL enregistrée avec la réunion" if value == CPL_SEATS_SOURCE else (value or "")


CONVERTERS: dict[str, Converter] = {
    "text": _text, "date": _date, "event": _event, "state": _state, "states": _states, "mission": _mission,
    "missions": _missions, "documents": _documents, "choices": _choices, "field": _field, "fields": _fields,
    "value": _value, "refused": _refused, "number": _number, "euros": _euros, "component": _component,
    "line": _line, "no_line": _no_line, "deadline": _deadline, "ident": _ident, "then_effect": _then_effect,
    "on_date": _on_date, "party": _party, "fir_what": _fir_what, "begins": _begins, "deemed": _deemed,
    "opinion": _opinion, "outcomes": _outcomes, "window_what": _window_what, "control": _control,
    "problem": _problem, "json_error": _json_error, "json_type": _json_type, "option": _option,
    "address_reason": _address_reason, "role": _role, "scope": _scope, "seat": _seat, "case_name": _case_name,
    "overlaps": _overlaps, "section": _section, "keys": _keys, "cpl_problems": _cpl_problems,
    "seats_source": _seats_source,
    # Pieces that are messages themselves: translated by their table, or the whole message is not.
    "message": _nested(lambda: MESSAGES), "reason": _nested(lambda: REASONS), "expected": _nested(lambda: EXPECTED),
}

# ------------------------------------------------------------------------------------------------ tables
# What a data value was expected to be (lifecycle.events' checkers), after "<key>=<value> is not accepted: ".
EXPECTED = _rules(
    (r"expected one of (?P<allowed>.+)", "choisissez {allowed:choices}"),
    (r"expected a list among (?P<allowed>.+)", "attendu une liste parmi {allowed:choices}"),
    (r"expected a text such as \"(?P<example>.*)\"", "attendu un texte, par exemple « {example} »"),
    (r"expected true or false", "attendu oui ou non"),
    (r"expected the registered letter's number, letters and digits \(at most (?P<max>\S+) characters\), "
     r"e\.g\. \"(?P<example>.*)\"",
     "attendu le numéro de la lettre recommandée, en lettres et chiffres ({max:number} caractères au plus), par "
     "exemple « {example} »"),
    (r"expected a whole number of inhabitants from (?P<low>.+) to (?P<high>.+)",
     "attendu un nombre entier d'habitants de {low:number} à {high:number}"),
    (r"expected a contract year from 1 to 5", "attendu une année du contrat de 1 à 5"),
    (r"expected a contract year from 1 to 5 \(0 for loi_support, paid before the contract\)",
     "attendu une année du contrat de 1 à 5 (0 pour le soutien dès la lettre d'intention, versé avant le contrat)"),
    (r"expected a list of 1 to (?P<most>\S+) texts, e\.g\. \[(?P<example>.*)\], or one text",
     "attendu une liste de 1 à {most:number} textes, par exemple [{example}], ou un seul texte"),
    (r"expected an amount in euros such as \"12500\.00\"", "attendu un montant en euros, par exemple 12 500,00"),
    (r"expected an amount in euros such as \"12500\.00\", with at most 2 decimals and at most (?P<most>.+)",
     "attendu un montant en euros, par exemple 12 500,00, avec au plus 2 décimales et au plus {most:euros}"),
    (r"expected an amount ≥ 0", "attendu un montant positif ou nul"),
    (r"a payment is an amount > 0, e\.g\. \"60000\.00\"",
     "un paiement est un montant supérieur à 0, par exemple 60 000,00"),
    (r"expected a non-empty text", "attendu un texte non vide"),
    (r"expected the journal sequence number \(≥ 1\)", "attendu le numéro de la saisie (à partir de 1)"),
    (r"expected a number such as 0\.8 or 1250", "attendu un nombre, par exemple 0,8 ou 1 250"),
    (r"expected a number such as 0\.8 or 1250, finite and at most (?P<most>.+) in size",
     "attendu un nombre, par exemple 0,8 ou 1 250, fini et d'au plus {most} en valeur absolue"),
    (r"expected a finite number", "attendu un nombre fini"),
    (r"expected a rate in \[0, 1\]", "attendu un taux compris entre 0 et 1"),
    (r"expected JSON such as (?P<example>.+)", "attendu du JSON, par exemple {example}"),
    (r"expected a whole number of members from 0 to (?P<most>\S+)",
     "attendu un nombre entier de membres de 0 à {most:number}"),
    (r"a member holding proxies holds at least 1", "un membre qui détient des délégations en détient au moins une"),
)

# A character a text may not hold (lifecycle.events._text_problem).
TEXT_PROBLEMS = _rules(
    (r"a control character (?P<code>U\+[0-9A-F]{4}) \((?P<name>[^)]*)\)",
     "un caractère de contrôle {code} ({name:control})"),
    (r"an unpaired surrogate (?P<code>U\+[0-9A-F]{4}) \(not valid Unicode\)",
     "un demi-caractère isolé {code} (Unicode non valide)"),
)

# Why the lifecycle refused an event in a state that allows it (the guards of lifecycle.machine, the payment
# lines of lifecycle.payments, the deadlines of lifecycle.projection), after "<event> rejected in state <s>: ".
REASONS = _rules(
    (r"its conditions are not met", "ses conditions ne sont pas remplies"),
    (r"(?P<what>.+): the window closed on (?P<day>\S+)", "{what:window_what} : le délai a pris fin le {day:date}"),
    (r"(?P<what>.+): no such window is open", "{what:window_what} : aucun délai de ce type n'est ouvert"),
    (r"the (?P<party>\S+) has already approved this lettre d'intention; the other party's decision is awaited",
     "{party:party} a déjà approuvé cette lettre d'intention ; la décision de l'autre partie est attendue"),
    (r"no FIR funding has been granted yet \(record fir_granted first\)",
     "aucun financement FIR n'a encore été accordé (enregistrez d'abord « Financement FIR accordé »)"),
    (r"the FIR seed funding was already granted(?: on (?P<day>\S+))? \(I §4: granted once, on an annual basis, "
     r"then renewed\); record fir_renewed instead",
     "le financement FIR d'amorçage a déjà été accordé{day:on_date} (I §4 : il est accordé une fois, sur une base "
     "annuelle, puis renouvelé) ; enregistrez plutôt « Financement FIR renouvelé »"),
    (r"the FIR funding was already (?P<what>\S+) on (?P<day>\S+); a renewal of this annual funding \(I §4\) is "
     r"dated after it",
     "le financement FIR a déjà été {what:fir_what} le {day:date} ; un renouvellement de ce financement annuel "
     "(I §4) est daté après"),
    (r"explicit validation refused while the territory overlaps another CPTS's health project: (?P<overlaps>.+) "
     r"\(I §6\.1: one approved health project per territory; resolve the overlap first\)",
     "validation explicite refusée tant que le territoire chevauche le projet de santé d'une autre CPTS : "
     "{overlaps:overlaps} (I §6.1 : un seul projet de santé approuvé par territoire ; résolvez d'abord le "
     "chevauchement)"),
    (r"the adhesion dossier is incomplete: missing (?P<missing>.+) \(ACI art\. 4 requires (?P<required>.+)\)",
     "le dossier d'adhésion est incomplet : il manque {missing:documents} (l'ACI, art. 4, exige "
     "{required:documents})"),
    (r"a CPL referral against the refusal is pending; wait for the funders' new decision",
     "une saisine de la CPL contre le refus est en cours ; attendez la nouvelle décision des financeurs"),
    (r"the ACI is not in force on that date", "l'ACI n'est pas en vigueur à cette date"),
    (r"mission (?P<mission>\S+) is not in the contract \(contract missions: (?P<contract>.*)\)",
     "la mission {mission:mission} ne fait pas partie du contrat (missions du contrat : {contract:missions})"),
    (r"mission (?P<mission>\S+) applies to this contract from (?P<day>\S+) \(the anniversary at which it comes "
     r"under the amended accord\): record its start on or after that day",
     "la mission {mission:mission} s'applique à ce contrat à partir du {day:date} (l'anniversaire auquel il passe "
     "sous l'accord modifié) : enregistrez son démarrage ce jour-là ou après"),
    (r"mission (?P<mission>\S+) already started on (?P<day>\S+)",
     "la mission {mission:mission} a déjà démarré le {day:date}"),
    (r"mission (?P<mission>\S+) has not started yet \(record mission_started first\)",
     "la mission {mission:mission} n'a pas encore démarré (enregistrez d'abord « Mission démarrée »)"),
    (r"mission (?P<mission>\S+) was already deployed on (?P<day>\S+)",
     "la mission {mission:mission} a déjà été déployée le {day:date}"),
    (r"contract year (?P<year>\S+) has not begun \(it begins on (?P<when>.+)\)",
     "l'année {year} du contrat n'a pas commencé (elle commence {when:begins})"),
    (r"mission\(s\) (?P<missions>.+) not in the contract \(contract missions: (?P<contract>.*)\)",
     "missions hors du contrat : {missions:missions} (missions du contrat : {contract:missions})"),
    (r"avenant adds mission\(s\) already in the contract: (?P<missions>.+)",
     "l'avenant ajoute des missions déjà au contrat : {missions:missions}"),
    (r"avenant drops mission\(s\) not in the contract: (?P<missions>.+)",
     "l'avenant retire des missions absentes du contrat : {missions:missions}"),
    # Payments (lifecycle.payments.Outstanding.refusal).
    (r"the échéancier has no (?P<line>.+): check the component and the contract year",
     "l'échéancier n'a pas {line:no_line} : vérifiez la composante et l'année du contrat"),
    (r"(?P<line>.+) awaits its year's assessment \(record indicators_reported first\): its amount is not known "
     r"yet",
     "{line:line} attend l'évaluation de son année (enregistrez d'abord « Indicateurs transmis ») : son montant "
     "n'est pas encore connu"),
    (r"(?P<line>.+) was cancelled by the termination: nothing is owed on it",
     "{line:line} a été annulée par la résiliation : rien n'est dû à ce titre"),
    (r"nothing more is owed on (?P<line>.+) \(paid in full\)",
     "plus rien n'est dû sur {line:line} (payée en totalité)"),
    (r"(?P<amount>\S+) € is more than the (?P<owed>\S+) € still owed on (?P<line>.+); record at most "
     r"(?P<most>\S+) €",
     "{amount:euros} dépasse les {owed:euros} encore dus sur {line:line} ; enregistrez au plus {most:euros}"),
    # Termination and the CPL (ACI art. 11, 12.4).
    (r"a funders' termination needs grounds: non_compliance or ineligible \(ACI art\. 11\.2\)",
     "une résiliation par les financeurs doit être motivée : manquement aux engagements du contrat ou conditions "
     "d'éligibilité non remplies (ACI art. 11.2)"),
    (r"grounds apply only to a funders' termination; a CPTS terminates without grounds",
     "seule une résiliation par les financeurs est motivée ; une CPTS résilie sans motif"),
    (r"in termination_pending a CPL referral's subject is termination",
     "pendant une résiliation en cours, la CPL est saisie de la résiliation"),
    (r"in contract_refused a CPL referral's subject is contract_refusal",
     "après un refus de contrat, la CPL est saisie du refus de contrat"),
    (r"the CPL has already been referred this refusal", "la CPL a déjà été saisie de ce refus"),
    (r"only a termination decided by the ARS and the CPAM can be referred to the CPL \(ACI art\. 11\.2\); this "
     r"one was initiated by the CPTS",
     "seule une résiliation décidée par l'ARS et la CPAM peut être soumise à la CPL (ACI art. 11.2) ; celle-ci a "
     "été demandée par la CPTS"),
    (r"no CPL referral is pending \(record cpl_referral_received first\)",
     "aucune saisine de la CPL n'est en cours (enregistrez d'abord « Saisine de la CPL reçue »)"),
    (r"the CPL already met on (?P<day>\S+)", "la CPL s'est déjà réunie le {day:date}"),
    (r"the CPL meeting is already scheduled on (?P<day>\S+); record cpl_meeting_scheduled again only to move it "
     r"to another date",
     "la réunion de la CPL est déjà fixée au {day:date} ; n'enregistrez « Réunion de la CPL fixée » de nouveau que "
     "pour la déplacer à une autre date"),
    (r"the CPL has not met yet \(record cpl_meeting_held first\)",
     "la CPL ne s'est pas encore réunie (enregistrez d'abord « Réunion de la CPL tenue »)"),
    (r"the CPL's opinion is already known \((?P<opinion>.*)\)",
     "l'avis de la CPL est déjà connu ({opinion:opinion})"),
    (r"the funders' new decision comes after the CPL's opinion \(notified, or (?P<deemed>.+); ACI art\. "
     r"12\.4\.2\)",
     "la nouvelle décision des financeurs vient après l'avis de la CPL (notifié, ou {deemed:deemed} ; ACI "
     "art. 12.4.2)"),
    (r"outcome (?P<outcome>.+) does not fit this referral: expected (?P<allowed>.+)",
     "la décision {outcome:value} ne convient pas à cette saisine : attendu {allowed:outcomes}"),
    # The CPL's procedure (ACI annex 5, règlement intérieur, art. 1.2 and 2).
    (r"no CPL meeting is scheduled \(record cpl_meeting_scheduled first\)",
     "aucune réunion de la CPL n'est fixée (enregistrez d'abord « Réunion de la CPL fixée »)"),
    (r"(?P<event>\S+) must be dated before the CPL meeting of (?P<day>\S+) \(annex 5 art\. 1\.2\)",
     "l'événement {event:event} doit être daté d'avant la réunion de la CPL du {day:date} (annexe 5 de l'ACI, "
     "art. 1.2)"),
    (r"(?P<event>\S+) was already recorded on (?P<day>\S+) for the meeting of (?P<meeting>\S+); record it again "
     r"only for a meeting moved to another date",
     "l'événement {event:event} a déjà été enregistré le {day:date} pour la réunion du {meeting:date} ; ne "
     "l'enregistrez de nouveau que si la réunion est déplacée à une autre date"),
    (r"(?P<n>\S+) (?P<section>\S+) members present or represented, but the \S+ section has (?P<seats>\S+) members "
     r"\((?P<source>.+)\)",
     "{n} membres de la section {section:section} présents ou représentés, mais cette section ne compte que "
     "{seats} membres ({source:seats_source})"),
    (r"(?P<holder>.+) holds (?P<n>\S+) proxies: no member holds more than (?P<most>\S+) \((?P<source>.+)\)",
     "{holder} détient {n} délégations de vote : aucun membre ne peut en recevoir plus de {most} ({source})"),
    (r"the CPL cannot deliberate: (?P<problems>.+) \((?P<source>.+)\)",
     "la CPL ne peut pas valablement délibérer : {problems:cpl_problems} ({source})"),
    (r"the CPL's vote stayed tied after the second vote: its opinion is no_agreement \(annex 5 art\. 2\)",
     "le partage des voix a été maintenu au second vote : l'avis de la CPL est l'absence d'accord (annexe 5 de "
     "l'ACI, art. 2)"),
    (r"the CPL's vote reached a majority: no_agreement follows only a tie kept after the second vote \(annex 5 "
     r"art\. 2\)",
     "le vote de la CPL a réuni une majorité : l'absence d'accord ne suit qu'un partage des voix maintenu au "
     "second vote (annexe 5 de l'ACI, art. 2)"),
    (r"the minutes of the CPL meeting of (?P<held>\S+) were already signed on (?P<day>\S+)",
     "le relevé de décisions de la réunion de la CPL du {held:date} a déjà été signé le {day:date}"),
    # One deadline identity per day (lifecycle.projection).
    (r"a (?P<key>\S+) deadline was already counted from (?P<day>\S+); the same deadline cannot be counted twice "
     r"from one day: record this event on the day after, or void the earlier one",
     "le délai {key:deadline} est déjà compté depuis le {day:date} ; un même délai ne peut pas être compté deux "
     "fois à partir du même jour : enregistrez cet événement le lendemain, ou annulez le précédent"),
)

# Whole messages, composed ones first (a suffix added around another message).
MESSAGES = _rules(
    # workflows.services.cases: a lifecycle refusal of the new event, and its date.
    (r"(?P<inner>.+) \(event dated (?P<day>\S+)\)", "{inner:message} (événement daté du {day:date})"),
    # lifecycle.projection: an act after its window had elapsed.
    (r"(?P<inner>.+) \(the (?P<window>\S+) window closed on (?P<day>\S+?)(?:, then (?P<effect>\S+) took "
     r"effect)?\)",
     "{inner:message} (le {window:deadline} a pris fin le {day:date}{effect:then_effect})"),
    # lifecycle.machine.
    (r"(?P<event>\S+) is not allowed in state (?P<state>\S+): allowed in (?P<states>.+)",
     "l'événement {event:event} ne peut pas être enregistré dans l'état {state:state} : il peut l'être dans "
     "{states:states}"),
    (r"(?P<event>\S+) rejected in state (?P<state>\S+): (?P<reason>.+)",
     "l'événement {event:event} est refusé dans l'état {state:state} : {reason:reason}"),
    # workflows.services.cases: voiding or backdating that would break a later entry.
    (r"voiding would invalidate #(?P<seq>\S+) (?P<type>\S+) of (?P<day>\S+) \((?P<error>.+)\); void that entry "
     r"first or correct the date",
     "cette annulation rendrait invalide la saisie n° {seq} ({type:event} du {day:date}) : {error:message} ; "
     "annulez d'abord cette saisie"),
    (r"recording (?P<event>\S+) on (?P<on>\S+) would invalidate #(?P<seq>\S+) (?P<type>\S+) of (?P<day>\S+) "
     r"\((?P<error>.+)\); void that entry first or correct the date",
     "enregistrer {event:event} au {on:date} rendrait invalide la saisie n° {seq} ({type:event} du {day:date}) : "
     "{error:message} ; annulez d'abord cette saisie ou corrigez la date"),
    (r"(?P<event>\S+) dated (?P<day>\S+) is not due: the engine's timers record it when its window closes "
     r"\(`cpts sweep`\)",
     "l'événement {event:event} daté du {day:date} n'est pas encore dû : le moteur l'enregistre de lui-même à la "
     "fin de son délai"),
    (r"(?P<event>\S+) dated (?P<day>\S+) is in the future \(today is (?P<today>\S+) at the seat\): record events "
     r"on or after the day they happen",
     "l'événement {event:event} daté du {day:date} est dans le futur (nous sommes le {today:date} au siège du "
     "dossier) : enregistrez un événement le jour où il a lieu, ou plus tard"),
    (r"(?P<event>\S+) on (?P<day>\S+) would open the deadline (?P<ident>\S+) a second time; void the earlier "
     r"event that opened it, or record this one on another day",
     "l'événement {event:event} du {day:date} ouvrirait une seconde fois le délai {ident:ident} ; annulez "
     "l'événement qui l'a ouvert, ou enregistrez celui-ci un autre jour"),
    # lifecycle.events: dates.
    (r"malformed (?P<key>event date|\S+) (?P<value>.+): expected a calendar date as YYYY-MM-DD, e\.g\. 2025-02-18",
     "{key:field} : {value:value} n'est pas une date ; indiquez une date du calendrier au format AAAA-MM-JJ, par "
     "exemple 2025-02-18"),
    (r"(?P<key>event date|\S+) (?P<day>\S+) is out of range: business dates lie between (?P<first>\S+) "
     r"\(loi n° 2016-41, which created the CPTS\) and (?P<last>\S+)",
     "{key:field} : le {day:date} est hors de la période admise ; les dates vont du {first:date} (loi n° 2016-41, "
     "qui a créé les CPTS) au {last:date}"),
    # lifecycle.events: the event's type and data.
    (r"unknown event (?P<value>.+): expected one of (?P<allowed>.+)",
     "événement inconnu {value:value} : choisissez un événement dans la liste"),
    (r"(?P<event>\S+) is recorded by the engine's timers, not by hand",
     "l'événement {event:event} est enregistré par le moteur à la fin de son délai, pas à la main"),
    (r"(?P<event>\S+): data must be a JSON object, got (?P<type>\S+)",
     "{event:event} : les données doivent former un objet JSON (reçu : {type:json_type})"),
    (r"(?P<event>\S+): unknown data key\(s\) (?P<keys>.+): accepted: (?P<allowed>.+)",
     "{event:event} : données inconnues {keys:value} ; données acceptées : {allowed:fields}"),
    (r"(?P<event>\S+): missing data key\(s\) (?P<keys>.+)", "{event:event} : il manque {keys:fields}"),
    (r"avenant_signed: an avenant must change something \(population, add_missions, drop_missions or "
     r"snp_orientation\)",
     "un avenant doit changer quelque chose : la population, les missions ajoutées ou retirées, ou le service "
     "d'orientation des soins non programmés"),
    (r"cpl_meeting_held: seats go with a deliberation: give present and votes too",
     "les sièges de la CPL accompagnent une délibération : indiquez aussi les membres présents et le vote"),
    (r"(?P<key>\S+)=0 is not accepted: a section of the CPL has at least 1 seat",
     "{key:field} : 0 n'est pas accepté ; chaque section de la CPL compte au moins un siège"),
    (r"cpl_meeting_held: a deliberation needs (?P<keys>.+) \(members present per section and the vote\)",
     "une délibération de la CPL indique {keys:keys} (membres présents par section et vote)"),
    (r"cpl_meeting_held: (?P<proxies>\S+) proxies for (?P<n>\S+) members represented: each proxy represents a "
     r"member",
     "{proxies} délégations de vote pour {n} membres représentés : chaque délégation représente un membre"),
    (r"cpl_meeting_held: (?P<key>\S+) counts (?P<cast>\S+) ballots for (?P<n>\S+) members present or represented",
     "{key:field} : {cast} bulletins pour {n} membres présents ou représentés"),
    (r"cpl_meeting_held: the vote is tied: record the second, secret vote \(second_vote; annex 5 art\. 2\)",
     "partage des voix : enregistrez le second vote, à bulletin secret (annexe 5 de l'ACI, art. 2)"),
    (r"cpl_meeting_held: a second vote follows only a tied vote \(annex 5 art\. 2\)",
     "un second vote n'a lieu qu'en cas de partage des voix (annexe 5 de l'ACI, art. 2)"),
    (r"(?P<key>\S+): (?P<holders>.+) listed more than once: give each member's proxies once",
     "{key:field} : {holders} apparaît plusieurs fois ; indiquez une seule fois les délégations de chaque membre"),
    (r"(?P<key>[^=]+?)=None is not accepted: expected one of .+",
     "{key:field} : choisissez une valeur dans la liste"),
    (r"(?P<key>[^=]+?)=(?P<value>.*?) is not accepted: (?P<expected>.+)",
     "{key:field} : {value:refused} ; {expected:expected}"),
    (r"(?P<key>\S+): unknown mission\(s\) (?P<unknown>.+): expected among (?P<allowed>.+)",
     "{key:field} : missions inconnues {unknown:value} ; attendu parmi {allowed:missions}"),
    (r"(?P<key>\S+): unknown document\(s\) (?P<unknown>.+): expected (?P<allowed>.+)",
     "{key:field} : pièces inconnues {unknown:value} ; attendu parmi {allowed:documents}"),
    # lifecycle.events: structured evidence (the registered letter's number and dates).
    (r"evidence text starts with '\{', which marks structured evidence: give the letter's number and dates as "
     r"lrar, presented_on and received_on",
     "pièce justificative : une référence libre ne peut pas commencer par « {{ » (réservé à la pièce structurée) ; "
     "indiquez le numéro et les dates de la lettre dans leurs champs"),
    (r"evidence: unknown key\(s\) (?P<unknown>.+): accepted: (?P<allowed>.+)",
     "pièce justificative : clés inconnues {unknown:value} ; acceptées : {allowed:fields}"),
    (r"evidence: (?P<key>\S+) (?P<day>\S+) is in the future \(today is (?P<today>\S+) at the seat\): give the date "
     r"written on the letter or its receipt",
     "{key:field} : le {day:date} est dans le futur (nous sommes le {today:date} au siège) ; indiquez la date "
     "inscrite sur la lettre ou sur l'avis de réception"),
    (r"evidence: received_on (?P<received>\S+) is before presented_on (?P<presented>\S+): a letter is received on or "
     r"after its first presentation",
     "date de réception (AR signé) : le {received:date} précède la première présentation du {presented:date} ; une "
     "lettre est reçue le jour de sa première présentation ou après"),
    (r"evidence: presented_on (?P<presented>\S+) is after the event date (?P<at>\S+): a letter received that day was "
     r"first presented on or before it",
     "date de première présentation : le {presented:date} est postérieur à la date de l'événement, le {at:date} ; "
     "une lettre reçue ce jour-là a été présentée ce jour-là ou avant"),
    (r"evidence: received_on (?P<received>\S+) is before the event date (?P<at>\S+): the receipt the event records "
     r"cannot come after the signed receipt; date the event on or before it",
     "date de réception (AR signé) : le {received:date} précède la date de l'événement, le {at:date} ; la "
     "réception enregistrée ne peut pas être postérieure à l'avis de réception signé : datez l'événement au plus "
     "tard de ce jour"),
    (r"evidence: (?P<key>\S+) (?P<day>\S+) is before the event date (?P<at>\S+): a letter sent that day reaches its "
     r"addressee on or after it",
     "{key:field} : le {day:date} précède la date de l'événement, le {at:date} ; une lettre envoyée ce jour-là "
     "parvient à son destinataire ce jour-là ou après"),
    (r"evidence has (?P<n>\S+) characters: at most (?P<max>\S+) \(a reference to the letter or file, not its "
     r"text\)",
     "pièce justificative : {n:number} caractères, {max:number} au plus (la référence du courrier ou du fichier, "
     "pas son texte)"),
    (r"(?P<key>.+?): a key contains (?P<problem>.+): expected printable text",
     "{key:field} : une clé contient {problem:problem} ; attendu un texte imprimable"),
    (r"(?P<key>.+?) contains (?P<problem>.+): expected one line of printable text",
     "{key:field} : le texte contient {problem:problem} ; attendu une ligne de texte imprimable"),
    # lifecycle.events: the indicators' JSON and the bounds of any data.
    (r"(?P<key>.+?) is (?P<size>\S+) bytes of JSON: at most (?P<max>\S+) \(64 KB\)",
     "{key:field} : {size:number} octets de JSON, {max:number} au plus (64 Ko)"),
    (r"(?P<key>.+?) is nested more than (?P<max>\S+) levels deep: at most \S+",
     "{key:field} : plus de {max} niveaux d'imbrication, {max} au plus"),
    (r"(?P<key>.+?) is nested (?P<depth>\S+) levels deep: at most (?P<max>\S+)",
     "{key:field} : {depth} niveaux d'imbrication, {max} au plus"),
    (r"event data must be JSON text, got (?P<type>\S+)",
     "les données de l'événement doivent être un texte JSON (reçu : {type:json_type})"),
    (r"event data is not valid JSON \((?P<error>.+) at line (?P<line>\S+) column (?P<column>\S+)\); expected an "
     r"object such as '\{\"source\": \"ars\"\}'",
     "ce n'est pas du JSON valide ({error:json_error}ligne {line}, colonne {column}) ; attendu un objet JSON"),
    (r"event data is not accepted \((?P<reason>.*)\): expected finite numbers of a few digits",
     "ces données JSON ne sont pas acceptées : les nombres doivent être finis et de quelques chiffres"),
    (r"event data must be a JSON object such as '\{\"source\": \"ars\"\}', got (?P<type>\S+)",
     "attendu un objet JSON (reçu : {type:json_type})"),
    (r"(?P<key>.+?): (?P<type>\S+) is not JSON data",
     "{key:field} : une valeur de type {type} n'est pas une donnée JSON"),
    (r"(?P<key>\S+) must be an object keyed by mission, e\.g\. \{\"access\": \{\"attainment\": 0\.8\}\}",
     "{key:field} : attendu un objet dont les clés sont des missions, par exemple "
     "{{\"access\": {{\"attainment\": 0.8}}}}"),
    (r"(?P<key>\S+): unknown mission (?P<value>.+): expected among (?P<allowed>.+)",
     "{key:field} : mission inconnue {value:value} ; attendu parmi {allowed:value}"),
    (r"(?P<key>\S+) must be \{\"attainment\": r\} or \{\"indicators\": \[\.\.\.\]\}, got (?P<value>.+)",
     "{key:field} : attendu {{\"attainment\": r}} ou {{\"indicators\": [...]}}, reçu {value:value}"),
    (r"(?P<key>\S+) must be a non-empty list", "{key:field} : attendu une liste non vide"),
    (r"(?P<key>\S+) must have name, baseline, target, actual and optional weight; got (?P<value>.+)",
     "{key:field} : attendu name, baseline, target, actual et, si besoin, weight ; reçu {value:value}"),
    (r"(?P<key>\S+): target equals baseline, so attainment is undefined",
     "{key:field} : la cible (target) est égale à la valeur de départ (baseline), le taux d'atteinte n'est donc "
     "pas défini"),
    (r"(?P<key>\S+) must be ≥ 0", "{key:field} : attendu un nombre positif ou nul"),
    (r"(?P<key>\S+): the weights add up to 0; give at least one weight > 0",
     "{key:field} : la somme des poids (weight) est nulle ; donnez à au moins un indicateur un poids supérieur à 0"),
    # lifecycle.indicators (the same checks, when a year's attainment is computed).
    (r"attainment=(?P<value>.+): expected a rate in \[0, 1\]",
     "taux d'atteinte : la valeur {value:value} n'est pas acceptée ; attendu un taux compris entre 0 et 1"),
    (r"an attainment report needs an attainment rate or a non-empty indicators list",
     "un bilan d'une mission donne son taux d'atteinte (attainment) ou une liste d'indicateurs non vide"),
    (r"the indicators' weights add up to zero: give one indicator a weight > 0",
     "la somme des poids des indicateurs est nulle ; donnez à au moins un indicateur un poids supérieur à 0"),
    (r"indicator (?P<name>.+): target equals baseline, so its attainment is undefined",
     "indicateur {name:value} : la cible est égale à la valeur de départ, son taux d'atteinte n'est donc pas "
     "défini"),
    (r"(?P<value>.+) is not a number", "{value:value} n'est pas un nombre"),
    # workflows.services.cases: who, when, the retry key, the journal, a concurrent write.
    (r"an event needs an actor \(who records it\)", "un événement doit indiquer qui l'enregistre"),
    (r"case (?P<id>\S+) was changed by someone else meanwhile(?: \(version \S+\))?; reload and retry",
     "ce dossier a été modifié par quelqu'un d'autre entre-temps : rien n'a été enregistré ; rechargez la page "
     "et recommencez"),
    (r"--today (?P<today>\S+) is after today's date at the seat of case (?P<id>\S+) \((?P<real>\S+)\): writes "
     r"cannot run ahead of the clock; to see the future, use `cpts simulate`",
     "le {today:date} est après la date du jour au siège du dossier ({real:date}) : un enregistrement ne peut "
     "pas devancer le calendrier"),
    (r"an idempotency key is 1–(?P<max>\S+) printable characters, e\.g\. a UUID \(got (?P<n>\S+) characters\)",
     "le formulaire n'est pas valide (sa clé d'envoi compte {n:number} caractères, de 1 à {max:number} "
     "caractères imprimables attendus) : rechargez la page et recommencez"),
    (r"idempotency key (?P<key>.+) was used for #(?P<seq>\S+) (?P<type>\S+) dated (?P<day>\S+) on case "
     r"(?P<id>\S+): use a new key for a different event",
     "ce formulaire a déjà servi à enregistrer la saisie n° {seq} ({type:event} du {day:date}) : rechargez la "
     "page pour enregistrer un autre événement"),
    (r"event_voided: there is no journal entry #(?P<seq>\S+) in this case",
     "annulation impossible : ce dossier n'a pas de saisie n° {seq}"),
    (r"event_voided: entry #(?P<seq>\S+) is already voided", "la saisie n° {seq} est déjà annulée"),
    (r"event_voided: a voiding cannot itself be voided; record the event again instead",
     "une annulation ne peut pas être annulée elle-même ; enregistrez plutôt l'événement de nouveau"),
    (r"event_voided: #(?P<seq>\S+) (?P<type>\S+) was fired by a timer; void the event that caused it, and the "
     r"engine derives the timers again",
     "la saisie n° {seq} ({type:event}) a été enregistrée par le moteur à la fin d'un délai ; annulez l'événement "
     "qui l'a causée, et le moteur recalculera les délais"),
    (r"case (?P<id>\S+): the journal fails its integrity check \((?P<problem>.*)\); nothing was written — run "
     r"`cpts case verify \S+` and restore the journal from a backup",
     "le journal de ce dossier ne passe pas son contrôle d'intégrité : rien n'a été enregistré ; prévenez un "
     "administrateur, qui le restaurera depuis une sauvegarde"),
    (r"unknown case (?P<id>.+): see `cpts case list` for the existing cases", "ce dossier n'existe pas"),
    # workflows.services.people: referents and the CPTS contact.
    (r"(?P<what>\S+) (?P<value>.+) is not a usable e-mail address: (?P<reason>.+); expected an ASCII address of "
     r"at most (?P<max>\S+) characters, e\.g\. anne\.martin@ars\.sante\.fr",
     "{what:option} : {value:value} n'est pas une adresse e-mail utilisable{reason:address_reason} ; attendu une "
     "adresse en caractères ASCII d'au plus {max:number} caractères, par exemple anne.martin@ars.sante.fr"),
    (r"(?P<what>\S+) is empty: give a name, e\.g\. \S+ \"(?P<example>.*)\"",
     "{what:option} : indiquez un nom, par exemple « {example} »"),
    (r"(?P<what>\S+) is (?P<n>\S+) characters long: at most (?P<max>\S+) are allowed",
     "{what:option} : {n:number} caractères, {max:number} au plus"),
    (r"(?P<what>\S+) (?P<value>.+) holds control or invisible characters \((?P<chars>[^)]*)\): a name is one "
     r"line of printable text, e\.g\. \S+ \"(?P<example>.*)\"",
     "{what:option} : {value:value} contient des caractères de contrôle ou invisibles ({chars}) ; un nom tient "
     "sur une ligne de texte imprimable, par exemple « {example} »"),
    (r"no user with e-mail (?P<email>.+): add them first with `cpts user add` \(see `cpts user list`\)",
     "aucun utilisateur n'a l'adresse {email:value} : un administrateur doit d'abord créer son compte"),
    (r"(?P<email>\S+) is \S+ (?P<role>\S+) user, not \S+ (?P<title>\S+) agent: the \S+ referent of a CPTS must "
     r"have role \S+",
     "le compte {email} a le rôle « {role:role} », pas celui d'agent {title} : le référent {title} d'une CPTS "
     "doit être un agent {title}"),
    (r"(?P<email>\S+) cannot be the (?P<title>\S+) referent of case (?P<id>\S+) (?P<name>.+): it is seated in "
     r"(?P<where>.+), outside their scope \((?P<scope>.*)\)",
     "le compte {email} ne peut pas être le référent {title} du dossier {name:case_name} : son siège est "
     "{where:seat}, hors du périmètre de cet agent ({scope:scope})"),
    (r"nothing to assign: give --ars EMAIL, --cpam EMAIL, --contact-name or --contact-email",
     "rien à enregistrer : choisissez un référent ou indiquez le contact de la CPTS"),
    # workflows.services.outbox: putting a notification back in the queue.
    (r"no outbox entry (?P<id>\S+): see `cpts outbox list`", "la notification n° {id} n'existe pas"),
    (r"outbox entry (?P<id>\S+) was sent(?: on (?P<when>.+?))?; only entries not sent \(pending, sending, dead, "
     r"unaddressed\) can be retried",
     "la notification n° {id} a déjà été envoyée ; seules les notifications non envoyées peuvent être remises "
     "en file"),
    (r"outbox entry (?P<id>\S+) still has nobody to go to: assign the case's referents first "
     r"\(`cpts case assign`\)",
     "la notification n° {id} n'a toujours aucun destinataire : désignez d'abord les référents du dossier"),
)
