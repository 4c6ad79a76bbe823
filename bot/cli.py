"""The `moments` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.config import Config, ConfigError, load_config
from bot.core.loader import load_directory, load_files, playbook_files
from bot.core.playbook import ROLES
from bot.core.problems import PlaybookLoadError
from storage.db import Database, DatabaseURLError

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        config = load_config(args.config)
        logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return int(args.handler(args, config) or 0)
    except ConfigError as exc:
        print(f"moments: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseURLError as exc:
        print(f"moments: {exc}. Set DATABASE_URL (or database_url in config.yaml) to a URL such as "
              "sqlite:///data/moments.db or postgresql://user@host/db.", file=sys.stderr)
        return EXIT_USAGE
    except PlaybookLoadError as exc:
        _print_playbook_errors(exc, config.playbooks_dir)
        return EXIT_USAGE


def _print_playbook_errors(exc: PlaybookLoadError, folder: Path) -> None:
    if not exc.problems:
        print(f"moments: the playbooks folder {folder} does not exist. Set PLAYBOOKS_DIR or playbooks_dir in "
              "config.yaml.", file=sys.stderr)
        return
    for problem in exc.problems:
        print(problem, file=sys.stderr)
    print(f"moments: refusing to start: fix the playbook errors above ({exc}), check with `moments lint`.",
          file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moments", description="Moments: decide on the spot, for the customer.")
    parser.add_argument("--config", help="config file (default: $MOMENTS_CONFIG or ./config.yaml)")
    commands = parser.add_subparsers(title="commands")

    run = commands.add_parser("run", help="run the bot (long polling)")
    run.set_defaults(handler=_run)

    demo = commands.add_parser("demo", help="chat with the bot in this terminal: no token, no internet")
    demo.add_argument("--database", metavar="URL",
                      help="database to use (default: $DATABASE_URL, else a throwaway SQLite file)")
    demo.add_argument("--language", help="your language code (default: default_language from config)")
    demo.add_argument("--role", choices=ROLES, default="admin", help="who you are in the demo (default: admin)")
    demo.set_defaults(handler=_demo)

    lint = commands.add_parser("lint", help="check playbooks; exit 1 on any error")
    lint.add_argument("paths", nargs="*", help="files or folders (default: the playbooks folder)")
    lint.set_defaults(handler=_lint)

    users = commands.add_parser("users", help="manage people").add_subparsers(title="users commands")
    add = users.add_parser("add", help="add a person, or change their role and team")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--team", help="team name (default: default_team from config)")
    add.add_argument("--name", default="")
    add.set_defaults(handler=_users_add)

    audit = commands.add_parser("audit", help="the audit log as CSV on stdout, oldest first")
    audit.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC), inclusive")
    audit.set_defaults(handler=_audit)

    _add_invite_commands(commands)

    export = commands.add_parser("export", help="export data as CSV").add_subparsers(title="export commands")
    decisions = export.add_parser("decisions", help="one row per decision, CSV on stdout")
    decisions.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC), inclusive")
    decisions.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (UTC), inclusive")
    decisions.add_argument("--team")
    decisions.set_defaults(handler=_export_decisions)
    return parser


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import run

    config.require_token()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(config))
    return 0


def _demo(args: argparse.Namespace, config: Config) -> int:
    from bot.devtools.demo import DemoOptions, demo_name, quiet_logging, run_demo

    quiet_logging()
    # Only an explicit database is used: config.yaml's default would fill data/ with demo decisions.
    options = DemoOptions(name=demo_name(), role=args.role, language=args.language,
                          database_url=args.database or os.environ.get("DATABASE_URL") or None)
    try:
        return asyncio.run(run_demo(config, options))
    except KeyboardInterrupt:  # Ctrl-C is a normal way out too; end the prompt's line
        print()
        return 0


def _lint(args: argparse.Namespace, config: Config) -> int:
    if args.paths:
        problems = []
        files: list[Path] = []
        for raw in args.paths:
            path = Path(raw)
            if path.is_dir():
                _, found = load_directory(path)
                problems.extend(found)
            elif path.exists():
                files.append(path)
            else:
                print(f"{raw}: no such file or folder", file=sys.stderr)
                return EXIT_USAGE
        if files:
            _, found = load_files(files)
            problems.extend(found)
        count = len(files) + sum(len(playbook_files(Path(p))) for p in args.paths if Path(p).is_dir())
    else:
        if not config.playbooks_dir.is_dir():
            raise PlaybookLoadError([])
        _, problems = load_directory(config.playbooks_dir)
        count = len(playbook_files(config.playbooks_dir))
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    print(f"{count} playbook file(s) checked: {errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


def _users_add(args: argparse.Namespace, config: Config) -> int:
    from storage import people

    async def add() -> tuple[bool, str]:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                _, created = await people.upsert_user(session, args.telegram_id, role=args.role,
                                                      team=args.team or config.default_team, name=args.name)
            return created, args.team or config.default_team
        finally:
            await db.dispose()

    created, team = asyncio.run(add())
    print(f"{'added' if created else 'updated'} {args.telegram_id} as {args.role} in team {team}")
    return 0


def _audit(args: argparse.Namespace, config: Config) -> int:
    import json

    from storage.audit import all_entries

    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None

    async def rows() -> list[dict[str, object]]:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                return [{"id": e.id, "at": e.at.isoformat(timespec="seconds"), "actor_id": e.actor_id or "",
                         "actor": e.actor, "action": e.action, "subject": e.subject, "team_id": e.team_id or "",
                         "before": json.dumps(e.before, sort_keys=True) if e.before else "",
                         "after": json.dumps(e.after, sort_keys=True) if e.after else ""}
                        for e in await all_entries(session, since=since)]
        finally:
            await db.dispose()

    columns = ("id", "at", "actor_id", "actor", "action", "subject", "team_id", "before", "after")
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asyncio.run(rows()))
    return 0


def _export_decisions(args: argparse.Namespace, config: Config) -> int:
    from storage.decisions import EXPORT_COLUMNS, export_rows

    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None
    until = datetime.combine(args.until + timedelta(days=1), datetime.min.time(), UTC) if args.until else None

    async def rows() -> list[dict[str, object]]:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                return await export_rows(session, since=since, until=until, team=args.team)
        finally:
            await db.dispose()

    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in asyncio.run(rows()):
        writer.writerow(row)
    return 0


# ---- moments invite create | list | revoke ----------------------------------------------------------------------

UNKNOWN_BOT = "<your-bot>"


def _add_invite_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    invite = commands.add_parser("invite", help="invite links for people to join").add_subparsers(
        title="invite commands")
    create = invite.add_parser("create", help="make an invite link for a team and role")
    create.add_argument("--team", required=True, help="team name (created if it does not exist yet)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--uses", type=int, default=1, help="how many people may join with it (default 1)")
    create.add_argument("--expires", default="7d", help="lifetime such as 30m, 12h, 7d (default 7d, at most 90d)")
    create.add_argument("--bot-username", help="the bot's @username for the link (default: asked from Telegram "
                                                "when a bot token is set)")
    create.set_defaults(handler=_invite_create)
    listing = invite.add_parser("list", help="open invites: team, role, uses left, expiry")
    listing.set_defaults(handler=_invite_list)
    revoke = invite.add_parser("revoke", help="close an invite at once")
    revoke.add_argument("invite_id", type=int)
    revoke.set_defaults(handler=_invite_revoke)


async def _bot_username(config: Config) -> str | None:
    """The bot's username from Telegram (getMe); None when there is no token or Telegram cannot be reached."""
    if not config.bot_token:
        return None
    from bot.app import build_bot

    bot = build_bot(config)
    try:
        return (await bot.get_me()).username
    except Exception as exc:  # offline, wrong token: the link is still useful with a placeholder
        logging.getLogger(__name__).warning("could not ask Telegram for the bot's username: %s", exc)
        return None
    finally:
        await bot.session.close()


