"""Schema migrations (storage/migrations): empty → head, every revision up and down, the models against the
migrations, databases made by create_all before migrations, the lock between processes, `moments db`."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

from bot.cli import main
from bot.config import Config
from storage import migrations
from storage.db import Database
from storage.models import Team
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
MODEL_TABLES = set(SQLModel.metadata.tables)


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = migrations.migration_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    with connect(url) as connection:
        # apscheduler_jobs: left by the scheduler tests on PostgreSQL, and never the migrations' business
        return set(inspect(connection).get_table_names()) - {migrations.VERSION_TABLE} - migrations.IGNORED_TABLES


def differences(url: str) -> list[object]:
    with connect(url) as connection:
        return migrations.differences(connection)


def revisions() -> list[str]:
    """Oldest first."""
    return [script.revision for script in reversed(list(migrations.script_directory().walk_revisions()))]


async def create_all(url: str) -> None:
    """A database as every start made it before migrations."""
    db = Database(url)
    try:
        await db.create_tables()
        async with db.session() as session:
            session.add(Team(name="shop-1"))
            await session.commit()
    finally:
        await db.dispose()


def test_an_empty_database_upgrades_to_head(database_url: str) -> None:
    report = migrations.upgrade(database_url)
    assert (report.before, report.after, report.adopted) == (None, migrations.head_revision(), False)
    assert tables(database_url) == MODEL_TABLES
    assert migrations.current(database_url) == migrations.head_revision()
    again = migrations.upgrade(database_url)  # every start runs it: the second time does nothing
    assert again.before == again.after == migrations.head_revision()


def test_the_models_match_the_migrations(database_url: str) -> None:
    """A model changed without a migration fails here: write one with `moments db revision -m ...`."""
    migrations.upgrade(database_url)
    assert migrations.check(database_url) == []


def test_every_revision_goes_up_and_down(database_url: str) -> None:
    chain = revisions()
    assert chain[0] == migrations.BASELINE and chain[-1] == migrations.head_revision()
    for before, revision in zip(["base", *chain[:-1]], chain, strict=True):
        migrations.upgrade(database_url, revision)
        assert migrations.current(database_url) == revision
        migrations.downgrade(database_url, before)
        assert migrations.current(database_url) == (None if before == "base" else before)
        migrations.upgrade(database_url, revision)
    migrations.downgrade(database_url, "base")
    assert tables(database_url) & MODEL_TABLES == set()
    migrations.upgrade(database_url)
    assert differences(database_url) == []


async def test_a_create_all_database_is_stamped_and_upgraded(database_url: str) -> None:
    await create_all(database_url)
    db = Database(database_url)
    try:
        report = await db.migrate()
        assert report.adopted and report.before is None and report.after == migrations.head_revision()
        async with db.session() as session:
            assert (await session.get(Team, 1)) is not None  # the data is untouched
    finally:
        await db.dispose()
    assert differences(database_url) == []


async def test_an_older_database_gets_what_the_old_start_added_then_is_adopted(database_url: str) -> None:
    """An install a few releases old: playbook_versions without the authoring columns (which ensure_columns
    added at start, without a foreign key) and a table from a later release missing altogether."""
    await create_all(database_url)
    with connect(database_url) as connection:
        key = "SERIAL" if connection.dialect.name == "postgresql" else "INTEGER"  # as create_all wrote it then
        connection.execute(text("DROP TABLE training_answers"))
        connection.execute(text("DROP TABLE playbook_versions"))
        connection.execute(text(
            f"CREATE TABLE playbook_versions (id {key} NOT NULL PRIMARY KEY, playbook_id VARCHAR(64) NOT NULL, "
            "version VARCHAR(64) NOT NULL, source TEXT NOT NULL, origin VARCHAR(512) NOT NULL, "
            "created_at TIMESTAMP NOT NULL, CONSTRAINT uq_playbook_version UNIQUE (playbook_id, version))"))
        connection.execute(text("CREATE INDEX ix_playbook_versions_playbook_id ON playbook_versions (playbook_id)"))
        connection.execute(text("INSERT INTO playbook_versions (playbook_id, version, source, origin, created_at) "
                                "VALUES ('refund', '1', 'id: refund', 'playbooks/refund.yaml', '2026-01-05')"))
    report = migrations.upgrade(database_url)
    assert report.adopted and report.after == migrations.head_revision()
    assert differences(database_url) == []  # columns, the author's foreign key, the missing table
    with connect(database_url) as connection:
        row = connection.execute(text("SELECT playbook_id, changelog, author_id FROM playbook_versions")).one()
    assert tuple(row) == ("refund", "", None)


async def test_a_database_that_differs_from_the_baseline_is_refused_untouched(database_url: str) -> None:
    await create_all(database_url)
    with connect(database_url) as connection:
        connection.execute(text("ALTER TABLE teams ADD COLUMN region VARCHAR(32)"))
        connection.execute(text("DROP INDEX ix_audit_log_at"))
    with pytest.raises(migrations.MigrationError) as refused:
        migrations.upgrade(database_url)
    assert "teams.region is not in the schema" in str(refused.value)
    assert "index ix_audit_log_at on audit_log is missing" in str(refused.value)
    assert migrations.current(database_url) is None  # not stamped: nothing was changed


def test_a_revision_from_a_newer_release_or_a_wrong_one_is_refused(database_url: str) -> None:
    migrations.upgrade(database_url)
    with pytest.raises(migrations.MigrationError, match="cannot upgrade to 'nosuch'"):
        migrations.upgrade(database_url, "nosuch")
    with connect(database_url) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrations.MigrationError, match="at revision 9999, which this release"):
        migrations.upgrade(database_url)


def test_tables_of_another_application_are_left_alone(database_url: str) -> None:
    with connect(database_url) as connection:
        connection.execute(text("CREATE TABLE other_app (id INTEGER PRIMARY KEY)"))
    try:
        report = migrations.upgrade(database_url)
        assert not report.adopted and report.after == migrations.head_revision()
        assert tables(database_url) == MODEL_TABLES | {"other_app"}
    finally:
        with connect(database_url) as connection:
            connection.execute(text("DROP TABLE other_app"))


def test_an_in_memory_database_migrates_on_its_own_connection() -> None:
    async def go() -> list[object]:
        db = Database("sqlite://")
        try:
            await db.migrate()
            async with db.engine.connect() as connection:
                return await connection.run_sync(migrations.differences)
        finally:
            await db.dispose()

    assert asyncio.run(go()) == []


def test_a_second_process_waits_for_the_first_ones_migration(database_url: str) -> None:
    """Whoever holds the lock migrates; the other waits, then finds the schema at head and does nothing."""
    engine = migrations.migration_engine(database_url)
    done = threading.Event()
    reports: list[migrations.UpgradeReport] = []

    def second() -> None:
        reports.append(migrations.upgrade(database_url))
        done.set()

    try:
        with engine.begin() as holder:
            migrations.lock(holder)  # PostgreSQL: the advisory lock; SQLite: BEGIN IMMEDIATE already holds it
            waiter = threading.Thread(target=second)
            waiter.start()
            assert not done.wait(1.0), "the upgrade ran while another process held the migration lock"
            migrations.upgrade_connection(holder)
        waiter.join(30)
    finally:
        engine.dispose()
    assert done.is_set()
    assert reports[0].before == reports[0].after == migrations.head_revision()
    assert differences(database_url) == []


async def test_processes_starting_together_migrate_once(database_url: str) -> None:
    reports = await asyncio.gather(*(asyncio.to_thread(migrations.upgrade, database_url) for _ in range(3)))
    assert sorted(report.before is None for report in reports) == [False, False, True]
    assert differences(database_url) == []


async def test_start_migrates_unless_disabled(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    await create_all(config.database_url)
    off = config.model_copy(update={"database_migrate_on_start": False})
    with caplog.at_level(logging.WARNING):
        harness = await Harness.start(off)
        await harness.stop()
    assert migrations.current(config.database_url) is None
    assert "run `moments db upgrade`" in caplog.text
    harness = await Harness.start(config)
    await harness.stop()
    assert migrations.current(config.database_url) == migrations.head_revision()


def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("DATABASE_URL", database_url)


def test_db_commands(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env(monkeypatch, database_url)
    head = migrations.head_revision()
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out == f"none (head: {head})\n"
    assert main(["db", "check"]) == 1
    assert "run `moments db upgrade` first" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"upgraded the database from empty to {head}\n"
    assert main(["db", "upgrade", "--revision", head or ""]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out == f"{head} (head)\n"
    assert main(["db", "check"]) == 0
    assert capsys.readouterr().out == "the models match the migrations\n"
    with connect(database_url) as connection:  # a model index without its migration, as the check sees it
        connection.execute(text("DROP INDEX ix_audit_log_at"))
    assert main(["db", "check"]) == 1
    captured = capsys.readouterr()
    assert "ix_audit_log_at" in captured.out and "differ from the migrations in 1 place" in captured.err


def test_db_revision_writes_a_migration_that_upgrades_to_the_models(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    scripts = tmp_path / "migrations"  # a copy: the real versions/ folder is not for tests to write in
    shutil.copytree(migrations.SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "SCRIPTS", scripts)
    env(monkeypatch, database_url)
    migrations.upgrade(database_url)
    with connect(database_url) as connection:  # the database of a release before ix_audit_log_at existed
        connection.execute(text("DROP INDEX ix_audit_log_at"))
    assert main(["db", "revision", "-m", "index audit by time"]) == 0
    [written] = (scripts / "versions").glob("0002_*.py")
    assert str(written) in capsys.readouterr().out
    source = written.read_text()
    assert "down_revision: str | None = '0001'" in source and "ix_audit_log_at" in source
    assert main(["db", "upgrade"]) == 0
    assert migrations.current(database_url) == "0002"
    assert differences(database_url) == []
    migrations.downgrade(database_url, "0001")
    assert "ix_audit_log_at" not in {i["name"] for i in _indexes(database_url, "audit_log")}


def _indexes(url: str, table: str) -> list[dict[str, object]]:
    with connect(url) as connection:
        return list(inspect(connection).get_indexes(table))  # type: ignore[arg-type]


def test_migrate_on_start_is_a_config_key_and_an_environment_switch() -> None:
    from bot.config import load_config

    assert load_config(ROOT / "config.yaml", environ={}).database_migrate_on_start is True
    assert load_config(ROOT / "config.yaml", environ={"MOMENTS_DB_MIGRATE": "0"}).database_migrate_on_start is False
