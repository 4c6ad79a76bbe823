"""`moments training …`: list the cards, push cards to a team now, a team's results as CSV."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Config
from bot.core.training.service import TrainingService


def add_training_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("training", help="micro-training: the cards, pushes, results")
    sub = group.add_subparsers(title="training commands")
    cards = sub.add_parser("cards", help="every training card (generated and authored) as CSV on stdout")
    cards.set_defaults(handler=_cards)
    push = sub.add_parser("push", help="send cards to every member of a team now (the running bot sends them)")
    push.add_argument("--team", required=True)
    what = push.add_mutually_exclusive_group(required=True)
    what.add_argument("--card", help="a card id or key (see `moments training cards`)")
    what.add_argument("--playbook", help="a playbook id: all its cards")
    push.add_argument("--id", dest="push_id", help="name of this push: the same name twice sends nothing twice")
    push.set_defaults(handler=_push)
    results = sub.add_parser("results", help="a team's training results per person, CSV on stdout")
    results.add_argument("--team", required=True)
    results.add_argument("--days", type=int, default=30)
    results.set_defaults(handler=_results)


@asynccontextmanager
async def _service(config: Config) -> AsyncIterator[TrainingService]:
    """The cards as the running bot sees them: live playbooks from the database, authored from the folder."""
    from bot.app import load_authored_cards, load_catalog
    from bot.cli import open_database
    from bot.core.authoring import live_playbooks

    catalog = load_catalog(config)
    async with open_database(config) as db:
        catalog.replace(await live_playbooks(db, catalog.all()))
        service = TrainingService(db, catalog, config.training, default_timezone=config.default_timezone,
                                  authored=load_authored_cards(config, catalog))
        yield service


def _cards(args: argparse.Namespace, config: Config) -> int:
    async def rows() -> list[list[str]]:
        async with _service(config) as service:
            return [[card.id, card.key, card.source, card.playbook_id or "", card.team or "",
                     str(len(card.choices)), (card.title or card.question).get(config.default_language)]
                    for card in service.cards()]

    out = csv.writer(sys.stdout)
    out.writerow(["id", "key", "source", "playbook", "team", "choices", "title"])
    out.writerows(asyncio.run(rows()))
    return 0


async def _team_id(service: TrainingService, name: str) -> int | None:
    """The team's id, or None after saying on stderr that there is no such team."""
    from storage import people

    async with service.db.session() as session:
        team = await people.team_by_name(session, name)
    if team is None or team.id is None:
        print(f"moments: there is no team {name!r}", file=sys.stderr)
        return None
    return team.id


def _push(args: argparse.Namespace, config: Config) -> int:
    async def push() -> int:
        async with _service(config) as service:
            team_id = await _team_id(service, args.team)
            if team_id is None:
                return 1
            cards = service.find(args.card) if args.card else service.cards_of_playbook(args.playbook)
            if args.card and len(cards) > 1:
                cards = [card for card in cards if args.card in (card.id, card.key)] or cards[:1]
            if not cards:
                print(f"moments: no card {args.card or 'of playbook ' + repr(args.playbook)}; "
                      "`moments training cards` lists them", file=sys.stderr)
                return 1
            members, added = await service.push(team_id, [card.id for card in cards], args.push_id)
        print(f"{len(cards)} card(s) to {members} member(s) of {args.team}: {added} new deliveries. The running "
              f"bot sends them within {config.training.tick_seconds} s, inside Telegram's limits.")
        return 0

    return asyncio.run(push())


def _results(args: argparse.Namespace, config: Config) -> int:
    async def results() -> int:
        async with _service(config) as service:
            team_id = await _team_id(service, args.team)
            if team_id is None:
                return 1
            rows = await service.team_results(team_id, args.days)
        out = csv.writer(sys.stdout)
        out.writerow(["name", "answered", "accuracy_percent", "due", "last_trained_utc"])
        for row in rows:
            out.writerow([row.name, row.answered, "" if row.accuracy is None else round(row.accuracy * 100),
                          row.due, row.last_trained.isoformat() if row.last_trained else ""])
        return 0

    return asyncio.run(results())
