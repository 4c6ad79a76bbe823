"""The `moments` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cli_training import add_training_commands
from bot.config import Config, ConfigError, load_config
from bot.core.loader import load_directory, load_files, playbook_files
from bot.core.playbook import ROLES, Playbook
from bot.core.problems import PlaybookLoadError, Problem
from storage.db import Database, DatabaseURLError
from storage.migrations import MigrationError

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
    except MigrationError as exc:
        print(f"moments: {exc}", file=sys.stderr)
        return 1
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

    run = commands.add_parser("run", help="run the bot (long polling, or a webhook with --webhook)")
    run.add_argument("--webhook", action="store_true",
                     help="serve Telegram's webhook (config webhook:, WEBHOOK_URL, WEBHOOK_SECRET) instead of polling")
    run.add_argument("--no-scheduler", action="store_true",
                     help="set and cancel timers but do not run them: `moments scheduler` does (several processes)")
    run.set_defaults(handler=_run)

    sched = commands.add_parser("scheduler", help="run the timers for bot processes started with --no-scheduler")
    sched.set_defaults(handler=_scheduler)

    demo = commands.add_parser("demo", help="chat with the bot in this terminal: no token, no internet")
    demo.add_argument("--database", metavar="URL",
                      help="database to use (default: $DATABASE_URL, else a throwaway SQLite file)")
    demo.add_argument("--language", help="your language code (default: default_language from config)")
    demo.add_argument("--role", choices=ROLES, default="admin", help="who you are in the demo (default: admin)")
    demo.set_defaults(handler=_demo)

    lint = commands.add_parser("lint", help="check playbooks and training cards; exit 1 on any error")
    lint.add_argument("paths", nargs="*", help="files or folders (default: the playbooks and training folders)")
    lint.add_argument("--format", choices=("text", "json"), default="text",
                      help="text: one line per problem; json: a JSON list on stdout, the summary on stderr")
    lint.add_argument("--languages", type=_languages, metavar="CODES",
                      help="warn about texts missing in these languages, e.g. en,it (default: default_language "
                           "and the teams' languages from config)")
    lint.add_argument("--language", metavar="CODE",
                      help="write the problems in this language, e.g. it (default: English); file, line and column "
                           "stay as they are")
    lint.set_defaults(handler=_lint)

    test = commands.add_parser("test", help="run the playbooks' examples through the engine; exit 1 on a failure")
    test.add_argument("paths", nargs="*", help="files or folders (default: the playbooks folder)")
    test.set_defaults(handler=_test)

    graph = commands.add_parser("graph", help="draw a playbook's decision tree (needs Graphviz's dot)")
    graph.add_argument("playbook", help="playbook id (from the playbooks folder), or a playbook file")
    graph.add_argument("-o", "--output", required=True, help="picture to write: .png or .svg")
    graph.add_argument("--language", default=None, help="language of the texts (default: default_language)")
    graph.set_defaults(handler=_graph)

    users = commands.add_parser("users", help="manage people").add_subparsers(title="users commands")
    add = users.add_parser("add", help="add a person, or change their role and team")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--team", help="team name (default: default_team from config)")
    add.add_argument("--name", default="")
    add.add_argument("--oversee", default="", metavar="T1,T2",
                     help="further teams a manager, supervisor or admin oversees (replaces the list)")
    add.set_defaults(handler=_users_add)

    audit = commands.add_parser("audit", help="the audit log as CSV on stdout, oldest first")
    audit.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC), inclusive")
    audit.set_defaults(handler=_audit)

    _add_invite_commands(commands)
    _add_db_commands(commands)
    _add_playbooks_commands(commands)
    _add_digest_commands(commands)
    add_training_commands(commands)

    export = commands.add_parser("export", help="export data as CSV").add_subparsers(title="export commands")
    decisions = export.add_parser("decisions", help="one row per decision, CSV on stdout")
    decisions.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC), inclusive")
    decisions.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (UTC), inclusive")
    decisions.add_argument("--team")
    decisions.set_defaults(handler=_export_decisions)

    seed = commands.add_parser("seed-demo", help="fill the database with realistic demo decisions from the "
                                                 "shipped playbooks, over many teams and weeks")
    seed.add_argument("--decisions", type=_positive, required=True, metavar="N")
    seed.add_argument("--teams", type=_positive, default=10, help="teams (about 20 people each; default 10)")
    seed.add_argument("--weeks", type=_positive, default=12,
                      help="weeks before the current one, each in its team's time zone (default 12)")
    seed.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    seed.add_argument("--append", action="store_true", help="add to a database that already holds decisions")
    seed.set_defaults(handler=_seed_demo)
    return parser


@contextlib.asynccontextmanager
async def open_database(config: Config) -> AsyncIterator[Database]:
    """The configured database at the current schema (migrated, or made), disposed of afterwards: what every
    command needs."""
    db = Database(config.database_url)
    try:
        await db.migrate()
        yield db
    finally:
        await db.dispose()


def _positive(value: str) -> int:
    try:
        number = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a whole number above 0: {value!r}")
    return number


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _run(args: argparse.Namespace, config: Config) -> int:
    from bot.app import check_webhook_config, run

    config.require_token()
    if args.webhook or config.webhook.enabled:
        check_webhook_config(config)  # before any work, so a missing secret is a usage error
    if args.no_scheduler:
        config.scheduler.enabled = False
    return _serve(config, run(config, webhook=args.webhook))


def _scheduler(args: argparse.Namespace, config: Config) -> int:
    from bot.app import run_scheduler

    config.require_token()
    return _serve(config, run_scheduler(config))


def _serve(config: Config, main: Any) -> int:
    """Run a long-lived process (`run`, `scheduler`) with masked logging; its exit code."""
    from bot import logs
    from bot.app import ShutdownTimeout
    from bot.metrics import ErrorCounter

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.setup(config.log_level, json_lines=config.logging.json_lines,
               secrets=(config.bot_token, config.webhook.secret_token))
    root.addHandler(ErrorCounter())
    try:
        asyncio.run(main)
    except ShutdownTimeout as exc:
        logging.getLogger("bot.app").error("%s", exc)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return 1
    except (ConfigError, DatabaseURLError, PlaybookLoadError):
        raise  # explained to the person by main(), exit code 2
    except Exception:
        # Through the logging handler, not Python's own print: masked (URLs in errors hold the token) and JSON.
        logging.getLogger("bot.app").exception("Moments stopped on an error")
        return 1
    finally:
        root.handlers[:] = saved[0]  # as it was: main() may be called again in the same process (tests)
        root.setLevel(saved[1])
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


def _languages(value: str) -> list[str]:
    codes = [code.strip() for code in value.split(",") if code.strip()]
    if not codes:
        raise argparse.ArgumentTypeError("give language codes separated by commas, such as en,it")
    return codes


class _NoSuchPath(Exception):
    pass


def _load_paths(paths: Sequence[str], config: Config, languages: Sequence[str] | None = None,
                ) -> tuple[list[Playbook], list[Problem], int]:
    """Playbooks and problems of files and folders (default: the configured folder), and how many files."""
    if not paths:
        if not config.playbooks_dir.is_dir():
            raise PlaybookLoadError([])
        playbooks, problems = load_directory(config.playbooks_dir, languages=languages)
        return playbooks, problems, len(playbook_files(config.playbooks_dir))
    playbooks, problems, files = [], [], []
    count = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found_playbooks, found = load_directory(path, languages=languages)
            playbooks.extend(found_playbooks)
            problems.extend(found)
            count += len(playbook_files(path))
        elif path.exists():
            files.append(path)
        else:
            raise _NoSuchPath(raw)
    if files:
        found_playbooks, found = load_files(files, languages=languages)
        playbooks.extend(found_playbooks)
        problems.extend(found)
        count += len(files)
    return playbooks, problems, count


def _lint(args: argparse.Namespace, config: Config) -> int:
    languages = args.languages or sorted({config.default_language, *(t.language for t in config.teams
                                                                     if t.language)})
    try:
        playbook_paths, training = _split_training_paths(args.paths, config)
        if args.paths and not playbook_paths:  # only training files: no playbook is linted (nor reported)
            playbooks, problems, count = [], [], 0
        else:
            playbooks, problems, count = _load_paths(playbook_paths, config, languages)
    except _NoSuchPath as exc:
        print(f"{exc}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    from bot.core.training.generate import check_generated

    problems = [*problems, *check_generated(playbooks)]
    training_count = None
    if training is not None:
        found, training_count = _lint_training(training, args.paths, config, playbooks, languages)
        problems.extend(found)
    errors = sum(1 for p in problems if p.severity == "error")
    # Only what was checked is named, so linting playbooks alone reads as it always has.
    checked = [f"{count} playbook file(s)"] if count or training_count is None else []
    if training_count is not None:
        checked.append(f"{training_count} training file(s)")
    summary = f"{' and '.join(checked)} checked: {errors} error(s), {len(problems) - errors} warning(s)"
    text = _problem_text(args.language)
    if args.format == "json":
        import json

        print(json.dumps([{"file": p.file, "line": p.line, "column": p.column, "severity": p.severity,
                           "message": text(p)} for p in problems], ensure_ascii=False, indent=2))
        print(summary, file=sys.stderr)
    else:
        for problem in problems:
            print(f"{problem.file}:{problem.line}:{problem.column}: {problem.severity}: {text(problem)}")
        print(summary)
    return 1 if errors else 0


def _problem_text(language: str | None) -> Callable[[Problem], str]:
    """English, as always, unless `--language` asks for a catalogue's language."""
    if not language:
        return lambda problem: problem.message
    from bot.ui.i18n import Catalogues
    from bot.ui.render import LOCALES_DIR

    catalogues = Catalogues(LOCALES_DIR)
    return lambda problem: problem.render(lambda message: catalogues.gettext(language, message))


