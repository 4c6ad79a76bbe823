"""The live set of playbooks, plus every older version a conversation or decision may still refer to."""

from __future__ import annotations

from bot.core.matcher import Matcher, MatchSettings
from bot.core.playbook import Playbook


class Catalog:
    def __init__(self, playbooks: list[Playbook], match_settings: MatchSettings | None = None) -> None:
        self._match_settings = match_settings
        self._live: dict[str, Playbook] = {}
        self._versions: dict[tuple[str, str], Playbook] = {}
        self.matcher = Matcher([], match_settings)
        self.replace(playbooks)

    def replace(self, playbooks: list[Playbook]) -> None:
        """Make `playbooks` the live set; older versions stay reachable for flows still on them."""
        self._live = {p.id: p for p in playbooks}
        for playbook in playbooks:
            self._versions[(playbook.id, playbook.version)] = playbook
        self.matcher = Matcher(self._live.values(), self._match_settings)

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
