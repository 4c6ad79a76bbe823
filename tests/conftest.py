from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlmodel import SQLModel

from bot.config import Config, load_config
from storage.db import Database
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
ADMIN_ID = 1000
STAFF_ID = 2000
POSTGRES_URL = os.environ.get("MOMENTS_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("MOMENTS_REQUIRE_POSTGRES") == "1"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every database test runs on a SQLite file and, where CI provides one, on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/moments.db"
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("MOMENTS_REQUIRE_POSTGRES is set but MOMENTS_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL: set MOMENTS_TEST_POSTGRES_URL (CI does)")
    url = await _worker_database(POSTGRES_URL)
    db = Database(url)
    try:
        async with db.engine.begin() as connection:  # each test starts from an empty database
            await connection.run_sync(SQLModel.metadata.drop_all)
            # Else the next start finds the schema "at head" with no tables, and migrates nothing.
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await db.dispose()
    return url


async def _worker_database(url: str) -> str:
    """Under pytest-xdist (`make test` runs the e2e folder on several workers), each worker gets a database of
    its own next to the given one, made on first use: tests empty the database they start with, so two
    workers on one would wipe each other's tables mid-test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            exists = (await connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                               {"name": name})).first()
            if exists is None:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await db.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def config(database_url: str) -> Config:
    return load_config(ROOT / "config.yaml", environ={
        "DATABASE_URL": database_url,
        "PLAYBOOKS_DIR": str(ROOT / "playbooks"),
        "MOMENTS_ADMINS": str(ADMIN_ID),
        "BOT_TOKEN": "42:TEST",
    })


@pytest.fixture
async def harness(config: Config) -> AsyncIterator[Harness]:
    h = await Harness.start(config)
    try:
        yield h
    finally:
        await h.stop()