def _split_training_paths(paths: Sequence[str], config: Config) -> tuple[list[str], list[Path] | None]:
    """Which `moments lint` paths are playbooks and which are training files (None: no training in this run).

    Without paths: the configured training folder when it exists. With paths: the training folder itself,
    anything inside it, and any YAML file whose top level has `cards:` are training; the rest are playbooks.
    """
    from bot.core.training.authored import is_training_source, training_files

    if not paths:
        return [], (training_files(config.training_dir) if config.training_dir.is_dir() else None)
    training_root = config.training_dir.resolve()
    playbook_paths: list[str] = []
    training: list[Path] | None = None  # stays None unless some path is training (even an empty folder)
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise _NoSuchPath(raw)
        resolved = path.resolve()
        inside = resolved == training_root or training_root in resolved.parents
        if path.is_dir():
            if inside:
                training = [*(training or []), *training_files(path)]
            else:
                playbook_paths.append(raw)
            continue
        try:
            cards_file = inside or is_training_source(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            cards_file = False  # the playbook loader reports the unreadable file
        if cards_file:
            training = [*(training or []), path]
        else:
            playbook_paths.append(raw)
    return playbook_paths, training


def _lint_training(files: list[Path], paths: Sequence[str], config: Config, playbooks: Sequence[Playbook],
                   languages: Sequence[str]) -> tuple[list[Problem], int]:
    """Problems of training files, `playbook:` links checked against the playbooks linted in the same run and,
    when files were named, those of the configured folder too (a card may link to any shipped playbook).
    With no playbook at hand at all, links are not checked rather than all reported unknown."""
    from bot.core.training.authored import load_training_directory, load_training_files

    playbook_ids: set[str] | None = {p.id for p in playbooks}
    if paths and config.playbooks_dir.is_dir():
        playbook_ids = {*playbook_ids, *(p.id for p in load_directory(config.playbooks_dir)[0])}
    elif not playbooks:
        playbook_ids = None
    if not paths:
        _, problems = load_training_directory(config.training_dir, playbook_ids, languages)
    else:
        _, problems = load_training_files(files, playbook_ids, languages)
    return problems, len(files)


def _test(args: argparse.Namespace, config: Config) -> int:
    from bot.core.examples import failures, run_examples

    try:
        playbooks, problems, _ = _load_paths(args.paths, config)
    except _NoSuchPath as exc:
        print(f"{exc}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    errors = [p for p in problems if p.severity == "error"]
    for problem in errors:
        print(problem)
    results = [result for playbook in playbooks for result in run_examples(playbook)]
    for result in failures(results):
        print(result)
    failed = len(failures(results)) + len(errors)
    without = [p.path for p in playbooks if not p.examples]
    for path in without:
        print(f"{path}: no examples")
    parts = [f"{len(results) - len(failures(results))} passed", f"{len(failures(results))} failed"]
    if errors:
        parts.append(f"{len(errors)} playbook error(s)")
    print(", ".join(parts))
    return 1 if failed else 0


def _graph(args: argparse.Namespace, config: Config) -> int:
    from bot.core.graph import FORMATS, GraphvizMissing, render

    output = Path(args.output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        print(f"moments: -o {args.output}: the picture must end in .png or .svg", file=sys.stderr)
        return EXIT_USAGE
    source = Path(args.playbook)
    if source.suffix in (".yaml", ".yml") and source.is_file():
        playbooks, problems = load_files([source])
    else:
        if not config.playbooks_dir.is_dir():
            raise PlaybookLoadError([])
        playbooks, problems = load_directory(config.playbooks_dir)
    playbook = next((p for p in playbooks if p.id == args.playbook or Path(p.path) == source), None)
    if playbook is None:
        for problem in problems:
            if problem.severity == "error":
                print(problem, file=sys.stderr)
        known = ", ".join(sorted(p.id for p in playbooks))
        print(f"moments: no playbook {args.playbook!r}; known: {known or 'none'}", file=sys.stderr)
        return 1
    try:
        data = render(playbook, fmt, args.language or config.default_language)
    except GraphvizMissing as exc:
        print(f"moments: {exc}", file=sys.stderr)
        return EXIT_USAGE
    output.write_bytes(data)
    print(f"{output}: decision tree of {playbook.id} ({len(playbook.steps)} step(s), "
          f"{len(playbook.outcomes)} outcome(s); ★ = favours the customer)")
    return 0


def _users_add(args: argparse.Namespace, config: Config) -> int:
    from storage import people

    async def add() -> tuple[bool, str]:
        async with open_database(config) as db:
            async with db.session() as session:
                user, created = await people.upsert_user(session, args.telegram_id, role=args.role,
                                                         team=args.team or config.default_team, name=args.name)
                if args.oversee:
                    await people.set_oversight(session, user, [t.strip() for t in args.oversee.split(",") if t.strip()],
                                               actor="shell")
            return created, args.team or config.default_team

    created, team = asyncio.run(add())
    also = f", overseeing {args.oversee}" if args.oversee else ""
    print(f"{'added' if created else 'updated'} {args.telegram_id} as {args.role} in team {team}{also}")
    return 0


def _audit(args: argparse.Namespace, config: Config) -> int:
    import json

    from storage.audit import all_entries

    since = datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None

    async def rows() -> list[dict[str, object]]:
        async with open_database(config) as db, db.session() as session:
            return [{"id": e.id, "at": e.at.isoformat(timespec="seconds"), "actor_id": e.actor_id or "",
                     "actor": e.actor, "action": e.action, "subject": e.subject, "team_id": e.team_id or "",
                     "before": json.dumps(e.before, sort_keys=True) if e.before else "",
                     "after": json.dumps(e.after, sort_keys=True) if e.after else ""}
                    for e in await all_entries(session, since=since)]

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
        async with open_database(config) as db, db.session() as session:
            return await export_rows(session, since=since, until=until, team=args.team)

    writer = csv.DictWriter(sys.stdout, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in asyncio.run(rows()):
        writer.writerow(row)
    return 0


def _seed_demo(args: argparse.Namespace, config: Config) -> int:
    from storage import seed

    if not config.playbooks_dir.is_dir():
        raise PlaybookLoadError([])
    playbooks, problems = load_directory(config.playbooks_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlaybookLoadError(errors)

    async def create_tables() -> None:
        async with open_database(config):
            pass

    asyncio.run(create_tables())

    def progress(done: int, total: int) -> None:  # one line per batch (storage.seed.BATCH rows)
        print(f"seeded {done:,} / {total:,} decisions…", file=sys.stderr, flush=True)

    try:
        report = seed.seed(config.database_url, playbooks, args.decisions, defaults=config.limits, teams=args.teams,
                           weeks=args.weeks, seed=args.seed, append=args.append, progress=progress)
    except seed.AlreadySeeded as exc:
        print(f"moments: {exc}: nothing seeded (--append adds to them)", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"moments: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"seeded {report.decisions:,} decisions over {report.teams} teams ({report.people} new people) and "
          f"{args.weeks} weeks from {len(playbooks)} playbooks in {report.seconds:.1f} s; "
          f"{report.total:,} decisions in the database")
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
        async with open_database(config) as db:
            async with db.session() as session:
                new_team = await people.team_by_name(session, args.team) is None
                team = await people.ensure_team(session, args.team[:64])
                assert team.id is not None
                token = new_token()
                invite = await invites.create(session, token_hash=hash_token(token), team_id=team.id,
                                              role=args.role, max_uses=args.uses, expires_at=utcnow() + lifetime)
            username = args.bot_username or await _bot_username(config)
            return invite.id or 0, token, invite.expires_at, new_team, username

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
        async with open_database(config) as db, db.session() as session:
            return await invites.active(session)

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
        async with open_database(config) as db, db.session() as session:
            return await invites.revoke(session, args.invite_id) is not None

    if not asyncio.run(revoke()):
        print(f"moments: no invite #{args.invite_id} to revoke (unknown, or revoked already)", file=sys.stderr)
        return 1
    print(f"invite #{args.invite_id} revoked")
    return 0



# ---- moments db upgrade | current | check | revision ---------------------------------------------------------------

def _add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("db", help="the database schema: migrations (Alembic)")
    sub = group.add_subparsers(title="db commands")
    upgrade = sub.add_parser("upgrade", help="upgrade the schema (as every start does unless "
                                             "database_migrate_on_start is off)")
    upgrade.add_argument("--revision", default="head", help="revision to upgrade to (default: head)")
    upgrade.set_defaults(handler=_db_upgrade)
    current = sub.add_parser("current", help="print the database's revision and the newest one")
    current.set_defaults(handler=_db_current)
    check = sub.add_parser("check", help="compare the models with a database at head; exit 1 when they differ "
                                         "(a migration is missing)")
    check.set_defaults(handler=_db_check)
    revision = sub.add_parser("revision", help="for developers: write the next migration into "
                                               "storage/migrations/versions, autogenerated from the models")
    revision.add_argument("-m", "--message", required=True, help="what the migration changes, in a few words")
    revision.add_argument("--empty", action="store_true", help="an empty migration to fill in by hand")
    revision.set_defaults(handler=_db_revision)


def _db_upgrade(args: argparse.Namespace, config: Config) -> int:
    from storage import migrations

    report = migrations.upgrade(config.database_url, args.revision)
    if report.adopted:
        print("adopted a database whose tables were made without migrations (create_all): stamped")
    if report.before == report.after:
        print(f"the database is at {report.after or 'no revision'}: nothing to do")
    else:
        print(f"upgraded the database from {report.before or 'empty'} to {report.after}")
    return 0


def _db_current(args: argparse.Namespace, config: Config) -> int:
    from storage import migrations

    found, head = migrations.current(config.database_url), migrations.head_revision()
    print(f"{found or 'none'} (head: {head})" if found != head else f"{found} (head)")
    return 0


def _db_check(args: argparse.Namespace, config: Config) -> int:
    from storage import migrations

    diffs = migrations.check(config.database_url)
    if not diffs:
        print("the models match the migrations")
        return 0
    for diff in diffs:
        print(diff)
    print(f"moments: the models differ from the migrations in {len(diffs)} place(s): write a migration with "
          "`moments db revision -m '...'`", file=sys.stderr)
    return 1


def _db_revision(args: argparse.Namespace, config: Config) -> int:
    from storage import migrations

    path = migrations.new_revision(config.database_url, args.message, autogenerate=not args.empty)
    print(f"wrote {path}: read it, and fix what autogenerate cannot know (renames, data, server defaults)")
    return 0


# ---- moments playbooks sync | export ----------------------------------------------------------------------------

def _add_playbooks_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("playbooks", help="playbooks in the database: sync the folder in, export live ones")
    sub = group.add_subparsers(title="playbooks commands")
    sync = sub.add_parser("sync", help="publish changed files of the playbooks folder (as at every start)")
    sync.add_argument("--force", action="store_true",
                      help="publish changed files even over a newer version uploaded or rolled back in the bot")
    sync.set_defaults(handler=_playbooks_sync)
    export = sub.add_parser("export", help="write the live versions to DIR/<category>/<id>.yaml")
    export.add_argument("directory", type=Path)
    export.set_defaults(handler=_playbooks_export)


def _playbooks_sync(args: argparse.Namespace, config: Config) -> int:
    from bot.core.authoring import sync_files
    from storage.playbooks import ensure_columns

    if not config.playbooks_dir.is_dir():
        raise PlaybookLoadError([])
    playbooks, problems = load_directory(config.playbooks_dir)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise PlaybookLoadError(errors)

    async def sync() -> tuple[list[str], list[str]]:
        async with open_database(config) as db:
            await ensure_columns(db)
            report = await sync_files(db, playbooks, force=args.force)
            return report.published, report.kept

    published, kept = asyncio.run(sync())
    for path in published:
        print(f"published {path}")
    for path in kept:
        print(f"kept the bot's version over {path} (use --force to publish the file)")
    print(f"{len(published)} published, {len(kept)} kept, {len(playbooks) - len(published) - len(kept)} unchanged")
    return 0


def _playbooks_export(args: argparse.Namespace, config: Config) -> int:
    from storage import playbooks as store

    async def live() -> list[tuple[str, str, str]]:
        async with open_database(config) as db:
            await store.ensure_columns(db)
            async with db.session() as session:
                return [(state.category, state.playbook_id, text) for state, text in await store.live_sources(session)]

    found = asyncio.run(live())
    for category, playbook_id, text in found:
        target = args.directory / category / f"{playbook_id}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    print(f"{len(found)} live playbook(s) exported to {args.directory}")
    return 0


# ---- moments digest show | push ---------------------------------------------------------------------------------

def _add_digest_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("digest", help="the weekly digest of a team: print it, or send it to its managers")
    sub = group.add_subparsers(title="digest commands")
    show = sub.add_parser("show", help="print a team's digest (text) and write its chart to a PNG file")
    show.add_argument("--team", required=True)
    show.add_argument("--week", help="ISO week such as 2026-W47 (default: the last complete week)")
    show.set_defaults(handler=_digest_show)
    push = sub.add_parser("push", help="send a team's digest to its managers and supervisors now (needs a token)")
    push.add_argument("--team", required=True)
    push.add_argument("--week", help="ISO week such as 2026-W47 (default: the last complete week)")
    push.add_argument("--again", action="store_true",
                      help="send even if this team-week's digest went out already (no once-per-week claim)")
    push.set_defaults(handler=_digest_push)


def _plain(html_text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def _digest_show(args: argparse.Namespace, config: Config) -> int:
    import tempfile

    from bot.core.digest import WeekError
    from bot.handlers.digest import build, team_week
    from bot.ui.render import Renderer
    from storage import digest as store

    async def show() -> int:
        async with open_database(config) as db:
            async with db.session() as session:
                team = await store.team_by_name(session, args.team)
            if team is None:
                print(f"moments: there is no team {args.team!r}", file=sys.stderr)
                return 1
            try:
                week = team_week(team, config, args.week)
            except WeekError as exc:
                print(f"moments: {exc}", file=sys.stderr)
                return EXIT_USAGE
            digest = await build(db, Renderer(config.currency), config, team, week, config.default_language)
        print("\n\n".join(_plain(text) for text in digest.messages))
        if digest.chart is not None:
            with tempfile.NamedTemporaryFile("wb", prefix=f"{digest.filename}-", suffix=".png",
                                             delete=False) as out:
                out.write(digest.chart)
            print(f"\nchart: {out.name}")
        return 0

    return asyncio.run(show())


def _digest_push(args: argparse.Namespace, config: Config) -> int:
    from bot.app import build_bot
    from bot.core.digest import WeekError
    from bot.handlers.digest import push
    from bot.ui.render import Renderer
    from storage import digest as store

    config.require_token()

    async def send() -> int:
        db = Database(config.database_url)
        bot = build_bot(config)
        try:
            await db.migrate()
            async with db.session() as session:
                team = await store.team_by_name(session, args.team)
            if team is None or team.id is None:
                print(f"moments: there is no team {args.team!r}", file=sys.stderr)
                return 1
            try:
                report = await push(db, Renderer(config.currency), config, bot, team.id, week_label=args.week,
                                    claim=not args.again)
            except WeekError as exc:
                print(f"moments: {exc}", file=sys.stderr)
                return EXIT_USAGE
        finally:
            await bot.session.close()
            await db.dispose()
        assert report is not None
        if not report.claimed:
            print(f"the digest of {report.team} for {report.week} went out already: nothing sent "
                  "(--again sends it anyway)")
            return 1
        print(f"digest of {report.team} for {report.week}: sent to {report.sent} of {report.recipients}"
              f" ({report.blocked} blocked the bot)")
        return 0

    return asyncio.run(send())


if __name__ == "__main__":
    sys.exit(main())
