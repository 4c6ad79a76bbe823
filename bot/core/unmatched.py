"""What the floor asks for that no playbook covers: group similar phrases, name a playbook after one.

Pure: no storage, no Telegram. Phrases are grouped by what matching compares (content words), so
"the printer is broken" and "printer is brokn" land with "printer broken".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, utils

from bot.core.matcher import content_words

# A phrase joins a group when similar() to its leader reaches this. token_set_ratio alone scores any phrase
# that shares a word with a short one highly ("printer broken" ~ "printer out of paper": 70); averaging it
# with token_sort_ratio keeps typos and filler together (96) and tells different problems apart (68).
SIMILARITY = 70.0
MAX_VARIANTS = 3
MAX_SLUG = 40  # a playbook id's limit (bot/core/loader.py MAX_ID_LENGTH)
MAX_TRIGGER = 80  # a trigger's limit (bot/core/loader.py)
FALLBACK_SLUG = "new-playbook"


@dataclass(frozen=True)
class Phrase:
    """One recorded phrase; `ref` identifies it to the caller (a row id)."""

    text: str
    at: datetime
    ref: int = 0


@dataclass
class Cluster:
    representative: str  # the most frequent wording, ties by recency
    count: int  # phrases in the group
    last_seen: datetime
    ref: int  # ref of the most recent phrase with the representative wording
    variants: list[str] = field(default_factory=list)  # other wordings, most frequent first, at most MAX_VARIANTS


def _wording(text: str) -> str:
    """Wordings that differ only in case and spacing count as one."""
    return " ".join(text.split()).casefold()


def _key(text: str) -> str:
    """What similarity compares: the content words, else whatever words there are."""
    return content_words(text) or utils.default_process(text) or _wording(text)


@dataclass
class _Group:
    leader: str
    wordings: dict[str, list[Phrase]] = field(default_factory=dict)  # wording → its phrases, newest first

    def size(self) -> int:
        return sum(len(items) for items in self.wordings.values())

    def last_seen(self) -> datetime:
        return max(items[0].at for items in self.wordings.values())


def similar(a: str, b: str) -> float:
    """0-100: how alike two keys are, word order, extra words and small typos tolerated."""
    return (fuzz.token_set_ratio(a, b, processor=None) + fuzz.token_sort_ratio(a, b, processor=None)) / 2


def cluster(phrases: Iterable[Phrase], similarity: float = SIMILARITY) -> list[Cluster]:
    """Group similar phrases (greedy leader clustering), biggest group first, then the most recent."""
    by_wording: dict[str, list[Phrase]] = {}
    for phrase in sorted(phrases, key=lambda p: (p.at, p.ref), reverse=True):
        if phrase.text.strip():
            by_wording.setdefault(_wording(phrase.text), []).append(phrase)
    # Frequent wordings lead: the group forms around what most people typed.
    ordered = sorted(by_wording.items(), key=lambda item: (-len(item[1]), -item[1][0].at.timestamp(), item[0]))
    groups: list[_Group] = []
    for wording, items in ordered:
        key = _key(wording)
        home = next((g for g in groups if g.leader == key or similar(g.leader, key) >= similarity), None)
        if home is None:
            home = _Group(leader=key)
            groups.append(home)
        home.wordings[wording] = items
    clusters = [_summary(group) for group in groups]
    clusters.sort(key=lambda c: (-c.count, -c.last_seen.timestamp(), c.representative))
    return clusters


def _summary(group: _Group) -> Cluster:
    ranked = sorted(group.wordings.values(), key=lambda items: (-len(items), -items[0].at.timestamp()))
    top = ranked[0][0]
    return Cluster(representative=_tidy(top.text), count=group.size(), last_seen=group.last_seen(), ref=top.ref,
                   variants=[_tidy(items[0].text) for items in ranked[1:1 + MAX_VARIANTS]])


def _tidy(text: str) -> str:
    return " ".join(text.split())


def slugify(text: str, taken: Collection[str] = (), limit: int = MAX_SLUG) -> str:
    """A playbook id from a phrase: a-z, 0-9 and '-', at most `limit` characters, not one of `taken`."""
    words = content_words(text) or text
    ascii_text = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    slug = _shorten(slug, limit) or FALLBACK_SLUG
    candidate, number = slug, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = _shorten(slug, limit - len(suffix)) + suffix
    return candidate


def _shorten(slug: str, limit: int) -> str:
    if len(slug) <= limit:
        return slug
    cut = slug[:limit + 1]
    cut = cut[:cut.rfind("-")] if "-" in cut[:limit] else slug[:limit]  # whole words when there is a break
    return cut.strip("-")


def trigger_text(text: str, limit: int = MAX_TRIGGER) -> str:
    """The phrase as a valid trigger: printable characters only, one line, at most `limit` characters."""
    clean = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    if len(clean) <= limit:
        return clean
    cut = clean[:limit]
    return (cut[:cut.rfind(" ")] if " " in cut else cut).rstrip()
