"""aiogram routers, one per feature; the order matters: specific before catch-all."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    admin,
    audit,
    authoring,
    digest,
    errors,
    escalation,
    fallback,
    graph,
    history,
    invites,
    language,
    limits,
    moment,
    onboarding,
    privacy,
    start,
    team,
    training,
    unmatched,
)


def routers() -> list[Router]:
    return [
        errors.router(),
        onboarding.router(),  # before start: `/start <token>` is an invite, plain /start the menu
        start.router(),
        admin.router(),
        invites.router(),
        team.router(),
        audit.router(),
        authoring.router(),  # managers' .yaml uploads and /playbooks
        digest.router(),  # /digest [team] [week]: the weekly figures for managers and supervisors
        graph.router(),  # /graph ID: a playbook's decision tree as a picture
        unmatched.router(),  # /unmatched, and "None of these" under search results
        limits.router(),
        privacy.router(),
        language.router(),  # /language
        history.router(),
        training.router(),  # /train, /progress, /results, /push and the answers to cards
        escalation.router(),  # before moment: asking a lead, and what is typed while waiting for one
        moment.router(),
        fallback.router(),
    ]
