"""One error family. Every message names the record and the problem, in a planner's words."""
from __future__ import annotations


class PianquError(Exception):
    """Base of every error Pianqu raises on purpose; the CLI exits 2 on it, the API answers 4xx."""

    status = 400


class InputError(PianquError):
    """Bad input: a file, a row, a parameter. Nothing has been written when it is raised."""

    status = 422

    def __init__(self, problem: str, *, source: str | None = None, row: int | None = None,
                 record: str | None = None, problems: list[str] | None = None):
        self.problem, self.source, self.row, self.record = problem, source, row, record
        self.problems = problems or [problem]
        where = []
        if source:
            where.append(source)
        if row is not None:
            where.append(f"row {row:,}")
        if record is not None:
            where.append(f"(id {record})")
        head = " ".join(where)
        super().__init__(f"{head}: {problem}" if head else problem)


class NotFound(PianquError):
    status = 404


class Conflict(PianquError):
    status = 409


class Forbidden(PianquError):
    """The caller may not do this to this record (a manager acting on another manager's ticket)."""

    status = 403
