"""The weekly digest: `/digest [team] [week]` on demand, and the Monday push to each team's managers and supervisors
(bot.jobs:weekly_digest, claimed once per team and week in `digest_sent` before anything is sent)."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message

from bot.config import Config
from bot.core.digest import Figures, Week, WeekError, is_week_label, last_complete_week, parse_week
from bot.core.people import Person
from bot.core.roles import Permission
from bot.permissions import needs
from bot.ui import digest as ui
from bot.ui.digest_chart import render_chart
from bot.ui.render import Renderer
from storage import digest as store
from storage.db import Database
from storage.decisions import EXPORT_COLUMNS, export_rows
from storage.models import Team
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class Digest:
    figures: Figures
    messages: list[str]
    chart: bytes | None  # None for an empty week: one line, nothing else
    csv: bytes | None
    chart_caption: str = ""
    csv_caption: str = ""

    @property
    def filename(self) -> str:
        team = re.sub(r"[^A-Za-z0-9_-]+", "-", self.figures.team).strip("-") or "team"
        return f"decisions-{team}-{self.figures.week.label}"


def team_week(team: Team, config: Config, label: str | None, now: datetime | None = None) -> Week:
    """The named week (WeekError if malformed), else the last complete one, in the team's time zone."""
    timezone = team.timezone or config.default_timezone
    return parse_week(label, timezone) if label else last_complete_week(now or utcnow(), timezone)


async def build(db: Database, renderer: Renderer, config: Config, team: Team, week: Week,
                language: str, *, with_chart: bool = True) -> Digest:
    currency = team.currency or config.currency
    async with db.session() as session:
        figures = await store.figures(session, team, week, currency)
        rows = [] if figures.empty else await export_rows(session, since=week.start, until=week.end, team=team.name)
    messages = ui.messages(renderer, figures, language)
    if figures.empty:
        return Digest(figures, messages, None, None)
    chart = None
    if with_chart:  # matplotlib takes ~0.1-0.3 s of CPU: off the event loop
        chart = await asyncio.to_thread(render_chart, figures, ui.chart_labels(renderer, language), language)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Digest(figures, messages, chart, out.getvalue().encode("utf-8"),
                  renderer.t("digest.chart_caption", language, week=week.label),
                  renderer.t("digest.csv_caption", language, week=week.label))


async def send(bot: Bot, chat_id: int, digest: Digest) -> None:
    """The messages, then the chart as a photo and the CSV as a document. TelegramForbiddenError goes to the caller."""
    for text in digest.messages:
        await bot.send_message(chat_id, text)
    if digest.chart is not None:
        await bot.send_photo(chat_id, BufferedInputFile(digest.chart, f"{digest.filename}.png"),
                             caption=digest.chart_caption)
    if digest.csv is not None:
        await bot.send_document(chat_id, BufferedInputFile(digest.csv, f"{digest.filename}.csv"),
                                caption=digest.csv_caption)


@dataclass(frozen=True)
class PushReport:
    team: str
    week: str
    claimed: bool
    recipients: int = 0
    sent: int = 0
    blocked: int = 0


async def push(db: Database, renderer: Renderer, config: Config, bot: Bot, team_id: int, *,
               week_label: str | None = None, now: datetime | None = None, claim: bool = True) -> PushReport | None:
    """Send one team's digest to its recipients, once: the (team, week) row is claimed first, and a claim that
    fails (another process, or an earlier run before a restart) sends nothing. None: no such team."""
    async with db.session() as session:
        team = await store.team_by_id(session, team_id)
        if team is None:
            return None
        week = team_week(team, config, week_label, now)
        name = team.name  # a failed claim rolls the session back, expiring `team`
        if claim and not await store.claim(session, team_id, week.label):
            log.info("digest %s %s: already claimed, nothing sent", name, week.label)
            return PushReport(name, week.label, claimed=False)
        people = await store.recipients(session, team_id)
    built: dict[str, Digest] = {}
    sent = blocked = 0
    for person in people:
        language = person.language or config.default_language
        if language not in built:
            built[language] = await build(db, renderer, config, team, week, language)
        try:
            await send(bot, person.telegram_id, built[language])
            sent += 1
        except TelegramForbiddenError:
            blocked += 1
            log.info("digest %s %s: user %s blocked the bot, skipped", team.name, week.label, person.id)
    if claim:
        async with db.session() as session:
            await store.record_delivery(session, team_id, week.label, len(people), blocked)
    log.info("digest %s %s: sent to %d of %d (%d blocked)", team.name, week.label, sent, len(people), blocked)
    return PushReport(team.name, week.label, True, len(people), sent, blocked)


async def digest_command(message: Message, command: CommandObject, person: Person, db: Database,
                         renderer: Renderer, config: Config) -> None:
    lang = person.language
    args = (command.args or "").split()
    label = next((arg for arg in args if is_week_label(arg)), None)
    team_name = " ".join(arg for arg in args if arg != label)
    async with db.session() as session:
        if team_name:
            team = await store.team_by_name(session, team_name)
        else:
            team = await store.team_by_id(session, person.team_id) if person.team_id is not None else None
    if team is None:
        section = "unknown_team" if team_name else "no_team"
        await message.answer(renderer.render(ui.TEMPLATE, lang, section=section, team=team_name))
        return
    if not person.covers_team(team.id):
        log.info("digest of %s refused to %s", team.name, person.telegram_id)
        await message.answer(renderer.render(ui.TEMPLATE, lang, section="refused", team=team.name))
        return
    try:
        week = team_week(team, config, label)
    except WeekError:
        await message.answer(renderer.render(ui.TEMPLATE, lang, section="bad_week", week=label or ""))
        return
    digest = await build(db, renderer, config, team, week, lang)
    assert message.bot is not None
    await send(message.bot, message.chat.id, digest)


def router() -> Router:
    r = Router(name="digest")
    r.message.register(digest_command, Command("digest"), flags=needs(Permission.DIGESTS))
    return r
