"""French words for the engine's codes (states, statuses, events, payment components, roles, notifications), in
one place: every page says a code with the same words.

Deadline labels come from the ruleset (each row has its French `label`); these are the rest.
"""

from __future__ import annotations

STATE_LABELS = {
    "new": "Nouveau dossier",
    "prospect": "Premier contact",
    "accompanied": "Accompagnement",
    "loi_submitted": "Lettre d'intention déposée",
    "loi_validated": "Lettre d'intention validée",
    "health_project_submitted": "Projet de santé déposé",
    "health_project_opposed": "Projet de santé refusé",
    "health_project_validated": "Projet de santé validé",
    "adhesion_requested": "Adhésion demandée",
    "contract_refused": "Contrat refusé",
    "contracted": "Sous contrat",
    "termination_pending": "Résiliation en cours",
    "termination_suspended": "Résiliation suspendue (CPL)",
    "terminated": "Résilié",
    "expired": "Contrat échu",
    "abandoned": "Abandonné",
}
# Badge tones: neutral, info, success, warning, danger.
STATE_TONES = {
    "contracted": "success", "health_project_validated": "success", "loi_validated": "info",
    "termination_pending": "warning", "termination_suspended": "warning", "health_project_opposed": "danger",
    "contract_refused": "danger", "terminated": "danger", "abandoned": "neutral", "expired": "neutral",
}

# Lifecycle phases (portfolio counts, the case page's stepper): prospect → LOI → projet de santé → contrat →
# missions déployées → résilié. "Missions déployées" is a contract whose socle missions are all deployed.
PHASES = ("prospect", "loi", "health_project", "contract", "deployed", "ended")
PHASE_LABELS = {
    "prospect": "Prospect", "loi": "Lettre d'intention", "health_project": "Projet de santé", "contract": "Contrat",
    "deployed": "Missions déployées", "ended": "Résilié ou terminé",
}
STATE_PHASES = {
    "new": "prospect", "prospect": "prospect", "accompanied": "prospect",
    "loi_submitted": "loi", "loi_validated": "loi",
    "health_project_submitted": "health_project", "health_project_opposed": "health_project",
    "health_project_validated": "health_project", "adhesion_requested": "health_project",
    "contract_refused": "health_project",
    "contracted": "contract", "termination_pending": "contract", "termination_suspended": "contract",
    "terminated": "ended", "expired": "ended", "abandoned": "ended",
}

# Deadline statuses; `overdue` and `window_closed` are a pending row past its date that the sweep has not yet
# recorded as breached or elapsed (workflows.read.deadlines.status_as_of).
STATUS_LABELS = {
    "pending": "À venir", "overdue": "En retard", "met": "Respectée", "met_late": "Respectée en retard",
    "breached": "Dépassée", "elapsed": "Délai écoulé", "window_closed": "Délai écoulé", "cancelled": "Annulée",
}
STATUS_TONES = {"pending": "info", "overdue": "warning", "met": "success", "met_late": "warning",
                "breached": "danger", "elapsed": "neutral", "window_closed": "warning", "cancelled": "neutral"}

# Deadline kinds (SPEC §6): only a procedural deadline rolls over non-working days.
KIND_LABELS = {"procedural": "Délai de procédure", "effect": "Date d'effet", "contractual": "Échéance contractuelle",
               "service": "Délai de service"}

# Who must act before a deadline (the ruleset's `actor`).
ACTOR_LABELS = {"binome": "Binôme ARS/CPAM", "ars": "ARS", "am": "Assurance maladie", "cpts": "CPTS",
                "cpl": "CPL (secrétariat)", "funders": "Financeurs (ARS et Assurance maladie)",
                "none": "Personne : date d'effet"}

PAYMENT_STATUS_LABELS = {
    "paid": "Payé", "partially_paid": "Payé en partie", "due": "À payer", "overdue": "En retard",
    "scheduled": "Prévu", "cancelled": "Annulé", "awaiting_assessment": "En attente d'évaluation",
}
PAYMENT_STATUS_TONES = {"paid": "success", "partially_paid": "info", "overdue": "danger", "due": "warning",
                        "cancelled": "neutral"}

