"""Playbook authoring: check an upload, publish it live at once, roll back, retire; sync the playbooks folder.

Who wins between the playbooks folder and the bot: the live version is always the newest *published*
one. At start (and on `moments playbooks sync`) a file whose content differs from the last version that
came from a file is published — unless the live version is a newer upload or roll back made through the
bot: then the bot's version stays live and a warning names the file (`moments playbooks sync --force`
publishes the files anyway). A file that did not change never overrides the bot.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.diff import PlaybookDiff, diff_playbooks
from bot.core.examples import failures, run_examples
from bot.core.loader import parse_playbook
from bot.core.moments import MomentService
from bot.core.people import Person
from bot.core.playbook import Playbook
from bot.core.problems import N_, Problem
from storage import playbooks as store
from storage.db import Database
from storage.models import PlaybookDraft, PlaybookPublication, PlaybookState
from storage.types import utcnow

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 256 * 1024
MAX_SHOWN_PROBLEMS = 20
USE_WINDOW = timedelta(days=30)
SUFFIXES = (".yaml", ".yml")


@dataclass
class Upload:
    """What became of an uploaded file. `refused` names why it was not even parsed."""

    refused: str | None = None  # not_yaml_name | too_large | binary
    problems: list[Problem] = field(default_factory=list)  # errors, when it is not a valid playbook
    hidden: int = 0  # errors beyond the first MAX_SHOWN_PROBLEMS
    draft: PlaybookDraft | None = None
    playbook: Playbook | None = None
    before: Playbook | None = None
    diff: PlaybookDiff | None = None


@dataclass(frozen=True)
class Overview:
    state: PlaybookState
    title: str
    publication: PlaybookPublication | None
    uses: int


@dataclass(frozen=True)
class Change:
    """What a publish or a roll back replaced, so staff can be told (bot/core/change_notes.py)."""

    before: Playbook | None  # the version live until now; None: a new playbook
    after: Playbook
    changelog: str
    rolled_back: bool = False


def name_acceptable(filename: str | None) -> bool:
    return bool(filename) and str(filename).lower().endswith(SUFFIXES)


def size_acceptable(size: int | None) -> bool:
    """None (size unknown before download) is checked again on the bytes."""
    return size is None or size <= MAX_UPLOAD_BYTES


def decode(data: bytes) -> str | None:
    """The text of an upload, or None for a binary file."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


