"""Letters legal staff edit and sign: Word files rendered from the docxtpl templates of `templates/letters/`.

An adapter: it reads no database and imports only the domain. The entrypoints (`cpts letter`, the case page's
*Lettres*) gather a case's dates and amounts, format them in French and explain each one, and hand them here as a
`LetterData`; `render_letter(kind, data)` fills the kind's template and returns the .docx bytes.

The templates are built by `scripts/build_letter_templates.py` (python-docx, then the Jinja tags docxtpl reads).
A template names what it shows: `case.*` (`CaseIdentity`), `d.<name>` (a `LetterDate`: `.text`, `.explanation`),
`a.<name>` (a `LetterAmount`), `w.<name>` (a phrase), `f.<name>` (a flag for a conditional paragraph), `issued_on`,
and `annex` (every date, then every amount, for the table that explains them). A name the data lacks is an error
(StrictUndefined), never a blank in a letter.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib.resources import files

from lifecycle.errors import DomainError


@dataclass(frozen=True)
class LetterKind:
    """A kind of letter: its name on the command line and in the URL, its French title, its template file."""

    name: str
    title: str
    template: str


KINDS: dict[str, LetterKind] = {kind.name: kind for kind in (
    LetterKind("resiliation", "Notification de la résiliation du contrat par l'ARS et la CPAM (ACI art. 11.2)",
               "resiliation.docx"),
    LetterKind("accuse-saisine-cpl", "Accusé de réception d'une saisine de la CPL (ACI art. 12.4)",
               "accuse-saisine-cpl.docx"),
    LetterKind("convocation-cpl", "Convocation des membres de la CPL (règlement intérieur, art. 1.2)",
               "convocation-cpl.docx"),
    LetterKind("decision-financeurs", "Nouvelle décision de l'ARS et de la CPAM après l'avis de la CPL "
                                      "(ACI art. 12.4.2)", "decision-financeurs.docx"),
    LetterKind("remboursement", "Demande de remboursement du trop-perçu après résiliation (ACI art. 11.3)",
               "remboursement.docx"),
)}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class UnknownLetterKind(DomainError):
    """A letter kind no template exists for."""

    def __init__(self, kind: str) -> None:
        shown = kind if len(kind) <= 40 else kind[:40] + "…"
        super().__init__(f"unknown letter kind {shown!r}: expected one of {', '.join(KINDS)}")


def letter_kind(name: str) -> LetterKind:
    """The kind called `name`, or UnknownLetterKind."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownLetterKind(name) from None


@dataclass(frozen=True)
class CaseIdentity:
    """Who the letter is about and who sends it.

    Attributes:
        id, name: the case number and the CPTS's name.
        departement, departement_name, region, region_name: its seat.
        ars: "Agence régionale de santé Grand Est"; cpam: "Caisse primaire d'assurance maladie de la Moselle"
            (overseas, the caisse générale de sécurité sociale): the funders, for the letterhead and signatures.
        commission: the seat's commission as a sentence names it ("commission paritaire locale de la Moselle";
            overseas, the commission paritaire territoriale); commission_title: the same, capitalised.
        addressee: whom the letter is addressed to at the CPTS (its contact, or its presidency).
        contract_signed_on: the contract's date in French ("" before signature).
    """

    id: int
    name: str
    departement: str
    departement_name: str
    region: str
    region_name: str
    ars: str
    cpam: str
    commission: str
    commission_title: str
    addressee: str
    contract_signed_on: str


@dataclass(frozen=True)
class LetterDate:
    """A date the letter states: `text` as the letter writes it ("lundi 3 novembre 2025"), `explanation` one
    French sentence saying why it is that date (anchor, rule, days rolled over and why, article)."""

    label: str
    day: date
    text: str
    explanation: str
    to_confirm: str = ""  # the source of an unverified ruleset row the date comes from ("": a certain date)


@dataclass(frozen=True)
class LetterAmount:
    """An amount the letter states: `text` as written ("9 727,74 €"), `explanation` how it is computed."""

    label: str
    amount: Decimal
    text: str
    explanation: str
    to_confirm: str = ""  # the source of an unverified ruleset row the amount comes from ("": a certain amount)


@dataclass(frozen=True)
class LetterData:
    """Everything a letter of `kind` shows, already in French.

    Attributes:
        kind: the letter's kind (a key of KINDS).
        case: the case and the parties.
        issued_on: the letter's date, in French.
        dates, amounts: by the name the template uses (`d.effective`, `a.refund`), in the annex's order.
        words: phrases the template inserts (`w.subject`: "la résiliation du contrat…").
        flags: which optional paragraphs the letter keeps (`f.termination`).
    """

    kind: str
    case: CaseIdentity
    issued_on: str
    dates: Mapping[str, LetterDate] = field(default_factory=dict)
    amounts: Mapping[str, LetterAmount] = field(default_factory=dict)
    words: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, bool] = field(default_factory=dict)

    @property
    def annex(self) -> tuple[LetterDate | LetterAmount, ...]:
        """Every date, then every amount: the rows of the table that explains them."""
        return (*self.dates.values(), *self.amounts.values())


def to_confirm_sentence(source: str) -> str:
    """The sentence a letter adds to the explanation of a date or an amount computed from a ruleset row not
    checked against the signed text (ACI avenant 2)."""
    return (f"À confirmer : cette valeur est calculée d'après une disposition dont le texte signé n'a pas encore été "
            f"vérifié (source : {source.rstrip('.')}).")


def unverified(value: LetterDate | LetterAmount) -> LetterDate | LetterAmount:
    """`value` with the "à confirmer" sentence after its explanation when it has a source to confirm."""
    from dataclasses import replace

    if not value.to_confirm or value.explanation.endswith(to_confirm_sentence(value.to_confirm)):
        return value
    return replace(value, explanation=f"{value.explanation} {to_confirm_sentence(value.to_confirm)}")


def render_letter(kind: str, data: LetterData) -> bytes:
    """The .docx of a letter of `kind` filled with `data`."""
    from docxtpl import DocxTemplate
    from jinja2 import Environment, StrictUndefined

    letter = letter_kind(kind)
    if data.kind != letter.name:
        raise ValueError(f"data for a {data.kind!r} letter handed to the {letter.name!r} template")
    source = files("templates").joinpath("letters", letter.template).read_bytes()
    template = DocxTemplate(io.BytesIO(source))
    dates = {name: unverified(value) for name, value in data.dates.items()}
    amounts = {name: unverified(value) for name, value in data.amounts.items()}
    context = {"case": data.case, "issued_on": data.issued_on, "d": dates, "a": amounts,
               "w": dict(data.words), "f": dict(data.flags), "annex": (*dates.values(), *amounts.values())}
    # Autoescaped: a CPTS named "Santé & Territoires" stays valid XML.
    template.render(context, jinja_env=Environment(undefined=StrictUndefined, autoescape=True), autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()
