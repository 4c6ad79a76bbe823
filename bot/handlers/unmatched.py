"""What the floor asks for that no playbook covers: phrases are kept, /unmatched groups them for managers,
and one tap turns a phrase into a playbook skeleton to fill in and send back."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.core.catalog import Catalog
from bot.core.matcher import content_words
from bot.core.people import Person
from bot.core.roles import Permission
from bot.core.unmatched import Cluster, Phrase, cluster, slugify
from bot.permissions import needs
from bot.ui import unmatched as ui
from bot.ui.callbacks import NoneCb, UnmatchedCb
from bot.ui.screens import Screens
from bot.ui.send import edit_or_send, reply
from bot.ui.skeleton import skeleton
from storage import playbooks as playbook_store
from storage import unmatched as store
from storage.db import Database
from storage.models import UnmatchedPhrase
from storage.types import utcnow

log = logging.getLogger(__name__)
WINDOW_DAYS = 30
TOP = 10


async def keep_phrase(db: Database, person: Person, text: str, *, offered: bool) -> int | None:
    """Record a search that found nothing (or only offers): the row id, None when not kept.

    Filler ("ok", "?") is not kept. A failure to record never stands between staff and their answer.
    """
    if not content_words(text):
        return None
    try:
        async with db.session() as session:
            row = await store.record(session, text, team_id=person.team_id, user_id=person.user_id,
                                     reason=store.OFFERED if offered else store.NO_MATCH)
            return row.id
    except Exception:
        log.exception("could not keep an unmatched phrase of user %s", person.user_id)
        return None


async def none_of_these(query: CallbackQuery, callback_data: NoneCb, person: Person, db: Database,
                        screens: Screens) -> None:
    """Nothing offered fits: the search counts as unmatched; the person browses or goes to the menu."""
    async with db.session() as session:
        row = await store.mark_none_of_these(session, callback_data.phrase, person.user_id)
    if row is None:  # someone else's, purged, or forged
        await query.answer(screens.r.t("alert.expired", person.language), show_alert=True)
        return
    await query.answer()
    await edit_or_send(query, screens.no_match(person.language, row.text, template="none_of_these.html.j2"))


def _scope(person: Person) -> set[int | None] | None:
    """The teams whose phrases a person reads: None for every team."""
    return None if person.can(Permission.ALL_TEAMS) else {person.team_id, *person.oversees}


async def _phrases(db: Database, person: Person) -> list[UnmatchedPhrase]:
    async with db.session() as session:
        return list(await store.recent(session, utcnow() - timedelta(days=WINDOW_DAYS), _scope(person)))


def _clusters(rows: list[UnmatchedPhrase]) -> list[Cluster]:
    return cluster(Phrase(row.text, row.created_at, row.id or 0) for row in rows)


async def unmatched_command(message: Message, person: Person, db: Database, screens: Screens) -> None:
    rows = await _phrases(db, person)
    view = ui.listing(screens, person.language, _clusters(rows)[:TOP], person.timezone, WINDOW_DAYS, len(rows))
    await reply(message, view)


async def make_playbook(query: CallbackQuery, callback_data: UnmatchedCb, bot: Bot, person: Person, db: Database,
                        catalog: Catalog, screens: Screens) -> None:
    """Send a playbook skeleton whose trigger is the phrase, as `<id>.yaml`, to fill in and upload."""
    lang = person.language
    async with db.session() as session:
        row = await store.get(session, callback_data.phrase)
        taken = {state.playbook_id for state in await playbook_store.states(session)}
    if row is None or row.reason not in store.UNMATCHED or not person.covers_team(row.team_id):
        await query.answer(screens.r.t("unmatched.gone", lang), show_alert=True)
        return
    found = next((c for c in _clusters(await _phrases(db, person)) if c.ref == row.id), None)
    slug = slugify(row.text, taken | {p.id for p in catalog.all()})
    source = skeleton(row.text, slug, count=found.count if found else 1, days=WINDOW_DAYS)
    await query.answer()
    await bot.send_document(person.telegram_id, BufferedInputFile(source.encode("utf-8"), f"{slug}.yaml"),
                            caption=screens.r.t("unmatched.caption", lang, id=slug))


def router() -> Router:
    """A fresh router each call, so several dispatchers (tests, restarts) can each have one."""
    r = Router(name="unmatched")
    guard = needs(Permission.EDIT_PLAYBOOKS)
    r.message.register(unmatched_command, Command("unmatched"), flags=guard)
    r.callback_query.register(make_playbook, UnmatchedCb.filter(), flags=guard)
    r.callback_query.register(none_of_these, NoneCb.filter())
    return r
