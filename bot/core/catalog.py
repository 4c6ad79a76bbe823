"""The live set of playbooks, plus every older version a conversation or decision may still refer to."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.matcher import Matcher, MatchSettings
from bot.core.playbook import Playbook

# What identifies a live set: (playbook id, version, category) of each live playbook.
Signature = frozenset[tuple[str, str, str]]


class Catalog:
    def __init__(self, playbooks: list[Playbook], match_settings: MatchSettings | None = None) -> None:
        self._match_settings = match_settings
        self._live: dict[str, Playbook] = {}
        self._versions: dict[tuple[str, str], Playbook] = {}
        self.matcher = Matcher([], match_settings)
        # Bumped by every replace: a reload prepared elsewhere can tell the live set changed under it.
        self.generation = 0
        self.replace(playbooks)

    def matcher_for(self, playbooks: Iterable[Playbook]) -> Matcher:
        """A matcher over `playbooks` that touches nothing here, so it may be built in a worker thread."""
        return Matcher(playbooks, self._match_settings)

    def replace(self, playbooks: list[Playbook], matcher: Matcher | None = None) -> None:
        """Make `playbooks` the live set; older versions stay reachable for flows still on them.

        No await inside: the live set and its matcher change together for whoever reads them next. `matcher`
        (from matcher_for over the same playbooks) saves building it here, on the event loop."""
        live = {p.id: p for p in playbooks}
        if matcher is None:
            matcher = self.matcher_for(live.values())
        for playbook in playbooks:
            self._versions[(playbook.id, playbook.version)] = playbook
        self._live, self.matcher = live, matcher
        self.generation += 1

    def signature(self) -> Signature:
        """The live set as storage.playbooks.live_marker reports it, to tell whether a reload is needed."""
        return frozenset((p.id, p.version, p.category) for p in self._live.values())

    def live(self, playbook_id: str) -> Playbook | None:
        return self._live.get(playbook_id)

    def version(self, playbook_id: str, version: str) -> Playbook | None:
        return self._versions.get((playbook_id, version))

    def remember(self, playbook: Playbook) -> None:
        self._versions[(playbook.id, playbook.version)] = playbook

    def all(self) -> list[Playbook]:
        return sorted(self._live.values(), key=lambda p: (p.category, p.title.get()))

    def categories(self) -> list[str]:
        return sorted({p.category for p in self._live.values()})

    def in_category(self, category: str) -> list[Playbook]:
        return [p for p in self.all() if p.category == category]

    def __len__(self) -> int:
        return len(self._live)
