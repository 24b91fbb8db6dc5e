"""Build the Word templates of the letters (`templates/letters/*.docx`) with python-docx.

    .venv/bin/python scripts/build_letter_templates.py

A .docx is binary: this script is the source of the templates. It writes each letter as paragraphs holding the
Jinja tags docxtpl reads (`{{ d.effective.text }}`, a `{%p if f.termination %}` paragraph, a `{%tr for %}` table
row); `documents/letters.py` fills them. What a template may name is described there (`case`, `d`, `a`, `w`, `f`,
`issued_on`, `annex`). Legal staff may also edit a template in Word, keeping its tags; running this script again
overwrites such edits.

The letters are sober on purpose: a letterhead whose names come from the case (the ARS of its région, the CPAM of
its département, the seat's commission), placeholders in brackets for what the database does not know (addresses,
signatories, the facts of the case), an object line, the body, a signature block, and an annex that explains
every date and amount.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

OUT = Path(__file__).resolve().parents[1] / "templates" / "letters"

# A letter is a list of blocks: (kind, text). Kinds: p (paragraph), b (bold paragraph), i (italic), right
# (right-aligned), tag (a docxtpl paragraph tag, alone in its paragraph), sign_funders / sign_commission
# (signature blocks), annex (the table explaining the dates and amounts).
Block = tuple[str, str]

FUNDERS_HEAD: list[Block] = [
    ("b", "{{ case.ars }}"),
    ("b", "{{ case.cpam }}"),
    ("p", "[Service, adresse, téléphone, courriel de l'expéditeur]"),
]
COMMISSION_HEAD: list[Block] = [
    ("b", "{{ case.commission_title }}"),
    ("p", "Secrétariat : [service, adresse, téléphone, courriel]"),
    ("p", "{{ case.ars }} — {{ case.cpam }}"),
]
TO_CPTS: list[Block] = [
    ("right", "{{ case.name }}"),
    ("right", "À l'attention de {{ case.addressee }}"),
    ("right", "[Adresse du siège de la CPTS]"),
]
DATED: list[Block] = [("right", "[Lieu], le {{ issued_on }}")]
REGISTERED: list[Block] = [("i", "Lettre recommandée avec demande d'avis de réception")]
SALUTATION: list[Block] = [("p", "Madame la Présidente, Monsieur le Président,")]
CLOSING: list[Block] = [("p", "Nous vous prions d'agréer, Madame la Présidente, Monsieur le Président, l'expression "
                              "de notre considération distinguée.")]
TERMINATION_REFUND = ("p", "Conséquences financières : lorsque la résiliation prend effet, la rémunération de l'année "
                           "en cours du contrat est due au prorata de sa durée d'exécution ; les sommes versées "
                           "au-delà sont remboursées dans les deux mois suivant la prise d'effet (ACI, art. 11.3).")

LETTERS: dict[str, list[Block]] = {
    "resiliation": [
        *FUNDERS_HEAD, *TO_CPTS, *DATED, *REGISTERED,
        ("b", "Objet : résiliation du contrat tripartite — {{ case.name }}"),
        ("p", "Références : accord conventionnel interprofessionnel des CPTS du 20 juin 2019 (ACI), articles 11 et "
              "12.4 ; dossier n° {{ case.id }}."),
        *SALUTATION,
        ("p", "Par le présent courrier, l'{{ case.ars }} et la {{ case.cpam }} vous notifient la résiliation du "
              "contrat tripartite signé le {{ case.contract_signed_on }}, en application de l'article 11.2 de "
              "l'ACI, pour le motif suivant : {{ w.grounds }}."),
        ("p", "[Exposé des faits et des manquements constatés.]"),
        ("p", "Réception du présent courrier : le {{ d.notice.text }}{{ w.notice_evidence }}. Les délais "
              "ci-dessous courent à compter de cette date."),
        ("p", "Prise d'effet : la résiliation prendra effet le {{ d.effective.text }}, deux mois après la "
              "réception du présent courrier (ACI, art. 11.2)."),
        ("p", "Droit de saisir la commission : dans ce délai, la CPTS peut saisir la {{ case.commission }} "
              "(ACI, art. 11.2 et 12.4). Sa saisine doit être reçue au plus tard le {{ d.window.text }}."),
        ("tag", "{%p if f.window_after_effect %}"),
        ("p", "Le délai de saisine, reporté au premier jour ouvré, expire après la date d'effet : une saisine "
              "reçue jusqu'au {{ d.window.text }} inclus suspend encore la résiliation, qui, à défaut de saisine, ne "
              "produit son effet qu'à l'expiration de ce délai, tout en restant datée du {{ d.effective.text }}."),
        ("tag", "{%p endif %}"),
        ("p", "Effet suspensif de la saisine : la saisine de la commission suspend la prise d'effet de la "
              "résiliation. La commission se réunit dans les deux mois suivant sa saisine et rend son avis dans les "
              "trente jours suivant sa réunion ; l'ARS et la caisse vous notifient ensuite, dans un délai de trente "
              "jours, leur nouvelle décision, accompagnée de l'avis de la commission (ACI, art. 12.4.2)."),
        TERMINATION_REFUND,
        *CLOSING, ("sign_funders", ""), ("annex", ""),
    ],
    "accuse-saisine-cpl": [
        *COMMISSION_HEAD, *TO_CPTS, *DATED,
        ("b", "Objet : accusé de réception de votre saisine de la {{ case.commission }}"),
        ("p", "Références : ACI du 20 juin 2019, article 12.4 ; règlement intérieur des commissions paritaires "
              "(annexe 5 de l'ACI) ; dossier n° {{ case.id }}."),
        *SALUTATION,
        ("p", "Nous accusons réception de votre saisine de la {{ case.commission }}, reçue le "
              "{{ d.referral.text }}, relative {{ w.about }}."),
        ("tag", "{%p if f.termination %}"),
        ("p", "Conformément à l'article 11.2 de l'ACI, cette saisine suspend la prise d'effet de la résiliation, "
              "prévue le {{ d.effective.text }}, jusqu'à la nouvelle décision de l'ARS et de la caisse."),
        ("tag", "{%p endif %}"),
        ("p", "La commission se réunira au plus tard le {{ d.meeting_deadline.text }}, dans les deux mois suivant "
              "la réception de votre saisine (ACI, art. 12.4.2). Ses membres sont convoqués quinze jours au moins "
              "avant la réunion et reçoivent l'ordre du jour cinq jours au moins avant (règlement intérieur, "
              "art. 1.2) ; la date de la réunion vous sera communiquée."),
        ("p", "La commission rend son avis dans les trente jours suivant sa réunion ; à défaut, son avis est "
              "réputé rendu. L'ARS et la caisse notifient ensuite leur nouvelle décision dans un délai de trente "
              "jours, accompagnée de l'avis de la commission (ACI, art. 12.4.2)."),
        ("p", "Copie : {{ case.ars }} ; {{ case.cpam }}."),
        *CLOSING, ("sign_commission", ""), ("annex", ""),
    ],
    "convocation-cpl": [
        *COMMISSION_HEAD,
        ("right", "Mesdames et Messieurs les membres de la {{ case.commission }}"),
        ("right", "(section professionnelle et section sociale)"),
        *DATED,
        ("b", "Objet : convocation à la réunion de la {{ case.commission }} du {{ d.meeting.text }}"),
        ("p", "Références : ACI du 20 juin 2019, article 12.4 ; règlement intérieur des commissions paritaires "
              "(annexe 5 de l'ACI), articles 1 et 2 ; dossier n° {{ case.id }}."),
        ("p", "Madame, Monsieur,"),
        ("p", "Vous êtes convoqué(e) à la réunion de la {{ case.commission }} qui se tiendra le "
              "{{ d.meeting.text }}, à [heure], [lieu]."),
        ("p", "Ordre du jour : examen de la saisine de la {{ case.name }} (dossier n° {{ case.id }}), reçue le "
              "{{ d.referral.text }}, relative {{ w.about }}. L'ordre du jour détaillé et les pièces du "
              "dossier vous seront adressés au plus tard le {{ d.agenda.text }}."),
        ("p", "Délais du règlement intérieur (art. 1.2) : la présente convocation est envoyée au plus tard le "
              "{{ d.convocation.text }}, quinze jours au moins avant la réunion ; l'ordre du jour, au plus tard le "
              "{{ d.agenda.text }}, cinq jours au moins avant. La commission doit se réunir au plus tard le "
              "{{ d.meeting_deadline.text }}, deux mois après la réception de la saisine (ACI, art. 12.4.2)."),
        ("p", "Quorum et pouvoirs : la commission délibère valablement lorsque la moitié au moins des membres de "
              "chaque section sont présents ou représentés, les deux sections comptant le même nombre de votants. "
              "Un membre empêché peut donner pouvoir à un autre membre ; nul ne peut détenir plus de trois "
              "pouvoirs. En cas d'empêchement, merci d'en informer le secrétariat et de lui adresser votre "
              "pouvoir."),
        ("p", "Veuillez agréer, Madame, Monsieur, l'expression de nos salutations distinguées."),
        ("sign_commission", ""), ("annex", ""),
    ],
    "decision-financeurs": [
        *FUNDERS_HEAD, *TO_CPTS, *DATED, *REGISTERED,
        ("b", "Objet : nouvelle décision de l'ARS et de la caisse après l'avis de la {{ case.commission }}"),
        ("p", "Références : ACI du 20 juin 2019, articles 11 et 12.4.2 ; dossier n° {{ case.id }}."),
        *SALUTATION,
        ("p", "Par une saisine reçue le {{ d.referral.text }}, vous avez saisi la {{ case.commission }} d'une "
              "contestation relative {{ w.about }}. La commission s'est réunie le {{ d.meeting_held.text }}."),
        ("p", "{{ w.opinion }}"),
        ("p", "Après examen de cet avis, l'{{ case.ars }} et la {{ case.cpam }} vous notifient leur décision : "
              "{{ w.decision }}."),
        ("p", "[Motifs de la décision.]"),
        ("tag", "{%p if f.effective_known %}"),
        ("p", "La résiliation prend effet le {{ d.effective.text }}."),
        ("tag", "{%p endif %}"),
        ("tag", "{%p if f.termination_undecided %}"),
        ("p", "En cas de maintien, la résiliation prend effet à la plus tardive de ces deux dates : le "
              "{{ d.original_effective.text }}, date d'effet initiale, ou la date de notification de la présente "
              "décision ; en cas de retrait, le contrat se poursuit."),
        ("tag", "{%p endif %}"),
        ("tag", "{%p if f.termination %}"),
        TERMINATION_REFUND,
        ("tag", "{%p endif %}"),
        ("p", "Le délai de trente jours dont disposent l'ARS et la caisse pour notifier leur nouvelle décision "
              "expire le {{ d.decision_deadline.text }} (ACI, art. 12.4.2)."),
        ("tag", "{%p if f.opinion_attached %}"),
        ("p", "Pièce jointe : avis de la {{ case.commission }} notifié le {{ d.opinion.text }}."),
        ("tag", "{%p endif %}"),
        *CLOSING, ("sign_funders", ""), ("annex", ""),
    ],
    "remboursement": [
        *FUNDERS_HEAD, *TO_CPTS, *DATED, *REGISTERED,
        ("b", "Objet : remboursement du trop-perçu après la résiliation du contrat tripartite"),
        ("p", "Références : ACI du 20 juin 2019, article 11.3 ; dossier n° {{ case.id }}."),
        *SALUTATION,
        ("p", "La résiliation du contrat tripartite signé le {{ case.contract_signed_on }} a pris effet le "
              "{{ d.effective.text }}. En application de l'article 11.3 de l'ACI, la rémunération de l'année "
              "{{ w.year }} du contrat est due au prorata de sa durée d'exécution, et les avances versées au-delà "
              "de ce montant doivent être remboursées."),
        ("p", "Rémunération due pour l'année {{ w.year }} : {{ a.due_for_year.text }}. Calcul : "
              "{{ a.due_for_year.explanation }}"),
        ("p", "Avances versées pour l'année {{ w.year }} : {{ a.advances.text }}."),
        ("b", "Montant à rembourser : {{ a.refund.text }} ({{ a.advances.text }} − {{ a.due_for_year.text }})."),
        ("tag", "{%p if f.partly_received %}"),
        ("p", "Compte tenu des sommes déjà reçues ({{ a.received.text }}), le montant restant à rembourser est de "
              "{{ a.remaining.text }}."),
        ("tag", "{%p endif %}"),
        ("p", "Ce remboursement est à effectuer au plus tard le {{ d.refund_due.text }}, dans les deux mois suivant "
              "la prise d'effet de la résiliation (ACI, art. 11.3), par virement sur le compte suivant : "
              "[coordonnées bancaires, référence à rappeler]."),
        *CLOSING, ("sign_funders", ""), ("annex", ""),
    ],
}


def build(name: str, blocks: Iterable[Block], out: Path = OUT) -> Path:
    """Write <out>/<name>.docx (templates/letters/ by default)."""
    document = Document()
    _page_setup(document)
    for kind, text in blocks:
        if kind == "sign_funders":
            _signatures(document, ["Pour l'{{ case.ars }},", "Pour la {{ case.cpam }},"])
        elif kind == "sign_commission":
            _signatures(document, ["Pour la {{ case.commission }},"])
        elif kind == "annex":
            _annex(document)
        else:
            _paragraph(document, text, kind)
    footer = document.sections[0].footer.paragraphs[0]
    footer.text = "{{ case.name }} — dossier n° {{ case.id }}"
    footer.runs[0].font.size = Pt(8)
    path = out / f"{name}.docx"
    document.save(str(path))
    return path


def _page_setup(document: DocxDocument) -> None:
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.left_margin = section.right_margin = Cm(2.5)
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10.5)
    normal.paragraph_format.space_after = Pt(6)


def _paragraph(document: DocxDocument, text: str, kind: str) -> None:
    paragraph = document.add_paragraph()
    run = paragraph.add_run(text)  # one run: a tag is never split across runs
    if kind == "b":
        run.bold = True
    elif kind == "i":
        run.italic = True
    elif kind == "right":
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if kind not in ("p", "b", "i", "right", "tag"):
        raise ValueError(f"unknown block kind {kind!r}")


def _signatures(document: DocxDocument, parties: list[str]) -> None:
    """One column per signing party: who, then placeholders for the signatory."""
    table = document.add_table(rows=1, cols=len(parties))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, party in zip(table.rows[0].cells, parties, strict=True):
        cell.paragraphs[0].add_run(party)
        cell.add_paragraph("[Nom, qualité du signataire]")
        cell.add_paragraph("[Signature]")


def _annex(document: DocxDocument) -> None:
    """Every date and amount of the letter with how it is computed: a row per item (docxtpl `{%tr for %}`)."""
    document.add_paragraph().add_run("Annexe — calcul des dates et des montants cités").bold = True
    document.add_paragraph("Chaque date est calculée à partir des événements enregistrés au dossier, selon les règles "
                           "de l'ACI et du code de procédure civile (art. 640 à 642).")
    table = document.add_table(rows=4, cols=3)
    table.style = "Table Grid"
    for cell, heading in zip(table.rows[0].cells, ("Élément", "Valeur", "Calcul"), strict=True):
        cell.paragraphs[0].add_run(heading).bold = True
    table.rows[1].cells[0].paragraphs[0].add_run("{%tr for x in annex %}")
    for cell, text in zip(table.rows[2].cells, ("{{ x.label }}", "{{ x.text }}", "{{ x.explanation }}"), strict=True):
        cell.paragraphs[0].add_run(text)
    table.rows[3].cells[0].paragraphs[0].add_run("{%tr endfor %}")
    widths = (Cm(4.0), Cm(3.5), Cm(8.5))
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = argv or list(LETTERS)
    unknown = [n for n in names if n not in LETTERS]
    if unknown:
        print(f"unknown letter {unknown[0]!r}: expected one of {', '.join(LETTERS)}", file=sys.stderr)
        return 2
    for name in names:
        print(build(name, LETTERS[name]).relative_to(OUT.parents[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