class Authoring:
    def __init__(self, moments: MomentService) -> None:
        self.moments = moments
        self.db: Database = moments.db
        self.catalog = moments.catalog
        self.last_change: Change | None = None  # set by a successful publish or roll back

    # ---- upload, publish, try, discard ------------------------------------------------------------------------

    async def upload(self, person: Person, data: bytes, filename: str, changelog: str = "") -> Upload:
        if not name_acceptable(filename):
            return Upload(refused="not_yaml_name")
        if len(data) > MAX_UPLOAD_BYTES:
            return Upload(refused="too_large")
        source = decode(data)
        if source is None:
            return Upload(refused="binary")
        playbook, problems = parse_playbook(source, filename, "general")
        errors = [p for p in problems if p.severity == "error"]
        if playbook is None:
            return Upload(problems=errors[:MAX_SHOWN_PROBLEMS], hidden=max(len(errors) - MAX_SHOWN_PROBLEMS, 0))
        # A playbook that fails its own examples is refused like one with errors: nothing is stored.
        failed = [Problem(filename, r.line or 1, r.column or 1,
                          N_("example %(number)s fails: %(reason)s", number=r.number, reason=r.reason or r.message))
                  for r in failures(run_examples(playbook))]
        if failed:
            return Upload(problems=failed[:MAX_SHOWN_PROBLEMS], hidden=max(len(failed) - MAX_SHOWN_PROBLEMS, 0))
        before, current = await self._live(playbook.id)
        if current is not None and "category:" not in source and playbook.category != current.category:
            # A file without `category:` keeps the playbook where it is.
            playbook, _ = parse_playbook(source, filename, current.category)
            assert playbook is not None
        draft = PlaybookDraft(id=secrets.token_urlsafe(6), playbook_id=playbook.id, version=playbook.version,
                              source=source, filename=filename[:256], changelog=" ".join(changelog.split())[:256],
                              uploader_id=person.user_id)
        async with self.db.session() as session:
            await store.add_draft(session, draft)
        return Upload(draft=draft, playbook=playbook, before=before, diff=diff_playbooks(before, playbook))

    async def _live(self, playbook_id: str) -> tuple[Playbook | None, PlaybookState | None]:
        async with self.db.session() as session:
            current = await store.state(session, playbook_id)
        if current is None:
            return None, None
        return await self.moments.playbook(playbook_id, current.live_version), current

    async def draft_playbook(self, draft_id: str) -> tuple[PlaybookDraft | None, Playbook | None]:
        async with self.db.session() as session:
            found = await store.draft(session, draft_id)
            current = await store.state(session, found.playbook_id) if found else None
        if found is None:
            return None, None
        playbook, _ = parse_playbook(found.source, found.filename or found.playbook_id,
                                     current.category if current else "general")
        return found, playbook

    async def publish(self, draft_id: str, person: Person) -> tuple[str, Playbook | None]:
        """'published', or why not: 'already_published', 'discarded', 'unknown'. Live for everyone at once."""
        found, playbook = await self.draft_playbook(draft_id)
        if found is None or playbook is None:
            return "unknown", None
        async with self.db.session() as session:
            if not await store.close_draft(session, draft_id, "published"):
                await session.rollback()
                return ("already_published" if found.status == "published" else "discarded"), None
            current = await store.state(session, playbook.id)
            previous = current.live_version if current is not None else None  # store.publish moves it
            await store.publish(session, playbook_id=playbook.id, version=playbook.version, source_text=found.source,
                                category=playbook.category, origin=store.UPLOAD, author_id=person.user_id,
                                author=person.name, changelog=found.changelog)
        before = await self.moments.playbook(playbook.id, previous) if previous else None
        self.last_change = Change(before, playbook, found.changelog)
        await self.reload(playbook)
        return "published", playbook

    async def discard(self, draft_id: str) -> str:
        async with self.db.session() as session:
            found = await store.draft(session, draft_id)
            if found is None:
                return "unknown"
            if not await store.close_draft(session, draft_id, "discarded"):
                return "already_published" if found.status == "published" else "discarded"
            await session.commit()
        return "discarded_now"

    # ---- the live set -----------------------------------------------------------------------------------------

    async def reload(self, *fresh: Playbook) -> None:
        """Replace the running catalog's live set with the database's: no restart, flows keep their version."""
        self.catalog.replace(await live_playbooks(self.db, [*self.catalog.all(), *fresh]))

    async def rollback(self, person: Person, playbook_id: str, version: str) -> Playbook | None:
        """Publish an older version's content again, as a new publication (audited playbook.rolled_back)."""
        async with self.db.session() as session:
            current = await store.state(session, playbook_id)
            text = await store.source(session, playbook_id, version)
            if current is None or text is None or current.live_version == version:
                return None
            playbook, _ = parse_playbook(text, f"{playbook_id}@{version}", current.category)
            if playbook is None:
                return None
            previous = current.live_version  # store.publish moves it
            await store.publish(session, playbook_id=playbook_id, version=version, source_text=text,
                                category=current.category, origin=store.ROLLBACK, author_id=person.user_id,
                                author=person.name, action="playbook.rolled_back")
        self.last_change = Change(await self.moments.playbook(playbook_id, previous), playbook, "", rolled_back=True)
        await self.reload(playbook)
        return playbook

    async def set_retired(self, person: Person, playbook_id: str, retired: bool) -> bool:
        async with self.db.session() as session:
            changed = await store.set_retired(session, playbook_id, retired, actor_id=person.user_id,
                                              actor=person.name)
        if changed:
            await self.reload()
        return changed

    # ---- reading ----------------------------------------------------------------------------------------------

    async def overview(self) -> list[Overview]:
        async with self.db.session() as session:
            found = await store.states(session)
            latest = await store.latest_publications(session)
            uses = await store.uses_since(session, utcnow() - USE_WINDOW)
        rows = []
        for item in found:
            playbook = self.catalog.live(item.playbook_id) or self.catalog.version(item.playbook_id,
                                                                                   item.live_version)
            rows.append(Overview(item, playbook.title.get() if playbook else item.playbook_id,
                                 latest.get(item.playbook_id), uses.get(item.playbook_id, 0)))
        return rows

    async def one(self, playbook_id: str) -> Overview | None:
        return next((row for row in await self.overview() if row.state.playbook_id == playbook_id), None)

    async def history(self, playbook_id: str) -> list[PlaybookPublication]:
        async with self.db.session() as session:
            return list(await store.publications(session, playbook_id))

    async def live_source(self, playbook_id: str) -> str | None:
        async with self.db.session() as session:
            current = await store.state(session, playbook_id)
            return await store.source(session, playbook_id, current.live_version) if current else None


