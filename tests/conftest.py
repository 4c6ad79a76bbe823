from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.config import Config, load_config
from storage.db import Database
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
ADMIN_ID = 1000
STAFF_ID = 2000
POSTGRES_URL = os.environ.get("MOMENTS_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("MOMENTS_REQUIRE_POSTGRES") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs the e2e folder on several workers) the tests on the one PostgreSQL
    database must not run at once: they form one group, which `--dist loadgroup` gives to a single worker."""
    for item in items:
        if "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("postgresql"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every database test runs on a SQLite file and, where CI provides one, on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/moments.db"
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("MOMENTS_REQUIRE_POSTGRES is set but MOMENTS_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL: set MOMENTS_TEST_POSTGRES_URL (CI does)")
    db = Database(POSTGRES_URL)
    try:
        async with db.engine.begin() as connection:  # each test starts from an empty database
            await connection.run_sync(SQLModel.metadata.drop_all)
            # Else the next start finds the schema "at head" with no tables, and migrates nothing.
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await db.dispose()
    return POSTGRES_URL


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
