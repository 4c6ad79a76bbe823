"""Schema migrations (Alembic), configured in code so they run from any directory and from a wheel.

`upgrade()` is what `moments db upgrade` and every start run: one transaction, under a lock, so two processes
starting together cannot both migrate (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE, its write lock).
A database made by `create_all` before migrations existed (no alembic_version) is compared with the first
revision, brought to it the way the old start did (missing tables, playbook_versions' later columns), stamped,
and upgraded; one that differs otherwise is refused with the differences named.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

SCRIPTS = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema create_all made before migrations: existing databases are stamped with it
VERSION_TABLE = "alembic_version"
# APScheduler's job store creates and owns this table (bot/scheduler.py): not ours to migrate.
IGNORED_TABLES = frozenset({"apscheduler_jobs"})
# pg_advisory_xact_lock key: any constant bigint that no other code of ours uses ("moments" in ASCII).
LOCK_KEY = 0x6D6F6D656E7473

log = logging.getLogger(__name__)
# Alembic narrates every context it opens at INFO; our own line says what changed.
logging.getLogger("alembic").setLevel(logging.WARNING)


class MigrationError(Exception):
    """A database that cannot be migrated; the message says why and what to do, for people."""


@dataclass(frozen=True)
class UpgradeReport:
    before: str | None  # the revision found (None: an empty database, or one made by create_all)
    after: str | None
    adopted: bool = False  # a create_all database was stamped with the baseline first


# ---- configuration -----------------------------------------------------------------------------------------------

def sync_url(url: str) -> str:
    """The synchronous driver for a DATABASE_URL, by the same rules as storage.db (sqlite:///, postgresql://)."""
    from storage.db import async_url

    parsed = make_url(async_url(url))  # validates, and raises DatabaseURLError for people
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername in ("postgresql+asyncpg", "postgresql+aiopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 serves both; async drivers cannot
    return parsed.render_as_string(hide_password=False)


def is_memory(url: str) -> bool:
    parsed = make_url(sync_url(url))
    return parsed.get_backend_name() == "sqlite" and (parsed.database or "") in ("", ":memory:")


def migration_engine(url: str) -> Engine:
    """A short-lived synchronous engine for migrations. On SQLite every transaction starts with BEGIN IMMEDIATE:
    the whole upgrade, DDL included, is one transaction that holds the write lock from its first statement."""
    from storage.db import _sqlite_pragmas

    target = sync_url(url)
    if make_url(target).get_backend_name() != "sqlite":
        return create_engine(target, poolclass=NullPool)
    database = make_url(target).database or ""
    if database not in ("", ":memory:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # as storage.db does
    engine = create_engine(target, poolclass=NullPool, connect_args={"timeout": 30})

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(10_000)(dbapi_connection, record)  # a sync engine on its own thread: SQLite waits
        dbapi_connection.isolation_level = None  # pysqlite would otherwise commit around DDL on its own

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("version_locations", str(SCRIPTS / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table":
        return name not in IGNORED_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name not in IGNORED_TABLES


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Plain SQLAlchemy types in migration scripts: they must not change when an application type does."""
    if type_ != "type":
        return False
    from sqlmodel.sql.sqltypes import AutoString

    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, TypeDecorator):
        return f"sa.{type(obj.impl_instance).__name__}()"
    return False


def compare_type(context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any,
                 metadata_type: Any) -> bool | None:
    """False when equal, None to let Alembic compare. SQLite stores TIMESTAMP and DATETIME columns alike, and
    SQLAlchemy reads them by the model's type: storage.playbooks.ensure_columns wrote TIMESTAMP."""
    if isinstance(metadata_type, TypeDecorator):
        metadata_type = metadata_type.impl_instance
    if context.dialect.name == "sqlite" and isinstance(inspected_type, DateTime) and isinstance(metadata_type,
                                                                                               DateTime):
        return False
    return None


def context_options(connection: Connection) -> dict[str, Any]:
    return {
        "target_metadata": SQLModel.metadata,
        "include_object": include_object,
        "render_item": render_item,
        "compare_type": compare_type,
        # SQLite alters a table by copying it: autogenerate writes batch operations that work on both databases.
        "render_as_batch": connection.dialect.name == "sqlite",
    }


def configure_context(context: Any, connection: Connection) -> None:
    """What env.py runs: the connection it was handed, Moments' metadata, and the options above."""
    context.configure(connection=connection, **context_options(connection))


# ---- reading the state --------------------------------------------------------------------------------------------

def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return script_directory().get_current_head()


def differences(connection: Connection) -> list[Any]:
    """What autogenerate would write to make this database match the models; empty when they match."""
    context = MigrationContext.configure(connection, opts=context_options(connection))
    return list(compare_metadata(context, SQLModel.metadata))


def _app_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - IGNORED_TABLES - {VERSION_TABLE}


def shape(connection: Connection, tables: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """Tables as both dialects reflect them alike: columns with nullability, primary key, index names, unique
    column sets. Types differ in spelling between dialects, and are left to `moments db check`."""
    inspector = inspect(connection)
    result: dict[str, dict[str, Any]] = {}
    for table in sorted(tables if tables is not None else _app_tables(connection)):
        indexes = inspector.get_indexes(table)
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        unique |= {tuple(i["column_names"]) for i in indexes if i.get("unique")}
        result[table] = {
            "columns": {c["name"]: bool(c["nullable"]) for c in inspector.get_columns(table)},
            "primary key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "indexes": {i["name"] for i in indexes if not i.get("duplicates_constraint")},
            "unique": unique,
        }
    return result


_baseline: dict[str, dict[str, Any]] | None = None


def baseline_shape() -> dict[str, dict[str, Any]]:
    """The schema of revision BASELINE, made in a scratch in-memory database: frozen with the migration itself,
    whatever the models say later."""
    global _baseline
    if _baseline is None:
        engine = create_engine("sqlite://", poolclass=StaticPool)
        try:
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), BASELINE)
                _baseline = shape(connection)
        finally:
            engine.dispose()
    return _baseline


def describe(found: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for table in sorted(expected.keys() - found.keys()):
        problems.append(f"table {table} is missing")
    for table in sorted(expected.keys() & found.keys()):
        have, want = found[table], expected[table]
        for column in sorted(want["columns"].keys() - have["columns"].keys()):
            problems.append(f"{table}.{column} is missing")
        for column in sorted(have["columns"].keys() - want["columns"].keys()):
            problems.append(f"{table}.{column} is not in the schema")
        for column in sorted(want["columns"].keys() & have["columns"].keys()):
            if want["columns"][column] != have["columns"][column]:
                null = "NULL" if want["columns"][column] else "NOT NULL"
                problems.append(f"{table}.{column} should be {null}")
        if have["primary key"] != want["primary key"]:
            problems.append(f"{table} has primary key {have['primary key']}, not {want['primary key']}")
        for index in sorted(want["indexes"] - have["indexes"]):
            problems.append(f"index {index} on {table} is missing")
        for columns in sorted(want["unique"] - have["unique"]):
            problems.append(f"{table} lacks a unique constraint on {', '.join(columns)}")
    return problems


# ---- changing it ---------------------------------------------------------------------------------------------------

@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    engine = migration_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def lock(connection: Connection) -> None:
    """Serialise migrations between processes until this transaction ends (SQLite: BEGIN IMMEDIATE did)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def upgrade_connection(connection: Connection, revision: str = "head") -> UpgradeReport:
    """Upgrade inside the caller's transaction: adopt a create_all database first, then run the migrations."""
    lock(connection)
    before = current_revision(connection)
    script = script_directory()
    if before is not None and before not in {rev.revision for rev in script.walk_revisions()}:
        raise MigrationError(f"the database is at revision {before}, which this release of Moments does not know: "
                             "a newer release migrated it. Run that release, or restore a backup made before.")
    adopted = False
    # Tables of ours without a revision: made by create_all (before migrations, or by a command that creates
    # tables). Other tables in a shared database are not ours to judge.
    if before is None and _app_tables(connection) & set(baseline_shape()):
        adopt_legacy(connection)
        adopted = True
    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as exc:  # an unknown --revision, or a downgrade asked of upgrade
        raise MigrationError(f"cannot upgrade to {revision!r}: {exc}") from exc
    after = current_revision(connection)
    if adopted or before != after:
        log.info("database schema %s → %s%s", before or "empty", after, " (adopted a create_all database)"
                 if adopted else "")
    return UpgradeReport(before, after, adopted)


def upgrade(url: str, revision: str = "head") -> UpgradeReport:
    with _connection(url) as connection:
        return upgrade_connection(connection, revision)


def downgrade(url: str, revision: str) -> None:
    with _connection(url) as connection:
        lock(connection)
        command.downgrade(alembic_config(connection), revision)


def current(url: str) -> str | None:
    with _connection(url) as connection:
        return current_revision(connection)


def check(url: str) -> list[Any]:
    """Differences between the models and a database that is at head; MigrationError when it is not there."""
    with _connection(url) as connection:
        found, head = current_revision(connection), head_revision()
        if found != head:
            raise MigrationError(f"the database is at revision {found or 'none'}, not at the head {head}: "
                                 "run `moments db upgrade` first")
        return differences(connection)


def new_revision(url: str, message: str, autogenerate: bool = True) -> Path:
    """Write the next numbered revision (0002, 0003…) into versions/, autogenerated against a database at head."""
    script = script_directory()
    number = 1 + max((int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()), default=0)
    with _connection(url) as connection:
        if autogenerate and current_revision(connection) != script.get_current_head():
            raise MigrationError("autogenerate compares with a database at head: run `moments db upgrade` first")
        made = command.revision(alembic_config(connection), message=message, autogenerate=autogenerate,
                                rev_id=f"{number:04d}")
    assert made is not None and not isinstance(made, list)
    return Path(made.path)


# ---- databases made by create_all -----------------------------------------------------------------------------------

def adopt_legacy(connection: Connection) -> None:
    """Stamp a database made by create_all: at head when it matches the models exactly (made by this release),
    else brought to BASELINE (made by a release before migrations) and stamped there, or refused."""
    from storage.playbooks import add_missing_version_columns

    if not differences(connection):
        command.stamp(alembic_config(connection), "head")
        return
    expected = baseline_shape()
    found = _app_tables(connection)
    # The old start created missing tables (an install that skipped releases) from the models: do the same
    # while the model still has the baseline's shape.
    missing = [SQLModel.metadata.tables[name] for name in sorted(expected.keys() - found)
               if name in SQLModel.metadata.tables]
    if missing:
        SQLModel.metadata.create_all(connection, tables=missing)
        made = shape(connection, {t.name for t in missing})
        if describe(made, {name: expected[name] for name in made}):
            raise MigrationError(_refusal(describe(shape(connection), expected)))
    if "playbook_versions" in found:
        add_missing_version_columns(connection)  # what storage.playbooks.ensure_columns did at every start
        _add_author_foreign_key(connection)
    problems = describe(shape(connection, set(expected)), expected)
    if problems:
        raise MigrationError(_refusal(problems))
    command.stamp(alembic_config(connection), BASELINE)


def _add_author_foreign_key(connection: Connection) -> None:
    """ensure_columns added playbook_versions.author_id without its foreign key to users: add it."""
    keys = inspect(connection).get_foreign_keys("playbook_versions")
    if any(fk["constrained_columns"] == ["author_id"] for fk in keys):
        return
    operations = Operations(MigrationContext.configure(connection))
    with operations.batch_alter_table("playbook_versions") as batch:  # SQLite: copies the table
        batch.create_foreign_key("playbook_versions_author_id_fkey", "users", ["author_id"], ["id"])


def _refusal(problems: list[str]) -> str:
    return ("the database was made before migrations, but its schema is not the one Moments had then ("
            + "; ".join(problems) + "). Nothing was changed. Restore it from a backup made by Moments, or fix "
            "these by hand, then run `moments db upgrade` again.")
