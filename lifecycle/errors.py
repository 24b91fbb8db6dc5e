"""Domain errors: each message says what is wrong and what would be right."""

from __future__ import annotations

from datetime import date


class DomainError(Exception):
    """Base class of every error a user can act on; the CLI prints it on one line and exits 2."""


class CalendarError(DomainError):
    """A date, period or département the legal calendar cannot use."""


class RulesetError(DomainError):
    """A ruleset file that is malformed or inconsistent (names the file, the key and the problem)."""

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = path, key, problem
        super().__init__(f"{path}: {key}: {problem}")


class UnknownCommunes(DomainError):
    """INSEE codes that are not current communes."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        listed = ", ".join(codes[:20]) + (f" … ({len(codes)} in all)" if len(codes) > 20 else "")
        super().__init__(
            f"unknown INSEE commune code(s): {listed}; expected current communes' 5-character codes "
            "such as 57463 (Metz) or 2A004 (Ajaccio)"
        )


class EventRejected(DomainError):
    """An event whose type, data or date is not acceptable (before any state-machine check)."""


class TransitionRejected(DomainError):
    """An event the lifecycle does not allow in the case's current state, or whose guard fails."""


class WindowClosed(TransitionRejected):
    """A refusal because the window the act belonged to has closed.

    Attributes:
        window: the deadline key of the window (`termination_cpl_window`, …).
        closed_on: the window's last day.
    """

    def __init__(self, message: str, *, window: str, closed_on: date) -> None:
        self.window, self.closed_on = window, closed_on
        super().__init__(message)


class DuplicateDeadline(DomainError):
    """A replay that would open a second deadline with the identity (key and anchor date) of one already open.

    The lifecycle's guards refuse the events that would do so; this is the projection's last safeguard, so that
    no two deadline rows of a case share an identity."""
