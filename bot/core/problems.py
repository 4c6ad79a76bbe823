"""Validation problems that point at a file, a line and a column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class PlaybookLoadError(Exception):
    """Raised when shipped playbooks are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        files = sorted({p.file for p in problems if p.severity == "error"})
        super().__init__(f"{len(problems)} problem(s) in {', '.join(files)}")
