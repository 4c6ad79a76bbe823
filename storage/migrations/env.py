"""Alembic's environment for Moments. Run through storage.migrations (`moments db ...`), which hands over an open
connection inside a transaction: there is no alembic.ini and no URL to read here."""

from __future__ import annotations

from alembic import context

from storage.migrations import configure_context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Moments' migrations run through `moments db upgrade` (storage.migrations), "
                       "which provides the database connection; offline (--sql) mode is not supported.")
configure_context(context, connection)
with context.begin_transaction():
    context.run_migrations()
