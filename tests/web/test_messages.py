"""The engine's refusals in French on the web pages (`dashboard.messages`).

Three kinds of tests:

- real refusals, each provoked through the services a page calls (`apply`, `void`, `assign`) on the test
  portfolio, and the French a user then reads;
- a coverage scan of the sources of `lifecycle/` and `workflows/services/`: every message a refusal can carry
  must be read by a pattern, so that a new refusal cannot reach a French page in English unnoticed;
- the event form itself: the French message next to the field it is about.
"""

from __future__ import annotations

import ast
import importlib
import logging
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from dashboard.messages import (
    ADDRESS_REASONS,
    CONVERTERS,
    EXPECTED,
    MESSAGES,
    REASONS,
    TEXT_PROBLEMS,
    UNTRANSLATED,
    french,
    translate,
)
from lifecycle.errors import DomainError
from web.conftest import NOW, USERS, post_form
from workflows.persistence.db import make_engine
from workflows.persistence.memory import InMemoryUnitOfWork
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply, create_case, void
from workflows.services.people import assign

TODAY = NOW.date()  # Friday 20 June 2025 at every seat of the portfolio
D = date.fromisoformat
REPO = Path(__file__).resolve().parents[2]


def _plain(words: str) -> str:
    """Babel's narrow no-break and no-break spaces as ordinary spaces: what a reader sees."""
    return words.replace("\u202f", " ").replace("\xa0", " ")


# ----------------------------------------------------------------------------------------------- real refusals
@dataclass(frozen=True)
class Writes:
    """What a page does, on the test's copy of the portfolio, as of NOW."""

    portfolio: object

    @property
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(make_engine(f"sqlite:///{self.portfolio.path}"))

    def case(self, name: str) -> int:
        return getattr(self.portfolio, name)

    def record(self, case: str, event_type: str, at: str, data: dict | None = None, *, key: str | None = None):
        return apply(self.uow, self.case(case), NewEvent(event_type, D(at) if "/" not in at else at, data or {}),
                     USERS["ars"][1], today=TODAY, now=NOW, idempotency_key=key)

    def void(self, case: str, seq: int):
        return void(self.uow, self.case(case), seq, USERS["ars"][1], at=TODAY, reason="erreur de saisie",
                    today=TODAY, now=NOW)

    def assign(self, case: str, **people: str):
        return assign(self.uow, self.case(case), now=NOW, **people)


def _second_fir_grant(w: Writes) -> None:
    w.record("metz", "fir_granted", "2025-03-01", {"amount": "50000.00"})
    w.record("metz", "fir_granted", "2025-06-10", {"amount": "50000.00"})


def _reused_form(w: Writes) -> None:
    w.record("thionville", "first_meeting_held", "2025-06-16", key="formulaire-1")
    w.record("thionville", "project_abandoned", "2025-06-17", key="formulaire-1")


def _voiding_a_voiding(w: Writes) -> None:
    w.void("thionville", 1)
    w.void("thionville", 2)


def _backdated_abandonment(w: Writes) -> None:
    w.record("thionville", "first_meeting_held", "2025-06-16")
    w.record("thionville", "project_abandoned", "2025-06-05")


def _tampered_journal(w: Writes) -> None:
    with make_engine(f"sqlite:///{w.portfolio.path}").begin() as connection:
        connection.execute(text("UPDATE journal SET data = :d WHERE case_id = :c AND seq = 1"),
                           {"d": '{"source": "msa"}', "c": w.case("thionville")})
    w.record("thionville", "first_meeting_held", "2025-06-16")


