"""Find the playbooks that fit what a staff member typed, tolerant of typos and word order."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.core.playbook import Playbook
from bot.core.stopwords import STOPWORDS

# A trigger is written to be matched; a title a little less; a summary is prose, so it weighs least.
WEIGHTS = {"trigger": 1.0, "title": 0.95, "summary": 0.8}


@dataclass(frozen=True)
class Match:
    playbook_id: str
    score: float
    exact: float = 0.0  # how nearly the query *is* the best string (token order ignored), 0-100


# Letters that NFKD does not take apart but people write out: "soeur" for "sœur".
_LIGATURES = {"œ": "oe", "æ": "ae"}
# "й" is a letter of its own in Russian ("мой" is not "мои"), not "и" with a breve: it is kept. "ё" is
# folded to "е" (the diaeresis is dropped like any accent) because Russians mostly type "е" for it.
_KEPT = frozenset("й")
_CACHE_LIMIT = 20_000  # distinct characters remembered; beyond that (someone pasting all of Unicode) compute


def _fold_char(char: str) -> str:
    """One character as matching sees it: case-folded, without accents, and a space if not part of a word."""
    folded = char.casefold()  # casefold, not lower: "ß" → "ss"
    out = []
    for part in (folded if folded in _KEPT else unicodedata.normalize("NFKD", folded)):
        if "\u0300" <= part <= "\u036f":
            continue  # a combining accent (é, è, ç, ò, ñ, ё): typed or not, the word is the same
        part = _LIGATURES.get(part, part)
        # Other combining marks (Devanagari vowel signs, Arabic harakat...) are part of the word: kept.
        out.append(part if part.isalnum() or unicodedata.category(part).startswith("M") else " ")
    return "".join(out)


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled the first time each character is seen, so folding a text is one
    C-level pass with a dict lookup per character; unicodedata runs once per distinct character."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = folded
        return folded


_FOLD = _FoldTable()
# Most of what is typed, and every English trigger, is plain ASCII: a bytes table folds it ~8x faster.
_ASCII_FOLD = bytes(c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))


def fold(text: str) -> str:
    """`text` case-folded, accents dropped (Latin scripts, and ё → е), punctuation and apostrophes as spaces.

    "Resò senza SCONTRÌNO" → "reso senza scontrino"; "ВОЗВРАТ, ещё" → "возврат  еще"; "l'article" → "l article".
    Not rapidfuzz's `utils.default_process`: it only lower-cases and blanks non-word characters, so "reçu",
    "resò" and "ё" would stay apart from "recu", "reso" and "е".
    """
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii")
    # NFC first: an accent typed as a separate character ("e" + U+0301) joins its letter and folds with it.
    return unicodedata.normalize("NFC", text).translate(_FOLD)


# Folded like everything else, so "è", "où" or "её" match however they were typed.
_STOPWORDS = frozenset(word for stopword in STOPWORDS for word in fold(stopword).split())


def content_words(text: str) -> str:
    """Folded (case, accents), punctuation-free, without filler words or elisions: what matching compares."""
    return " ".join(word for word in fold(text).split() if len(word) > 1 and word not in _STOPWORDS)


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
