"""A reminder of the ARS's opposition window, shared by the rendering and delivery tests."""

from __future__ import annotations

from datetime import date

from notifications.model import Notice, Recipient

ARS = Recipient("Élise Martin", "elise.martin@ars.example.fr", "ars")
CPAM = Recipient("Paul Durand", "paul.durand@cpam.example.fr", "cpam")

# Health project received by the ARS on 18 Feb 2025 (seat 34): tacitly validated unless opposed by 18 Apr 2025.
OPPOSITION_REMINDER = Notice(
    case_id="cpts-34-lunel",
    case_name="CPTS du Pays de Lunel",
    departement="34",
    deadline_key="health_project_opposition",
    deadline_label="délai d'opposition de l'ARS au projet de santé",
    due=date(2025, 4, 18),
    explanation="projet de santé reçu le 18 février 2025 ; deux mois après : vendredi 18 avril 2025",
    kind="reminder",
    offset_days=30,
    on=date(2025, 3, 19),
    anchor_key="health_project_opposition:2025-02-18",
    recipients=(ARS, CPAM),
    status_url="https://cpts.example.fr/cases/cpts-34-lunel",
)
