"""Find the playbooks that fit what a staff member typed, tolerant of typos and word order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from bot.core.playbook import Playbook

# A trigger is written to be matched; a title a little less; a summary is prose, so it weighs least.
WEIGHTS = {"trigger": 1.0, "title": 0.95, "summary": 0.8}


@dataclass(frozen=True)
class Match:
    playbook_id: str
    score: float


@dataclass(frozen=True)
class MatchSettings:
    min_score: float = 60.0  # below this, nothing is offered: "browse all" instead
    autostart_score: float = 88.0  # a clear winner above this starts directly...
    autostart_margin: float = 12.0  # ...when it leads the runner-up by at least this much
    limit: int = 3


class Matcher:
    """Scores every trigger, title and summary in every language with rapidfuzz."""

    def __init__(self, playbooks: Iterable[Playbook], settings: MatchSettings | None = None) -> None:
        self.settings = settings or MatchSettings()
        self._owners: list[tuple[str, float]] = []
        choices: list[str] = []
        for playbook in playbooks:
            for kind, texts in (("trigger", playbook.triggers.all()), ("title", playbook.title.all()),
                                ("summary", playbook.summary.all())):
                for text in texts:
                    processed = utils.default_process(text)
                    if processed:
                        choices.append(processed)
                        self._owners.append((playbook.id, WEIGHTS[kind]))
        self._choices = choices

    def search(self, query: str) -> list[Match]:
        """The best playbooks for `query`, best first, at most `limit`."""
        processed = utils.default_process(query)
        if not processed or not self._choices:
            return []
        cutoff = self.settings.min_score
        hits = process.extract(processed, self._choices, scorer=fuzz.token_set_ratio, processor=None,
                               limit=None, score_cutoff=cutoff * 0.8)
        best: dict[str, float] = {}
        for _, score, index in hits:
            playbook_id, weight = self._owners[index]
            weighted = score * weight
            if weighted > best.get(playbook_id, 0.0):
                best[playbook_id] = weighted
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [Match(pid, round(score, 1)) for pid, score in ranked if score >= cutoff][: self.settings.limit]

    def clear_winner(self, matches: list[Match]) -> Match | None:
        """The match good enough to start without asking, if there is one."""
        if not matches or matches[0].score < self.settings.autostart_score:
            return None
        runner_up = matches[1].score if len(matches) > 1 else 0.0
        return matches[0] if matches[0].score - runner_up >= self.settings.autostart_margin else None
