"""The application's use cases: each runs in one unit of work (`workflows.persistence.unit_of_work`).

Entrypoints (CLI, scheduler, web) call these and the read models in `workflows.read`, never the database.
"""

from workflows.persistence.errors import ConcurrentModification, UnknownCase
from workflows.services.cases import ApplyResult, NewEvent, apply, create_case, void
from workflows.services.sweep import SweepReport, sweep

__all__ = [
    "ApplyResult",
    "ConcurrentModification",
    "NewEvent",
    "SweepReport",
    "UnknownCase",
    "apply",
    "create_case",
    "sweep",
    "void",
]