def _invite_create(args: argparse.Namespace, config: Config) -> int:
    from bot.core.invites import check_lifetime, check_uses, deep_link, hash_token, new_token, parse_duration
    from storage import invites, people
    from storage.types import utcnow

    lifetime = parse_duration(args.expires)
    if lifetime is None or not check_lifetime(lifetime):
        print(f"moments: --expires {args.expires!r}: give a lifetime from 5m to 90d, such as 12h or 7d",
              file=sys.stderr)
        return EXIT_USAGE
    if not check_uses(args.uses):
        print(f"moments: --uses {args.uses}: give 1 to 500", file=sys.stderr)
        return EXIT_USAGE

    async def create() -> tuple[int, str, datetime, bool, str | None]:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                new_team = await people.team_by_name(session, args.team) is None
                team = await people.ensure_team(session, args.team[:64])
                assert team.id is not None
                token = new_token()
                invite = await invites.create(session, token_hash=hash_token(token), team_id=team.id,
                                              role=args.role, max_uses=args.uses, expires_at=utcnow() + lifetime)
            username = args.bot_username or await _bot_username(config)
            return invite.id or 0, token, invite.expires_at, new_team, username
        finally:
            await db.dispose()

    invite_id, token, expires_at, new_team, username = asyncio.run(create())
    if new_team:
        print(f"moments: team {args.team} did not exist: created", file=sys.stderr)
    print(f"invite #{invite_id}: {args.role} in team {args.team}, {args.uses} use(s), "
          f"until {expires_at:%Y-%m-%d %H:%M} UTC")
    print(deep_link((username or UNKNOWN_BOT).lstrip("@"), token))
    if not username:
        print(f"note: replace {UNKNOWN_BOT} with your bot's username (pass --bot-username, or set BOT_TOKEN so it "
              "can be read from Telegram). The token is shown only now: Moments keeps only its hash.",
              file=sys.stderr)
    return 0


def _invite_list(args: argparse.Namespace, config: Config) -> int:
    from storage import invites

    async def rows() -> list[invites.InviteRow]:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                return await invites.active(session)
        finally:
            await db.dispose()

    found = asyncio.run(rows())
    if not found:
        print("no open invites")
    for row in found:
        invite = row.invite
        print(f"#{invite.id}\t{row.team}\t{invite.role}\t{row.uses_left} of {invite.max_uses} use(s) left\t"
              f"until {invite.expires_at:%Y-%m-%d %H:%M} UTC\tby {row.created_by or 'shell'}")
    return 0


def _invite_revoke(args: argparse.Namespace, config: Config) -> int:
    from storage import invites

    async def revoke() -> bool:
        db = Database(config.database_url)
        try:
            await db.create_tables()
            async with db.session() as session:
                return await invites.revoke(session, args.invite_id) is not None
        finally:
            await db.dispose()

    if not asyncio.run(revoke()):
        print(f"moments: no invite #{args.invite_id} to revoke (unknown, or revoked already)", file=sys.stderr)
        return 1
    print(f"invite #{args.invite_id} revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