REFUSALS: list[tuple[str, Callable[[Writes], object], list[str]]] = [
    ("an event dated tomorrow",
     lambda w: w.record("thionville", "first_meeting_held", "2025-06-21"),
     ["L'événement « Premier rendez-vous tenu » daté du samedi 21 juin 2025 est dans le futur",
      "nous sommes le vendredi 20 juin 2025 au siège du dossier"]),
    ("a date typed the French way",
     lambda w: w.record("thionville", "first_meeting_held", "16/06/2025"),
     ["Date de l'événement : « 16/06/2025 » n'est pas une date", "au format AAAA-MM-JJ"]),
    ("an event the state does not allow",
     lambda w: w.record("thionville", "loi_submitted", "2025-06-16"),
     ["L'événement « Lettre d'intention reçue » ne peut pas être enregistré dans l'état « Premier contact »",
      "il peut l'être dans l'état « Accompagnement »", "(événement daté du lundi 16 juin 2025)"]),
    ("a mission the vocabulary does not know",
     lambda w: w.record("contract", "mission_started", "2025-06-16", {"mission": "dentisterie"}),
     ["Mission : la valeur « dentisterie » n'est pas acceptée",
      "« Accès aux soins », « Parcours pluri-professionnels », « Prévention », « Qualité et pertinence », "
      "« Accompagnement des professionnels » ou « Réponse aux crises sanitaires graves »"]),
    ("a mission the contract does not hold",
     lambda w: w.record("contract", "mission_started", "2025-06-16", {"mission": "support"}),
     ["L'événement « Mission démarrée » est refusé dans l'état « Sous contrat »",
      "la mission « Accompagnement des professionnels » ne fait pas partie du contrat",
      "« Qualité et pertinence »"]),
    ("an amount with three decimals",
     lambda w: w.record("contract", "payment_recorded", "2025-06-19",
                        {"component": "fonctionnement.advance", "year": 1, "amount": "100.123"}),
     ["Montant : la valeur « 100.123 » n'est pas acceptée", "avec au plus 2 décimales"]),
    ("a payment above what the line still owes",
     lambda w: w.record("contract", "payment_recorded", "2025-06-19",
                        {"component": "fonctionnement.advance", "year": 1, "amount": "70000"}),
     ["L'événement « Paiement enregistré » est refusé dans l'état « Sous contrat »",
      "70 000,00 € dépasse les 60 000,00 € encore dus sur la ligne « Fonctionnement — avance » de l'année 1",
      "enregistrez au plus 60 000,00 €"]),
    ("a payment of a line the échéancier does not have",
     lambda w: w.record("contract", "payment_recorded", "2025-06-19",
                        {"component": "support.fixed.advance", "year": 1, "amount": "100"}),
     ["l'échéancier n'a pas de ligne « Accompagnement des professionnels — part fixe, avance » pour l'année 1"]),
    ("the FIR seed funding granted a second time", _second_fir_grant,
     ["le financement FIR d'amorçage a déjà été accordé le samedi 1er mars 2025",
      "enregistrez plutôt « Financement FIR renouvelé »"]),
    ("a decision without its data",
     lambda w: w.record("thionville", "loi_decision", "2025-06-16"),
     ["« Décision sur la lettre d'intention » : il manque « partie qui décide », « décision »"]),
    ("an event only the timers record",
     lambda w: w.record("metz", "health_project_tacitly_validated", "2025-06-16"),
     ["« Projet de santé validé tacitement » est enregistré par le moteur à la fin de son délai"]),
    ("a funders' termination without grounds",
     lambda w: w.record("contract", "termination_notice_received", "2025-06-19", {"initiator": "funders"}),
     ["une résiliation par les financeurs doit être motivée : manquement aux engagements du contrat"]),
    ("an opposition after its window closed",
     lambda w: w.record("metz", "health_project_opposed", "2025-06-19", {"grounds": "territory"}),
     ["« Opposition au projet de santé » ne peut pas être enregistré dans l'état « Projet de santé validé »",
      "le « délai d'opposition de l'ARS au projet de santé » a pris fin le mardi 22 avril 2025, puis « Projet de "
      "santé validé tacitement » a pris effet"]),
    ("a backdated event that would invalidate a later one", _backdated_abandonment,
     ["Enregistrer « Projet abandonné » au jeudi 5 juin 2025 rendrait invalide la saisie n° 2 (« Premier "
      "rendez-vous tenu » du lundi 16 juin 2025)", "dans l'état « Abandonné »"]),
    ("a voiding that would invalidate later entries",
     lambda w: w.void("metz", 1),
     ["Cette annulation rendrait invalide la saisie n° 2 (« Premier rendez-vous tenu » du lundi 9 septembre 2024)",
      "ne peut pas être enregistré dans l'état « Nouveau dossier »"]),
    ("the voiding of an entry that does not exist",
     lambda w: w.void("metz", 99),
     ["Annulation impossible : ce dossier n'a pas de saisie n° 99."]),
    ("the voiding of a voiding", _voiding_a_voiding,
     ["Une annulation ne peut pas être annulée elle-même"]),
    ("a form submitted again for another event", _reused_form,
     ["Ce formulaire a déjà servi à enregistrer la saisie n° 2 (« Premier rendez-vous tenu » du lundi 16 juin "
      "2025)"]),
    ("a write on a journal edited behind the engine's back", _tampered_journal,
     ["Le journal de ce dossier ne passe pas son contrôle d'intégrité : rien n'a été enregistré"]),
    ("an ARS referent from another région",
     lambda w: w.assign("metz", ars_email=USERS["ars_other"][1]),
     ["Le compte nadia.benali@ars.example.fr ne peut pas être le référent ARS du dossier « CPTS du Pays Messin » : "
      "son siège est en région Grand Est (44), hors du périmètre de cet agent (région 75)"]),
    ("a CPAM agent as ARS referent",
     lambda w: w.assign("metz", ars_email=USERS["cpam"][1]),
     ["Le compte paul.durand@cpam.example.fr a le rôle « agent CPAM », pas celui d'agent ARS"]),
    ("a referent who has no account",
     lambda w: w.assign("metz", cpam_email="personne@cpam.example.fr"),
     ["Aucun utilisateur n'a l'adresse « personne@cpam.example.fr »"]),
    ("a contact address without an @",
     lambda w: w.assign("metz", contact_email="pas une adresse"),
     ["Adresse e-mail du contact de la CPTS : « pas une adresse » n'est pas une adresse e-mail utilisable (il "
      "manque le signe @)"]),
]