# Échéancier components (SPEC §7): "fonctionnement.advance", "<mission>.fixed.balance", "<mission>.variable",
# "refund"; see `component_label`.
COMPONENT_PARTS = {"advance": "avance", "balance": "solde", "fixed.advance": "part fixe, avance",
                   "fixed.balance": "part fixe, solde", "variable": "part variable",
                   "complement": "complément (hausse de l'avenant 2)"}

# Notifications of the outbox: their status and what they are.
OUTBOX_STATUS_LABELS = {"pending": "En attente", "sending": "En cours d'envoi", "sent": "Envoyée",
                        "dead": "Échec définitif", "unaddressed": "Sans destinataire"}
OUTBOX_STATUS_TONES = {"pending": "info", "sending": "info", "sent": "success", "dead": "danger",
                       "unaddressed": "warning"}
OUTBOX_KIND_LABELS = {"reminder": "Rappel", "breach": "Échéance dépassée", "digest": "Récapitulatif du référent"}

# Who is signed in, as the header says it.
ROLE_NAMES = {"ars": "agent ARS", "cpam": "agent CPAM", "legal": "service juridique", "national": "niveau national",
              "admin": "administrateur"}
ROLE_LABELS = {"binome": "binôme ARS/CPAM", "ars": "ARS", "cpam": "CPAM", "am": "Assurance maladie",
               "cpts": "CPTS", "legal": "service juridique", "national": "niveau national",
               "admin": "administrateur", "funders": "financeurs (ARS et CPAM)", "cpl": "CPL"}

EVENT_LABELS = {
    "contact_recorded": "Premier contact enregistré",
    "first_meeting_held": "Premier rendez-vous tenu",
    "loi_submitted": "Lettre d'intention reçue",
    "loi_decision": "Décision sur la lettre d'intention",
    "fir_granted": "Financement FIR accordé",
    "fir_followup_meeting_held": "Réunion de suivi FIR tenue",
    "fir_renewed": "Financement FIR renouvelé",
    "health_project_received": "Projet de santé reçu",
    "health_project_opposed": "Opposition au projet de santé",
    "health_project_validated": "Projet de santé validé",
    "health_project_tacitly_validated": "Projet de santé validé tacitement",
    "adhesion_requested": "Demande d'adhésion au contrat",
    "contract_refusal_received": "Refus de contrat notifié",
    "contract_signed": "Contrat tripartite signé",
    "mission_started": "Mission démarrée",
    "mission_deployed": "Mission déployée",
    "annual_review_held": "Réunion annuelle tenue",
    "indicators_reported": "Indicateurs transmis",
    "members_list_updated": "Liste des membres mise à jour",
    "avenant_signed": "Avenant signé",
    "payment_recorded": "Paiement enregistré",
    "termination_notice_received": "Résiliation notifiée",
    "cpl_referral_received": "Saisine de la CPL reçue",
    "cpl_meeting_scheduled": "Réunion de la CPL fixée",
    "cpl_convocations_sent": "Convocations à la CPL envoyées",
    "cpl_agenda_sent": "Ordre du jour de la CPL envoyé",
    "cpl_carence_recorded": "Carence d'une section de la CPL constatée",
    "cpl_meeting_held": "Réunion de la CPL tenue",
    "cpl_opinion_notified": "Avis de la CPL notifié",
    "cpl_opinion_deemed": "Avis de la CPL réputé rendu",
    "cpl_minutes_signed": "Relevé de décisions de la CPL signé",
    "funders_decision_notified": "Décision des financeurs notifiée",
    "termination_effective": "Résiliation effective",
    "contract_expired": "Contrat arrivé à échéance",
    "refund_received": "Remboursement reçu",
    "project_abandoned": "Projet abandonné",
    "event_voided": "Saisie annulée",
}

MISSION_LABELS = {"access": "Accès aux soins", "parcours": "Parcours pluri-professionnels",
                  "prevention": "Prévention", "quality": "Qualité et pertinence",
                  "support": "Accompagnement des professionnels",
                  "crisis": "Réponse aux crises sanitaires graves"}


