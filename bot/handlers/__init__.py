"""aiogram routers, one per feature; the order matters: specific before catch-all."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import admin, errors, fallback, history, moment, start


def routers() -> list[Router]:
    return [errors.router(), start.router(), admin.router(), history.router(), moment.router(), fallback.router()]