# ---- the playbooks folder ---------------------------------------------------------------------------------------

@dataclass
class SyncReport:
    published: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # files not published: the bot's newer upload stays live


async def sync_files(db: Database, playbooks: list[Playbook], force: bool = False) -> SyncReport:
    """Publish changed files (see the module's doc for who wins)."""
    report = SyncReport()
    async with db.session() as session:
        latest = await store.latest_publications(session)
        for playbook in playbooks:
            current = await store.state(session, playbook.id)
            if current is None:
                await _publish_file(session, playbook, audited=False)  # first seen: not a change to audit
                report.published.append(playbook.path)
                continue
            if current.live_version == playbook.version:
                continue
            last_file = await store.last_file_publication(session, playbook.id)
            if not force:
                if last_file is not None and last_file.version == playbook.version:
                    continue  # the file did not change: what the bot published since stays live
                newest = latest.get(playbook.id)
                if current.retired or (newest is not None and not store.is_file_origin(newest.origin)):
                    log.warning("playbook file %s changed, but %s was %s through the bot since: that stays "
                                "(run `moments playbooks sync --force` to publish the file)", playbook.path,
                                playbook.id, "retired" if current.retired else "edited")
                    report.kept.append(playbook.path)
                    continue
            await _publish_file(session, playbook)
            report.published.append(playbook.path)
    return report


async def _publish_file(session: AsyncSession, playbook: Playbook, audited: bool = True) -> None:
    await store.publish(session, playbook_id=playbook.id, version=playbook.version, source_text=playbook.source,
                        category=playbook.category, origin=playbook.path, audited=audited)


async def live_playbooks(db: Database, known: Sequence[Playbook] = ()) -> list[Playbook]:
    """The live, not retired, playbooks from the database; `known` objects are reused when the version matches."""
    async with db.session() as session:
        rows = await store.live_sources(session)
    return playbooks_of(rows, known)


def playbooks_of(rows: Sequence[tuple[PlaybookState, str]], known: Sequence[Playbook] = ()) -> list[Playbook]:
    """Playbooks from store.live_sources rows, parsing only what `known` lacks. No I/O and no shared state, so
    a reload may run it in a worker thread (parsing many playbooks takes a while)."""
    by_version = {(p.id, p.version): p for p in known}
    result = []
    for current, text in rows:
        playbook = by_version.get((current.playbook_id, current.live_version))
        if playbook is None or playbook.category != current.category:
            playbook, problems = parse_playbook(text, f"{current.playbook_id}@{current.live_version}",
                                                current.category)
            if playbook is None:
                log.error("stored live version %s of %s no longer loads: %s", current.live_version,
                          current.playbook_id, "; ".join(map(str, problems[:3])))
                continue
        result.append(playbook)
    return result
