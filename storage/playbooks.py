"""Playbook authoring in the database: versions, publications (history), the live pointer, drafts, uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, inspect, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.audit import audit
from storage.db import Database
from storage.models import Decision, PlaybookDraft, PlaybookPublication, PlaybookState, PlaybookVersion
from storage.types import utcnow

UPLOAD = "bot:upload"
ROLLBACK = "bot:rollback"

# Columns added to playbook_versions after its first release; create_all does not add columns to old tables.
_NEW_VERSION_COLUMNS = {
    "author_id": "INTEGER",
    "changelog": "VARCHAR(256) NOT NULL DEFAULT ''",
    "published_at": "TIMESTAMP",
}


def add_missing_version_columns(connection: Connection) -> None:
    """The additive ALTERs of ensure_columns, on a synchronous connection (storage.migrations adopts old
    databases with it)."""
    found = {c["name"] for c in inspect(connection).get_columns("playbook_versions")}
    for name, ddl in _NEW_VERSION_COLUMNS.items():
        if name not in found:
            connection.execute(text(f"ALTER TABLE playbook_versions ADD COLUMN {name} {ddl}"))


async def ensure_columns(db: Database) -> None:
    """Bring a playbook_versions table made by an older release up to date (additive, idempotent). Starts do it
    through the migrations now (storage.migrations adopts such databases); kept for databases made by
    create_tables."""
    async with db.begin() as connection:
        await connection.run_sync(add_missing_version_columns)


def is_file_origin(origin: str) -> bool:
    return not origin.startswith("bot:")


async def state(session: AsyncSession, playbook_id: str) -> PlaybookState | None:
    return await session.get(PlaybookState, playbook_id)


async def states(session: AsyncSession) -> Sequence[PlaybookState]:
    return (await session.exec(select(PlaybookState).order_by(PlaybookState.category,
                                                              PlaybookState.playbook_id))).all()


async def live_sources(session: AsyncSession) -> list[tuple[PlaybookState, str]]:
    """(state, YAML) of every playbook that is not retired: the catalog staff see."""
    query = (select(PlaybookState, PlaybookVersion.source)
             .join(PlaybookVersion, (PlaybookVersion.playbook_id == PlaybookState.playbook_id)  # type: ignore[arg-type]
                   & (PlaybookVersion.version == PlaybookState.live_version))
             .where(PlaybookState.retired == False))  # noqa: E712
    return [(row[0], row[1]) for row in (await session.exec(query)).all()]


async def live_marker(session: AsyncSession) -> frozenset[tuple[str, str, str]]:
    """(playbook id, live version, category) of every playbook that is not retired, in one small query.

    Exactly what defines the live set, so it changes with every publish, roll back, retire and move, whoever
    made it; unlike max(updated_at) it is blind to the clocks of the hosts that wrote it."""
    query = (select(PlaybookState.playbook_id, PlaybookState.live_version, PlaybookState.category)
             .where(PlaybookState.retired == False))  # noqa: E712
    return frozenset((row[0], row[1], row[2]) for row in (await session.exec(query)).all())


async def source(session: AsyncSession, playbook_id: str, version: str) -> str | None:
    query = select(PlaybookVersion.source).where(PlaybookVersion.playbook_id == playbook_id,
                                                 PlaybookVersion.version == version)
    return (await session.exec(query)).first()


async def publications(session: AsyncSession, playbook_id: str, limit: int = 20) -> Sequence[PlaybookPublication]:
    query = (select(PlaybookPublication).where(PlaybookPublication.playbook_id == playbook_id)
             .order_by(col(PlaybookPublication.id).desc()).limit(limit))
    return (await session.exec(query)).all()


async def latest_publications(session: AsyncSession) -> dict[str, PlaybookPublication]:
    """The newest publication of each playbook, in one query."""
    newest = (select(PlaybookPublication.playbook_id, func.max(PlaybookPublication.id).label("id"))
              .group_by(PlaybookPublication.playbook_id).subquery())
    query = select(PlaybookPublication).join(newest, PlaybookPublication.id == newest.c.id)  # type: ignore[arg-type]
    return {p.playbook_id: p for p in (await session.exec(query)).all()}


async def last_file_publication(session: AsyncSession, playbook_id: str) -> PlaybookPublication | None:
    query = (select(PlaybookPublication)
             .where(PlaybookPublication.playbook_id == playbook_id,
                    ~col(PlaybookPublication.origin).startswith("bot:"))
             .order_by(col(PlaybookPublication.id).desc()).limit(1))
    return (await session.exec(query)).first()


async def publish(session: AsyncSession, *, playbook_id: str, version: str, source_text: str, category: str,
                  origin: str, author_id: int | None = None, author: str = "", changelog: str = "",
                  action: str = "playbook.published", now: datetime | None = None,
                  audited: bool = True) -> PlaybookPublication:
    """Store the content (once per hash), add a publication, move the live pointer, audit; one commit.

    Publishing a retired playbook makes it live again. `audited=False`: the first load of a shipped file."""
    now = now or utcnow()
    changelog = changelog[:256]
    query = select(PlaybookVersion).where(PlaybookVersion.playbook_id == playbook_id,
                                          PlaybookVersion.version == version)
    stored = (await session.exec(query)).first()
    if stored is None:
        session.add(PlaybookVersion(playbook_id=playbook_id, version=version, source=source_text, origin=origin,
                                    author_id=author_id, changelog=changelog, published_at=now))
    elif stored.published_at is None:
        stored.published_at, stored.author_id, stored.changelog = now, author_id, changelog
        session.add(stored)
    current = await session.get(PlaybookState, playbook_id)
    before = {"version": current.live_version, "retired": current.retired} if current else None
    if current is None:
        current = PlaybookState(playbook_id=playbook_id, live_version=version, category=category)
    current.live_version, current.category, current.retired, current.updated_at = version, category, False, now
    session.add(current)
    publication = PlaybookPublication(playbook_id=playbook_id, version=version, origin=origin, author_id=author_id,
                                      author=author[:128], changelog=changelog, published_at=now)
    session.add(publication)
    if audited:
        audit(session, action, actor_id=author_id, actor=author or origin, subject=playbook_id, before=before,
              after={"version": version, "origin": origin, "changelog": changelog})
    await session.commit()
    return publication


async def set_retired(session: AsyncSession, playbook_id: str, retired: bool, *, actor_id: int | None,
                      actor: str) -> bool:
    """Retire or bring back; False when it was already so (nothing changes, nothing audited)."""
    current = await session.get(PlaybookState, playbook_id)
    if current is None or current.retired == retired:
        return False
    current.retired, current.updated_at = retired, utcnow()
    session.add(current)
    audit(session, "playbook.retired" if retired else "playbook.unretired", actor_id=actor_id, actor=actor,
          subject=playbook_id, before={"retired": not retired}, after={"retired": retired})
    await session.commit()
    return True


async def uses_since(session: AsyncSession, since: datetime) -> dict[str, int]:
    """Decisions per playbook since `since`: one aggregated query."""
    query = (select(Decision.playbook_id, func.count()).where(Decision.created_at >= since)
             .group_by(Decision.playbook_id))
    return {playbook_id: count for playbook_id, count in (await session.exec(query)).all()}


# ---- drafts ---------------------------------------------------------------------------------------------------

async def add_draft(session: AsyncSession, draft: PlaybookDraft) -> PlaybookDraft:
    session.add(draft)
    await session.commit()
    return draft


async def draft(session: AsyncSession, draft_id: str) -> PlaybookDraft | None:
    return await session.get(PlaybookDraft, draft_id)


async def close_draft(session: AsyncSession, draft_id: str, status: str) -> bool:
    """Pending → `status` in one guarded UPDATE: of two presses (or two processes) exactly one wins.

    Not committed: the caller commits it together with what it does."""
    result = await session.exec(  # type: ignore[call-overload]
        update(PlaybookDraft).where(PlaybookDraft.id == draft_id, PlaybookDraft.status == "pending")  # type: ignore[arg-type]
        .values(status=status))
    return bool(result.rowcount)
