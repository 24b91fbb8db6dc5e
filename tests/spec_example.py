"""SPEC §7's worked example, copied from the SPEC as literals, shared by the payment and finance tests; and the
documents the tests' adhesion requests file (`ALL_DOCUMENTS`), shared by every test file."""

ALL_DOCUMENTS = {"documents": ["health_project", "statutes", "territory", "members"]}

# (date, event, data): the worked example's case from its first contact to the contract signed on 2024-03-15
# and its access mission started on 2024-06-03 (fonctionnement 60 000.00 at signature, access advance 17 275.68).
SIGNED_2024_03_15 = (
    ("2023-09-04", "contact_recorded", {"source": "cpam"}),
    ("2023-09-11", "first_meeting_held", {}),
    ("2023-10-02", "loi_submitted", {}),
    ("2023-10-16", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2023-10-17", "loi_decision", {"party": "am", "decision": "approve"}),
    ("2023-11-06", "health_project_received", {}),
    ("2023-12-04", "health_project_validated", {}),
    ("2024-01-08", "adhesion_requested", ALL_DOCUMENTS),
    ("2024-03-15", "contract_signed", {}),
    ("2024-06-03", "mission_started", {"mission": "access"}),
)

# (due, component, year, amount): every line the SPEC lists for the contract signed 2024-03-15 (seat 01,
# size 2, SNP compensation; access 2024-06-03, quality 2024-09-02, parcours 2025-01-06, prevention 2025-03-15;
# year-1 attainment access 0.8, quality 1.0, parcours 0.5).
WORKED_EXAMPLE_LINES = (
    ("2024-03-15", "fonctionnement.advance", 1, "60000.00"),
    ("2024-06-03", "access.fixed.advance", 1, "17275.68"),
    ("2024-09-02", "quality.fixed.advance", 1, "3986.30"),
    ("2025-01-06", "parcours.fixed.advance", 1, "4890.41"),
    ("2025-03-15", "fonctionnement.advance", 2, "45000.00"),
    ("2025-03-15", "prevention.fixed.advance", 2, "11250.00"),
    ("2025-05-15", "access.fixed.balance", 1, "5758.56"),
    ("2025-05-15", "access.variable", 1, "10931.51"),
    ("2025-05-15", "access.fixed.advance", 2, "22125.00"),
    ("2025-05-15", "quality.fixed.balance", 1, "1328.77"),
    ("2025-05-15", "quality.variable", 1, "5315.07"),
    ("2025-05-15", "quality.fixed.advance", 2, "7500.00"),
    ("2025-05-15", "parcours.fixed.balance", 1, "1630.14"),
    ("2025-05-15", "parcours.variable", 1, "3260.27"),
    ("2025-05-15", "parcours.fixed.advance", 2, "26250.00"),
)
