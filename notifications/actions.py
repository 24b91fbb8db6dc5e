"""What the recipients should do, per deadline key family (SPEC §5, §8, §10).

Texts are `str.format` templates; `{due}` is the due date in French ("lundi 12 mai 2025").
`before` is used in reminders, `after` in breach notices. Keys are deadline key prefixes: the
most specific one wins (`mission_start.access`, then `mission_start`), else the generic text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    before: str
    after: str


GENERIC = Action(
    before="Vérifier l'état du dossier et enregistrer l'acte attendu au plus tard le {due}.",
    after=(
        "L'échéance du {due} est dépassée : vérifier l'état du dossier et enregistrer l'acte accompli "
        "ou les suites données."
    ),
)

ACTIONS: dict[str, Action] = {
    "first_meeting": Action(
        before=(
            "Organiser le premier rendez-vous avec les porteurs de projet au plus tard le {due} "
            "(instruction DGOS/DIR/CNAM/2019/218, § 2) et l'enregistrer dans le dossier."
        ),
        after=(
            "Aucun premier rendez-vous n'a été enregistré : le tenir sans délai avec les porteurs de projet, "
            "ou enregistrer la date à laquelle il a eu lieu."
        ),
    ),
    "fir_followup_meeting": Action(
        before=(
            "Tenir avec la CPTS la réunion de suivi du financement FIR au plus tard le {due} "
            "(instruction, § 5) et l'enregistrer dans le dossier."
        ),
        after=(
            "La réunion de suivi du financement FIR n'a pas été enregistrée : la programmer avec la CPTS, "
            "ou enregistrer la date à laquelle elle s'est tenue."
        ),
    ),
    "fir_renewal": Action(
        before=(
            "Statuer avant le {due} sur le renouvellement du financement FIR ou sur son relais par le "
            "contrat conventionnel (instruction, § 4)."
        ),
        after=(
            "Le financement FIR n'a été ni renouvelé ni relayé par un contrat : statuer sans délai sur la "
            "suite du financement de la CPTS."
        ),
    ),
    "health_project_opposition": Action(
        before=(
            "Si l'ARS entend s'opposer au projet de santé, la décision motivée doit être notifiée au plus "
            "tard le {due} ; à défaut le projet est réputé validé (instruction, § 6)."
        ),
        after=(
            "Aucune opposition n'a été enregistrée dans le délai : le projet de santé est réputé validé à "
            "l'expiration du délai, le {due}. Si une opposition a été notifiée à temps, l'enregistrer avec "
            "sa date de notification."
        ),
    ),
    "contract_refusal_cpl_window": Action(
        before=(
            "La CPTS peut saisir la commission paritaire locale (CPL) du refus de contrat jusqu'au {due} "
            "(ACI art. 12.4.1). Enregistrer toute saisine dès sa réception, la date de réception faisant "
            "foi ; passé ce délai, le refus devient définitif."
        ),
        after=(
            "Aucune saisine de la CPL n'a été enregistrée dans le délai expiré le {due} : le refus de "
            "contrat est devenu définitif. Vérifier qu'aucune saisine reçue à temps n'a été omise."
        ),
    ),
    "mission_start": Action(
        before=(
            "Vérifier avec la CPTS le démarrage effectif de la mission avant le {due} (ACI art. 6) et "
            "l'enregistrer dans le dossier."
        ),
        after=(
            "Le démarrage de la mission n'a pas été constaté à l'échéance du {due}. Vérifier avec la CPTS "
            "où en est la mission ; une mission non mise en œuvre peut constituer un manquement manifeste "
            "aux engagements du contrat et fonder une résiliation par l'ARS et la CPAM (ACI art. 11). "
            "Le service juridique est informé."
        ),
    ),
    "mission_deployment": Action(
        before=(
            "Vérifier avec la CPTS le déploiement effectif de la mission avant le {due} (ACI art. 6) et "
            "l'enregistrer dans le dossier."
        ),
        after=(
            "Le déploiement de la mission n'a pas été constaté à l'échéance du {due}. Faire le point avec "
            "la CPTS ; une mission non mise en œuvre peut constituer un manquement manifeste aux "
            "engagements du contrat et fonder une résiliation par l'ARS et la CPAM (ACI art. 11). "
            "Le service juridique est informé."
        ),
    ),
    "annual_review": Action(
        before=(
            "Tenir avec la CPTS la réunion annuelle de suivi du contrat (missions, indicateurs, "
            "financement) au plus tard le {due}, puis l'enregistrer dans le dossier."
        ),
        after=(
            "La réunion annuelle de suivi n'a pas été enregistrée : la programmer avec la CPTS sans délai, "
            "ou enregistrer la date à laquelle elle s'est tenue."
        ),
    ),
    "members_update": Action(
        before=(
            "Obtenir de la CPTS la liste à jour de ses membres au plus tard le {due} (contrat type, "
            "art. 1) et enregistrer sa réception."
        ),
        after="La liste à jour des membres n'a pas été reçue : la demander à la CPTS.",
    ),
    "contract_end": Action(
        before=(
            "Le contrat tripartite prend fin le {due}, cinq ans après sa signature (ACI art. 4). Préparer "
            "avec la CPTS le bilan du contrat et les suites à lui donner."
        ),
        after=(
            "Le contrat tripartite a pris fin le {due} : arrêter les versements et clore le suivi du contrat."
        ),
    ),
    "termination_effective": Action(
        before=(
            "La résiliation prendra effet le {due}, deux mois après la réception de sa notification "
            "(ACI art. 11), sauf saisine de la CPL par la CPTS, qui en suspend l'effet (ACI art. 11.2). "
            "Préparer l'arrêt des versements et le calcul au prorata des sommes dues."
        ),
        after=(
            "La résiliation a pris effet le {due}. Arrêter les versements, calculer au prorata les sommes "
            "dues et, s'il y a lieu, demander à la CPTS le remboursement du trop-perçu (ACI art. 11.3)."
        ),
    ),
    "termination_cpl_window": Action(
        before=(
            "La CPTS peut saisir la CPL de la résiliation jusqu'au {due} ; la saisine suspend la prise "
            "d'effet de la résiliation (ACI art. 11.2). Enregistrer toute saisine dès sa réception, la date "
            "de réception faisant foi."
        ),
        after=(
            "Aucune saisine de la CPL n'a été enregistrée dans le délai expiré le {due} : une saisine "
            "ultérieure n'est plus recevable et la résiliation produit ses effets à la date prévue."
        ),
    ),
    "cpl_meeting": Action(
        before=(
            "La CPL saisie doit se réunir au plus tard le {due}, dans les deux mois de la saisine "
            "(ACI art. 12.4.2). Fixer la date de la réunion en tenant compte des délais d'envoi des "
            "convocations et de l'ordre du jour (règlement intérieur, art. 1.2)."
        ),
        after=(
            "La CPL ne s'est pas réunie dans les deux mois de la saisine (échéance du {due}) : la réunir "
            "sans délai et consigner au dossier la cause du retard."
        ),
    ),
    "cpl_convocation": Action(
        before=(
            "Adresser les convocations aux membres de la CPL au plus tard le {due}, quinze jours au moins "
            "avant la réunion (règlement intérieur, art. 1.2)."
        ),
        after=(
            "Les convocations n'ont pas été adressées quinze jours au moins avant la réunion : envisager "
            "de reporter la réunion afin de préserver la régularité de l'avis de la CPL."
        ),
    ),
    "cpl_agenda": Action(
        before=(
            "Adresser l'ordre du jour de la CPL et les pièces du dossier au plus tard le {due}, cinq jours "
            "au moins avant la réunion (règlement intérieur, art. 1.2)."
        ),
        after=(
            "L'ordre du jour n'a pas été adressé cinq jours au moins avant la réunion : envisager de "
            "reporter la réunion afin de préserver la régularité de l'avis de la CPL."
        ),
    ),
    "cpl_opinion": Action(
        before=(
            "La CPL doit rendre son avis au plus tard le {due}, dans les trente jours de sa réunion ; à "
            "défaut l'avis est réputé rendu (ACI art. 12.4.2)."
        ),
        after=(
            "Aucun avis n'a été notifié dans les trente jours de la réunion : l'avis de la CPL est réputé "
            "rendu le {due}, et le délai de trente jours ouvert à l'ARS et à la CPAM pour notifier leur "
            "nouvelle décision court à compter de cette date."
        ),
    ),
    "funders_new_decision": Action(
        before=(
            "L'ARS et la CPAM doivent notifier à la CPTS leur nouvelle décision, accompagnée de l'avis de "
            "la CPL, au plus tard le {due} (ACI art. 12.4.2)."
        ),
        after=(
            "La nouvelle décision de l'ARS et de la CPAM n'a pas été enregistrée à l'échéance du {due} : "
            "la notifier sans délai à la CPTS, avec l'avis de la CPL joint, et enregistrer la date de "
            "notification."
        ),
    ),
    "cpl_minutes": Action(
        before=(
            "Établir et diffuser le relevé de décisions de la CPL au plus tard le {due}, dans les deux mois "
            "de la réunion (règlement intérieur, art. 2)."
        ),
        after=(
            "Le relevé de décisions de la CPL n'a pas été diffusé dans les deux mois : l'établir sans délai."
        ),
    ),
    "cpl_carence_window": Action(
        before=(
            "La section à l'origine de la carence doit y remédier au plus tard le {due} (règlement intérieur, "
            "art. 4) ; à défaut, l'autre section exercera seule les attributions de la CPL."
        ),
        after=(
            "La carence n'a pas été levée au {due} : la section qui n'en est pas à l'origine exerce désormais seule "
            "les attributions de la CPL (règlement intérieur, art. 4)."
        ),
    ),
    "refund": Action(
        before=(
            "La CPTS doit rembourser le trop-perçu au plus tard le {due} (ACI art. 11.3). Vérifier la "
            "réception du remboursement et l'enregistrer dans le dossier."
        ),
        after=(
            "Le remboursement du trop-perçu n'a pas été enregistré à l'échéance du {due} : relancer la "
            "CPTS et, à défaut de paiement, engager le recouvrement selon les procédures de la CPAM."
        ),
    ),
}


def action_for(deadline_key: str) -> Action:
    """The action texts of the most specific known prefix of `deadline_key` ('a.b.c' → 'a.b' → 'a')."""
    parts = deadline_key.split(".")
    for end in range(len(parts), 0, -1):
        action = ACTIONS.get(".".join(parts[:end]))
        if action is not None:
            return action
    return GENERIC