@pytest.mark.parametrize(("what", "act", "says"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refusal_met_on_a_page_is_said_in_french(portfolio, what, act, says):
    with pytest.raises(DomainError) as refused:
        act(Writes(portfolio))
    shown = _plain(french(refused.value))
    assert not shown.startswith(UNTRANSLATED), shown
    for words in says:
        assert words in shown, shown


def test_a_write_crossed_by_a_colleagues_is_said_in_french():
    uow = InMemoryUnitOfWork()
    case_id = create_case(uow, name="CPTS du Pays Messin", departement="57", population=60_000).id
    apply(uow, case_id, NewEvent("contact_recorded", D("2025-06-02"), {"source": "ars"}), "ars.agent",
          today=D("2025-06-02"))

    class ColleagueFirst(InMemoryUnitOfWork):
        def __enter__(self):
            entered = super().__enter__()
            self.committed.cases[case_id].version += 1  # a colleague's write lands after our read
            return entered

    crossed = ColleagueFirst()
    crossed.committed = uow.committed
    with pytest.raises(DomainError) as refused:
        apply(crossed, case_id, NewEvent("first_meeting_held", D("2025-06-16")), "ars.agent", today=D("2025-06-16"))
    assert french(refused.value) == ("Ce dossier a été modifié par quelqu'un d'autre entre-temps : rien n'a été "
                                     "enregistré ; rechargez la page et recommencez.")


def test_a_refusal_without_a_translation_is_shown_in_english_and_the_log_says_only_its_kind(caplog):
    error = DomainError("a brand-new refusal about anne.martin@ars.sante.fr")
    with caplog.at_level(logging.WARNING, logger="cpts.web"):
        shown = french(error)
    assert shown == "Refusé par le moteur : a brand-new refusal about anne.martin@ars.sante.fr"
    assert "no French for a DomainError refusal" in caplog.text
    assert "anne.martin" not in caplog.text  # messages hold users' values: never logged


def test_every_pattern_writes_only_what_it_captures_with_known_converters():
    for table in (MESSAGES, REASONS, EXPECTED, TEXT_PROBLEMS, ADDRESS_REASONS):
        for rule in table:
            for _, name, kind, _ in string.Formatter().parse(rule.template):
                if name is not None:
                    assert name in rule.pattern.groupindex, f"{{{name}}} is not captured by {rule.pattern.pattern}"
                    assert (kind or "text") in CONVERTERS, f"no converter {kind!r} for {rule.pattern.pattern}"


# ----------------------------------------------------------------------------------------------- coverage scan
# What the scan reads, in every .py file under these folders:
#   1. `raise X(<message>)` where X is a DomainError subclass: the message, when it is a text written there (a
#      literal, an f-string, a concatenation, or a local variable or module constant holding one);
#   2. `super().__init__(<message>)` in the __init__ of a DomainError subclass (errors that build their own);
#   3. `self._refuse(<reason>)` in lifecycle.machine, and the texts returned by REASON_PRODUCERS: reasons, which
#      reach users as "<event> rejected in state <state>: <reason>" and are checked so composed;
#   4. the texts returned by SUFFIX_PRODUCERS, checked appended to a refusal as the projection appends them.
# Each message becomes a sample: every `{…}` of an f-string is replaced by "x" (or by the value of the module
# constant it names, or by a real refusal when it is itself a refusal: HOLE_SAMPLES), and the sample must be read
# by a pattern of dashboard.messages. Patterns capture variable parts loosely (they accept "x"), so the scan checks
# the sentence around them; the real refusals above check what the pieces become.
SCANNED = ("lifecycle", "workflows/services")
# Functions whose refusals a web user never meets (path → qualified names, "*" for the whole file), and why.
NOT_ON_THE_WEB: dict[str, dict[str, str]] = {
    "lifecycle/calendar.py": {"*": "an event's dates are bounded to 2016–2100 before they reach the legal calendar "
                                   "(1900–2199), and the ruleset's periods are fixed"},
    "lifecycle/territory.py": {"*": "territories are given when a case is created (`cpts case create`)"},
    "lifecycle/ruleset.py": {"*": "ruleset files are loaded and checked at start-up"},
    "lifecycle/errors.py": {"RulesetError": "ruleset files are loaded at start-up",
                            "UnknownCommunes": "territories are given when a case is created"},
    "workflows/services/cases.py": {"create_case": "cases are created with `cpts case create`",
                                    "check_name": "cases are named with `cpts case create`"},
    "workflows/services/people.py": {
        name: "user accounts are managed with `cpts user`"
        for name in ("_region", "_typed", "normalise_scope", "check_role", "add_user", "edit_user",
                     "_scope_for_new_role", "_check_referent_cases")
    },
    "workflows/services/accounts.py": {"*": "passwords are set with `cpts user password`; sign-in refusals are "
                                            "written in French"},
    "workflows/services/sweep.py": {"*": "the sweep runs in the scheduler and `cpts sweep`, not from a page"},
}
# Functions whose returned texts are reasons (3) or suffixes (4) of a refusal.
REASON_PRODUCERS = {"lifecycle/payments.py": ("Outstanding.refusal",),
                    "lifecycle/projection.py": ("_Replay._reopened",)}
SUFFIX_PRODUCERS = {"lifecycle/projection.py": ("_Replay._closed_hint",)}
# `_refuse(<name>)` whose reason is computed elsewhere, and checked there.
INDIRECT_REASONS = {("lifecycle/machine.py", "LifecycleModel.payment_owed"): "Outstanding.refusal's texts"}
# Holes that are refusals themselves, by their source text: a real one stands in for them.
A_REFUSAL = "first_meeting_held is not allowed in state new: allowed in prospect"
A_REASON = "the ACI is not in force on that date"
HOLE_SAMPLES = {"rejection.error": A_REFUSAL, "first.error": A_REFUSAL, "reopened": A_REASON}


@dataclass(frozen=True)
class Site:
    """A message found in the sources: where, what kind (message, reason, suffix), and its sample."""

    path: str
    line: int
    function: str
    kind: str
    sample: str

    def as_met(self) -> str:
        """The sample as a user meets it."""
        if self.kind == "reason":
            return f"payment_recorded rejected in state contracted: {self.sample} (event dated 2025-06-19)"
        if self.kind == "suffix":
            return f"fir_granted is not allowed in state contracted: allowed in loi_validated{self.sample}"
        return self.sample


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, module: object, tree: ast.Module) -> None:
        self.path, self.module, self.tree = path, module, tree
        self.stack: list[ast.AST] = []
        self.sites: list[Site] = []
        self.unreadable: list[str] = []

    # ---- where we are
    def _qualname(self) -> str:
        return ".".join(n.name for n in self.stack if isinstance(n, ast.FunctionDef | ast.ClassDef))

    def _function(self) -> ast.FunctionDef | None:
        return next((n for n in reversed(self.stack) if isinstance(n, ast.FunctionDef)), None)

    def _excluded(self, qualname: str) -> bool:
        skipped = NOT_ON_THE_WEB.get(self.path, {})
        return "*" in skipped or any(qualname == n or qualname.startswith(n + ".") for n in skipped)

    def generic_visit(self, node: ast.AST) -> None:
        self.stack.append(node)
        super().generic_visit(node)
        self.stack.pop()

    # ---- samples
    def _local(self, name: str) -> ast.expr | None:
        """The one value a local variable of the enclosing function is given, if it is given one."""
        function = self._function()
        if function is None:
            return None
        values = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign) and len(n.targets) == 1
                  and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name]
        return values[0] if len(values) == 1 else None

    def _textual(self, node: ast.expr | None) -> bool:
        """Whether `node` is a text written in the source (not a value computed at run time)."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._textual(node.left) or self._textual(node.right)
        if isinstance(node, ast.IfExp):
            return self._textual(node.body)
        if isinstance(node, ast.BoolOp):
            return any(self._textual(v) for v in node.values)
        if isinstance(node, ast.Name):
            return self._textual(self._local(node.id)) or isinstance(getattr(self.module, node.id, None), str)
        return False

    def sample(self, node: ast.expr, depth: int = 0) -> str:
        if depth > 5:
            return "x"
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.JoinedStr):
            return "".join(self.sample(v, depth + 1) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self._hole(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.sample(node.left, depth + 1) + self.sample(node.right, depth + 1)
        if isinstance(node, ast.IfExp):
            return self.sample(node.body, depth + 1)
        if isinstance(node, ast.BoolOp):  # `a or "default"`: the text written there
            written = [v for v in node.values if self._textual(v)]
            return self.sample(written[0], depth + 1) if written else "x"
        if isinstance(node, ast.Name):
            local = self._local(node.id)
            if self._textual(local):
                return self.sample(local, depth + 1)
            constant = getattr(self.module, node.id, None)
            if isinstance(constant, str | int) and not isinstance(constant, bool) and local is None:
                return str(constant)
        return "x"

    def _hole(self, node: ast.FormattedValue, depth: int) -> str:
        source = ast.unparse(node.value)
        if source in HOLE_SAMPLES:
            return HOLE_SAMPLES[source]
        value: object = "x"
        if isinstance(node.value, ast.Name) and self._local(node.value.id) is None:
            constant = getattr(self.module, node.value.id, None)
            if isinstance(constant, str | int) and not isinstance(constant, bool):
                value = constant
        elif self._textual(node.value):
            value = self.sample(node.value, depth + 1)
        if node.conversion == ord("r"):
            return repr(value)
        spec = node.format_spec
        if spec is not None and not isinstance(value, str) and all(isinstance(v, ast.Constant) for v in spec.values):
            return format(value, "".join(str(v.value) for v in spec.values))
        return str(value)

    # ---- sites
    def _add(self, node: ast.AST, kind: str, message: ast.expr) -> None:
        qualname = self._qualname()
        if not self._excluded(qualname):
            self.sites.append(Site(self.path, node.lineno, qualname, kind, self.sample(message)))

    def _domain_error(self, func: ast.expr) -> type | None:
        found: object = None
        if isinstance(func, ast.Name):
            found = getattr(self.module, func.id, None)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            found = getattr(getattr(self.module, func.value.id, None), func.attr, None)
        return found if isinstance(found, type) and issubclass(found, DomainError) else None

    def visit_Raise(self, node: ast.Raise) -> None:
        call = node.exc
        if isinstance(call, ast.Call):
            error = self._domain_error(call.func)
            if error is not None:
                message = call.args[0] if call.args else None
                if message is not None and self._textual(message):
                    self._add(node, "message", message)
                elif "__init__" not in vars(error) and not self._excluded(self._qualname()):
                    self.unreadable.append(f"{self.path}:{node.lineno}: {ast.unparse(call)}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        qualname = self._qualname()
        if isinstance(func, ast.Attribute) and func.attr == "_refuse" and node.args:
            if self._textual(node.args[0]):
                self._add(node, "reason", node.args[0])
            elif (self.path, qualname) not in INDIRECT_REASONS and not self._excluded(qualname):
                self.unreadable.append(f"{self.path}:{node.lineno}: {ast.unparse(node)}")
        if (isinstance(func, ast.Attribute) and func.attr == "__init__" and isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name) and func.value.func.id == "super" and node.args
                and self._textual(node.args[0]) and self._inside_domain_error()):
            self._add(node, "message", node.args[0])
        self.generic_visit(node)

    def _inside_domain_error(self) -> bool:
        classes = [n for n in self.stack if isinstance(n, ast.ClassDef)]
        return bool(classes) and self._domain_error(ast.Name(classes[-1].name)) is not None

    def visit_Return(self, node: ast.Return) -> None:
        qualname = self._qualname()
        for kind, producers in (("reason", REASON_PRODUCERS), ("suffix", SUFFIX_PRODUCERS)):
            if qualname in producers.get(self.path, ()) and node.value is not None and self._textual(node.value):
                sample = self.sample(node.value)
                if sample:  # "" is "no reason" / "no suffix"
                    self.sites.append(Site(self.path, node.lineno, qualname, kind, sample))
        self.generic_visit(node)


def _scan() -> tuple[list[Site], list[str]]:
    sites: list[Site] = []
    unreadable: list[str] = []
    for folder in SCANNED:
        for file in sorted((REPO / folder).rglob("*.py")):
            path = file.relative_to(REPO).as_posix()
            module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=path)
            scanner = _Scanner(path, module, tree)
            scanner.visit(tree)
            sites += scanner.sites
            unreadable += scanner.unreadable
    return sites, unreadable


@pytest.fixture(scope="module")
def scanned() -> tuple[list[Site], list[str]]:
    return _scan()


def test_the_scan_finds_the_refusals_of_the_event_form_the_voiding_and_the_referents(scanned):
    sites, _ = scanned
    found = {(s.path, s.function) for s in sites}
    assert len(sites) > 100, f"only {len(sites)} messages found: the scan no longer reads the sources"
    for where in [("lifecycle/events.py", "_parse_amount"), ("lifecycle/machine.py", "fire"),
                  ("lifecycle/machine.py", "LifecycleModel.fir_not_yet_granted"),
                  ("lifecycle/payments.py", "Outstanding.refusal"), ("workflows/services/cases.py", "_apply_to"),
                  ("workflows/services/cases.py", "_check_void"), ("workflows/services/people.py", "_referent"),
                  ("workflows/services/people.py", "UnknownUser.__init__")]:
        assert where in found, f"no message found in {where}"


def test_every_refusal_a_web_user_can_meet_has_a_french_pattern(scanned):
    sites, unreadable = scanned
    missing = [f"{s.path}:{s.line} ({s.function}, {s.kind}): {s.as_met()}" for s in sites
               if translate(s.as_met()) is None]
    assert not missing, (f"{len(missing)} refusal(s) without French — add a pattern to dashboard/messages.py "
                         "(or, if no page can meet it, the function to NOT_ON_THE_WEB here):\n" + "\n".join(missing))
    assert not unreadable, ("refusals whose message the scan cannot read (built at run time): make it a text, or "
                            "list the function in INDIRECT_REASONS / NOT_ON_THE_WEB:\n" + "\n".join(unreadable))


def test_the_scan_would_catch_a_refusal_without_a_pattern():
    source = ("from lifecycle.errors import EventRejected\n"
              "def check(day):\n"
              "    raise EventRejected(f'{day} is a full moon: record it another night')\n")
    module = importlib.import_module("lifecycle.errors")
    tree = ast.parse(source)
    scanner = _Scanner("lifecycle/moon.py", module, tree)
    scanner.visit(tree)
    [site] = scanner.sites
    assert site.sample == "x is a full moon: record it another night"
    assert translate(site.as_met()) is None


# ----------------------------------------------------------------------------------------------- the form
def _error_of(html: str, field_id: str) -> str | None:
    """The message shown next to a field (the macro's `<small id="…-erreur">`)."""
    found = re.search(rf'id="{field_id}-erreur"[^>]*>([^<]+)<', html)
    return found.group(1).replace("&#39;", "'") if found else None


def test_the_event_form_shows_the_date_refusal_in_french_next_to_the_date(portfolio, client_as):
    client = client_as("ars")
    page = f"/cpts/{portfolio.thionville}/evenement?type=first_meeting_held"
    key = re.search(r'name="cle" value="([^"]+)"', client.get(page).text).group(1)
    refused = post_form(client, f"/cpts/{portfolio.thionville}/evenement",
                        {"type": "first_meeting_held", "at": "2025-06-21", "cle": key}, page=page)
    assert refused.status_code == 422
    said = _error_of(refused.text, "f-at")
    assert said == ("L'événement « Premier rendez-vous tenu » daté du samedi 21 juin 2025 est dans le futur (nous "
                    "sommes le vendredi 20 juin 2025 au siège du dossier) : enregistrez un événement le jour où il a "
                    "lieu, ou plus tard.")
    assert "is in the future" not in refused.text


def test_voiding_an_entry_later_ones_depend_on_is_refused_in_french_on_the_case_page(portfolio, client_as):
    page = f"/cpts/{portfolio.metz}"
    refused = post_form(client_as("admin"), f"{page}/annuler/1", {"motif": "erreur"}, page=page)
    assert refused.status_code == 422
    alert = re.search(r'id="erreur-annulation-1"[^>]*>(.*?)</', refused.text, re.DOTALL)
    assert alert and "Cette annulation rendrait invalide la saisie n° 2" in alert.group(1).replace("&#39;", "'")
    assert "would invalidate" not in refused.text