def component_label(component: str) -> str:
    """An échéancier component in French: "Fonctionnement — avance", "Accès aux soins — part fixe, solde",
    "Remboursement du trop-perçu"."""
    if component == "refund":
        return "Remboursement du trop-perçu"
    if component == "loi_support":
        return "Soutien dès la lettre d'intention"
    head, _, part = component.partition(".")
    name = "Fonctionnement" if head == "fonctionnement" else MISSION_LABELS.get(head, head)
    return f"{name} — {COMPONENT_PARTS.get(part, part)}" if part else name

# The event form: the data keys of SPEC §11 as fields, and the values of its choices.
FIELD_LABELS = {
    "source": "Origine du premier contact",
    "orientations": "Orientations de la lettre d'intention",
    "party": "Partie qui décide",
    "decision": "Décision",
    "amount": "Montant (€)",
    "grounds": "Motif",
    "documents": "Pièces du dossier reçues",
    "missions": "Missions optionnelles retenues",
    "snp_compensation": "Compensation des soins non programmés (SNP)",
    "snp_orientation": "Service d'orientation des soins non programmés",
    "population": "Population couverte (habitants)",
    "mission": "Mission",
    "year": "Année du contrat",
    "add_missions": "Missions optionnelles ajoutées",
    "drop_missions": "Missions optionnelles retirées",
    "component": "Composante de l'échéancier",
    "initiator": "À l'initiative de",
    "subject": "Objet de la saisine",
    "date": "Date de la réunion",
    "opinion": "Avis de la CPL",
    "outcome": "Décision des financeurs",
    "reason": "Motif",
    "seq": "Saisie annulée",
    "present": "Membres présents par section (JSON)",
    "represented": "Membres représentés par section (JSON)",
    "proxies": "Délégations de vote (JSON)",
    "votes": "Vote (JSON)",
    "second_vote": "Second vote, à bulletin secret (JSON)",
    "seats": "Sièges de la CPL par section",
    "section": "Section à l'origine de la carence",
}
# Where the same key means something else for one event.
EVENT_FIELD_LABELS = {
    ("indicators_reported", "missions"): "Indicateurs par mission (JSON)",
    ("health_project_opposed", "grounds"): "Motif de l'opposition",
    ("termination_notice_received", "grounds"): "Motif de la résiliation",
    ("fir_granted", "amount"): "Montant accordé (€)",
    ("fir_renewed", "amount"): "Montant accordé (€)",
    ("payment_recorded", "amount"): "Montant payé (€)",
    ("refund_received", "amount"): "Montant remboursé (€)",
    ("project_abandoned", "reason"): "Motif de l'abandon",
    ("cpl_carence_recorded", "reason"): "Motif du constat de carence",
}
CHOICE_LABELS: dict[str, dict[str, str]] = {
    "source": {"ars": "ARS", "cpam": "CPAM", "msa": "MSA", "porteur": "Porteurs du projet"},
    "party": {"ars": "ARS", "am": "Assurance maladie"},
    "decision": {"approve": "Approbation", "reject": "Rejet"},
    "grounds": {"prs_objectives": "Non-conformité aux objectifs du PRS", "territory": "Territoire déjà couvert",
                "non_compliance": "Manquement aux engagements du contrat",
                "ineligible": "Conditions d'éligibilité non remplies"},
    "initiator": {"cpts": "La CPTS", "funders": "Les financeurs (ARS et CPAM)"},
    "subject": {"termination": "Résiliation du contrat", "contract_refusal": "Refus de contrat"},
    "opinion": {"favourable": "Favorable", "unfavourable": "Défavorable",
                "no_agreement": "Absence d'accord (partage des voix maintenu)"},
    "section": {"professional": "Section professionnelle", "social": "Section sociale"},
    "outcome": {"maintained": "Décision maintenue", "withdrawn": "Résiliation retirée",
                "granted": "Contrat accordé"},
    "mission": MISSION_LABELS,
    "documents": {"health_project": "Projet de santé", "statutes": "Statuts", "territory": "Territoire",
                  "members": "Liste des membres"},
}
