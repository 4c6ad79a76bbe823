"""Find the playbooks that fit what a staff member typed, tolerant of typos and word order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from bot.core.playbook import Playbook
from bot.core.stopwords import STOPWORDS

# A trigger is written to be matched; a title a little less; a summary is prose, so it weighs least.
WEIGHTS = {"trigger": 1.0, "title": 0.95, "summary": 0.8}


@dataclass(frozen=True)
class Match:
    playbook_id: str
    score: float
    exact: float = 0.0  # how nearly the query *is* the best string (token order ignored), 0-100


def content_words(text: str) -> str:
    """Lower-case, punctuation-free, without filler words: what matching compares."""
    return " ".join(word for word in utils.default_process(text).split()
                    if len(word) > 1 and word not in STOPWORDS)


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
                    processed = content_words(text)
                    if processed:
                        choices.append(processed)
                        self._owners.append((playbook.id, WEIGHTS[kind]))
        self._choices = choices

    def search(self, query: str) -> list[Match]:
        """The best playbooks for `query`, best first, at most `limit`."""
        processed = content_words(query)
        if not processed or not self._choices:
            return []
        cutoff = self.settings.min_score
        # token_set_ratio scores 100 when every word of a trigger appears in the query, in any order,
        # and tolerates typos through its edit-distance core.
        hits = process.extract(processed, self._choices, scorer=fuzz.token_set_ratio, processor=None,
                               limit=None, score_cutoff=cutoff * 0.8)
        best: dict[str, tuple[float, int]] = {}
        for _, score, index in hits:
            playbook_id, weight = self._owners[index]
            weighted = score * weight
            if weighted > best.get(playbook_id, (0.0, -1))[0]:
                best[playbook_id] = (weighted, index)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
        return [Match(pid, round(score, 1), round(fuzz.token_sort_ratio(processed, self._choices[index]), 1))
                for pid, (score, index) in ranked if score >= cutoff][: self.settings.limit]

    def clear_winner(self, matches: list[Match], query: str | None = None) -> Match | None:
        """The match good enough to start without asking, if there is one.

        A one-word query ("customer") is contained in many strings; it starts a playbook only when
        it is nearly the whole trigger ("overbooked"), otherwise the person picks.
        """
        if not matches or matches[0].score < self.settings.autostart_score:
            return None
        runner_up = matches[1].score if len(matches) > 1 else 0.0
        if matches[0].score - runner_up < self.settings.autostart_margin:
            return None
        if query is not None and len(content_words(query).split()) < 2 and matches[0].exact < 85:
            return None
        return matches[0]
