"""Authoring screens: upload check and diff, the playbook list, one playbook, its history."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.core.authoring import MAX_SHOWN_PROBLEMS, MAX_UPLOAD_BYTES, Overview, Upload
from bot.ui.render import local_time
from bot.ui.screens import Screens, View
from storage.models import PlaybookPublication


class DraftAction(StrEnum):
    PUBLISH = "p"
    TRY = "t"
    DISCARD = "d"


class DraftCb(CallbackData, prefix="ad"):
    """A button under an uploaded draft; the draft id is short and stored in the database."""

    action: DraftAction
    draft: str


class BookAction(StrEnum):
    LIST = "l"
    OPEN = "o"
    DOWNLOAD = "g"
    HISTORY = "h"
    ROLLBACK = "r"
    RETIRE = "x"
    UNRETIRE = "u"


class BookCb(CallbackData, prefix="ab"):
    """A button about one playbook: ids are at most 40 characters, versions 12, so it fits in 64 bytes."""

    action: BookAction
    playbook: str = ""
    version: str = ""


def short(version: str) -> str:
    return version[:7]


def refused(screens: Screens, lang: str, reason: str) -> View:
    return View(screens.r.render("authoring_refused.html.j2", lang, reason=reason,
                                 max_kb=MAX_UPLOAD_BYTES // 1024))


def problems(screens: Screens, lang: str, filename: str, upload: Upload) -> View:
    items = [{"line": p.line, "column": p.column, "message": screens.r.problem(p, lang)} for p in upload.problems]
    return View(screens.r.render("authoring_errors.html.j2", lang, filename=filename, problems=items,
                                 hidden=upload.hidden, shown_max=MAX_SHOWN_PROBLEMS))


def diff(screens: Screens, lang: str, upload: Upload) -> View:
    assert upload.draft is not None and upload.playbook is not None and upload.diff is not None
    changes = upload.diff
    kb = InlineKeyboardBuilder()
    draft_id = upload.draft.id
    if not changes.is_empty:
        kb.button(text=screens.r.t("authoring.publish", lang),
                  callback_data=DraftCb(action=DraftAction.PUBLISH, draft=draft_id))
    kb.button(text=screens.r.t("authoring.try", lang), callback_data=DraftCb(action=DraftAction.TRY, draft=draft_id))
    kb.button(text=screens.r.t("authoring.discard", lang),
              callback_data=DraftCb(action=DraftAction.DISCARD, draft=draft_id))
    kb.adjust(1, 2) if not changes.is_empty else kb.adjust(2)
    limits = [{"role": role, "before": before, "after": after} for role, (before, after)
              in changes.limits_changed.items()]
    recommendations = [{"answers": " → ".join(c.answers), "before": c.before, "after": c.after}
                       for c in changes.recommendations_changed]
    text = screens.r.render(
        "authoring_diff.html.j2", lang, new=upload.before is None, id=upload.playbook.id,
        title=upload.playbook.title.get(lang), version=short(upload.playbook.version),
        live=short(upload.before.version) if upload.before else "", changelog=upload.draft.changelog,
        diff=changes, limits=limits, recommendations=recommendations, empty=changes.is_empty)
    return View(text, kb.as_markup())


def listing(screens: Screens, lang: str, rows: Sequence[Overview], timezone: str, notice: str = "") -> View:
    kb = InlineKeyboardBuilder()
    items = []
    for row in rows:
        publication = row.publication
        items.append({"id": row.state.playbook_id, "title": row.title, "version": short(row.state.live_version),
                      "author": _author(screens, lang, publication), "retired": row.state.retired,
                      "when": _when(publication, timezone, lang), "uses": row.uses})
        kb.button(text=screens.r.t("authoring.open", lang, title=row.title[:40]),
                  callback_data=BookCb(action=BookAction.OPEN, playbook=row.state.playbook_id))
    kb.adjust(1)
    return View(screens.r.render("authoring_list.html.j2", lang, items=items, notice=notice), kb.as_markup())


def playbook(screens: Screens, lang: str, row: Overview, timezone: str, notice: str = "") -> View:
    pid = row.state.playbook_id
    kb = InlineKeyboardBuilder()
    kb.button(text=screens.r.t("authoring.download", lang), callback_data=BookCb(action=BookAction.DOWNLOAD,
                                                                                  playbook=pid))
    kb.button(text=screens.r.t("authoring.history", lang), callback_data=BookCb(action=BookAction.HISTORY,
                                                                                 playbook=pid))
    if row.state.retired:
        kb.button(text=screens.r.t("authoring.unretire", lang), callback_data=BookCb(action=BookAction.UNRETIRE,
                                                                                      playbook=pid))
    else:
        kb.button(text=screens.r.t("authoring.retire", lang), callback_data=BookCb(action=BookAction.RETIRE,
                                                                                    playbook=pid))
    kb.button(text=screens.r.t("authoring.all", lang), callback_data=BookCb(action=BookAction.LIST))
    kb.adjust(2, 1, 1)
    publication = row.publication
    text = screens.r.render("authoring_playbook.html.j2", lang, id=pid, title=row.title,
                            version=short(row.state.live_version), author=_author(screens, lang, publication),
                            when=_when(publication, timezone, lang), uses=row.uses, retired=row.state.retired,
                            changelog=publication.changelog if publication else "", notice=notice)
    return View(text, kb.as_markup())


def history(screens: Screens, lang: str, playbook_id: str, title: str, live: str,
            publications: Sequence[PlaybookPublication], timezone: str) -> View:
    kb = InlineKeyboardBuilder()
    items = []
    offered: set[str] = set()
    for publication in publications:
        items.append({"version": short(publication.version), "author": _author(screens, lang, publication),
                      "when": _when(publication, timezone, lang), "changelog": publication.changelog,
                      "how": screens.r.t(f"authoring.origin.{_origin(publication.origin)}", lang),
                      "live": publication.version == live})
        if publication.version != live and publication.version not in offered:
            offered.add(publication.version)
            kb.button(text=screens.r.t("authoring.rollback", lang, version=short(publication.version)),
                      callback_data=BookCb(action=BookAction.ROLLBACK, playbook=playbook_id,
                                           version=publication.version))
    kb.button(text=screens.r.t("nav.back", lang), callback_data=BookCb(action=BookAction.OPEN, playbook=playbook_id))
    kb.adjust(1)
    return View(screens.r.render("authoring_history.html.j2", lang, title=title, items=items), kb.as_markup())


def _origin(origin: str) -> str:
    return {"bot:upload": "upload", "bot:rollback": "rollback"}.get(origin, "file")


def _author(screens: Screens, lang: str, publication: PlaybookPublication | None) -> str:
    if publication is None:
        return ""
    if publication.author:
        return publication.author
    return screens.r.t("authoring.file_author", lang, path=publication.origin)


def _when(publication: PlaybookPublication | None, timezone: str, lang: str) -> str:
    return local_time(publication.published_at, timezone, lang) if publication is not None else ""
