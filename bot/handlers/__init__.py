"""aiogram routers, one per feature; the order matters: specific before catch-all."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, audit, errors, fallback, history, limits, moment, privacy, start


def routers() -> list[Router]:
    return [
        errors.router(),
        start.router(),
        admin.router(),
        audit.router(),
        limits.router(),
        privacy.router(),
        history.router(),
        moment.router(),
        fallback.router(),
    ]
