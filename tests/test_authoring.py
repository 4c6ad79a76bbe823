"""Playbook authoring through the real Dispatcher: upload, diff, try, publish, roll back, retire, bad input."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from bot.config import Config
from bot.core.authoring import MAX_UPLOAD_BYTES, live_playbooks, sync_files
from bot.core.loader import load_directory
from storage.db import Database
from storage.models import AuditEntry, Decision, PlaybookDraft, PlaybookPublication, PlaybookState
from tests.conftest import ADMIN_ID, ROOT, STAFF_ID
from tests.harness import Harness, Person

MANAGER_ID = 3000
REFUND_FILE = ROOT / "playbooks" / "retail" / "refund-without-receipt.yaml"
OLD_TITLE = "Refund in full to the original payment method"
NEW_TITLE = "Refund everything at once, gladly"
REFUND_QUERY = "customer lost the receipt and wants money back"


def edited() -> bytes:
    source = REFUND_FILE.read_text(encoding="utf-8")
    assert OLD_TITLE in source and "limits: {staff: 50, lead: 200}" in source
    return source.replace(OLD_TITLE, NEW_TITLE).replace("limits: {staff: 50", "limits: {staff: 60").encode()


async def people(h: Harness) -> tuple[Person, Person]:
    admin = h.person(ADMIN_ID, "Alice")
    await admin.send(f"/adduser {MANAGER_ID} manager shop-1")
    await admin.send(f"/adduser {STAFF_ID} staff shop-1")
    return h.person(MANAGER_ID, "Mia"), h.person(STAFF_ID, "Ann")


async def rows(h: Harness, model: type) -> list:
    async with h.app.db.session() as session:
        return list((await session.exec(select(model))).all())


async def walk_to_outcome(ann: Person) -> None:
    await ann.send(REFUND_QUERY)
    await ann.press("Yes, or I can't tell")
    await ann.press("Yes, found it")
    await ann.press("Unused, can be sold again")


async def test_upload_shows_the_diff_against_the_live_version(harness: Harness) -> None:
    mia, _ = await people(harness)
    await mia.send_document(edited(), "refund.yaml", caption="Staff may refund a little more")
    text, labels = mia.screen()
    assert "Refund without a receipt" in text and "Changes against the live version" in text
    assert "Outcomes reworded: full-refund" in text
    assert "Limit for Staff: 50 → 60" in text
    assert "Steps added" not in text and "Outcomes removed" not in text
    assert "Changelog: Staff may refund a little more" in text
    assert labels == ["🚀 Publish", "🧪 Try it", "🗑 Discard"]
    [draft] = await rows(harness, PlaybookDraft)
    assert draft.status == "pending" and draft.changelog == "Staff may refund a little more"
    assert harness.app.catalog.live("refund-without-receipt").outcomes["full-refund"].title.get() == OLD_TITLE


async def test_publish_is_live_at_once_and_mid_flow_staff_finish_on_the_old_version(harness: Harness) -> None:
    mia, ann = await people(harness)
    old_version = harness.app.catalog.live("refund-without-receipt").version
    await walk_to_outcome(ann)  # Ann is mid-flow on the old version
    assert OLD_TITLE in ann.screen()[0]

    await mia.send_document(edited(), "refund.yaml", caption="More room for staff")
    await mia.press("🚀 Publish")
    assert "is live for everyone now" in mia.last_text()
    live = harness.app.catalog.live("refund-without-receipt")
    assert live.version != old_version and live.outcomes["full-refund"].title.get() == NEW_TITLE

    await ann.press("✅ Done as suggested")  # finishes on the old version
    await ann.send("10")
    await ann.press("Skip")
    await ann.press("Skip")
    [decision] = await rows(harness, Decision)
    assert decision.playbook_version == old_version

    bob = harness.person(STAFF_ID + 1, "Bob")
    await harness.person(ADMIN_ID).send(f"/adduser {STAFF_ID + 1} staff shop-1")
    await walk_to_outcome(bob)  # a new search finds the new wording and the new limit
    assert NEW_TITLE in bob.screen()[0] and "€60.00" in bob.screen()[0]

    [state] = [s for s in await rows(harness, PlaybookState) if s.playbook_id == "refund-without-receipt"]
    assert state.live_version == live.version
    upload = [p for p in await rows(harness, PlaybookPublication) if p.origin == "bot:upload"]
    assert [(p.version, p.changelog, p.author) for p in upload] == [(live.version, "More room for staff", "Mia")]
    audit = [a for a in await rows(harness, AuditEntry) if a.action == "playbook.published"]
    assert [(a.subject, a.before["version"], a.after["version"]) for a in audit] == [
        ("refund-without-receipt", old_version, live.version)]


async def test_publish_twice_and_after_discard_change_nothing(harness: Harness) -> None:
    mia, _ = await people(harness)
    await mia.send_document(edited(), "refund.yaml")
    publish = mia.button_data("🚀 Publish")
    await mia.press_data(publish)
    await mia.press_data(publish)
    assert "already published: nothing changed" in mia.alerts()[-1]
    assert len([p for p in await rows(harness, PlaybookPublication) if p.origin == "bot:upload"]) == 1

    live = harness.app.catalog.live("refund-without-receipt").version
    await mia.send_document(REFUND_FILE.read_bytes().replace(b"staff: 50", b"staff: 70"), "refund.yaml")
    publish = mia.button_data("🚀 Publish")
    await mia.press("🗑 Discard")
    assert "Upload discarded" in mia.last_text()
    await mia.press_data(publish)
    assert "was discarded: nothing changed" in mia.alerts()[-1]
    assert harness.app.catalog.live("refund-without-receipt").version == live
    statuses = sorted(d.status for d in await rows(harness, PlaybookDraft))
    assert statuses == ["discarded", "published"]


async def test_try_it_walks_the_draft_and_records_nothing(harness: Harness) -> None:
    mia, _ = await people(harness)
    await mia.send_document(edited(), "refund.yaml")
    await mia.press("🧪 Try it")
    assert "Trial of Refund without a receipt" in "\n".join(
        r.text for r in harness.session.requests if getattr(r, "text", None))
    await mia.press("Yes, or I can't tell")
    await mia.press("Yes, found it")
    await mia.press("Unused, can be sold again")
    assert NEW_TITLE in mia.screen()[0]  # the draft, not the live version
    await mia.press("✅ Done as suggested")
    await mia.send("20")
    await mia.press("Skip")
    await mia.press("Skip")
    assert "Trial finished: nothing recorded" in mia.last_text()
    assert await rows(harness, Decision) == []
    assert harness.app.catalog.live("refund-without-receipt").outcomes["full-refund"].title.get() == OLD_TITLE
    [draft] = await rows(harness, PlaybookDraft)
    assert draft.status == "pending"  # still publishable


async def test_roll_back_publishes_the_old_content_as_a_new_version(harness: Harness) -> None:
    mia, _ = await people(harness)
    old = harness.app.catalog.live("refund-without-receipt")
    await mia.send_document(edited(), "refund.yaml")
    await mia.press("🚀 Publish")
    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    await mia.press("🕓 History")
    text = mia.screen()[0]
    assert "uploaded · Mia" in text and "from the file" in text
    await mia.press(f"↩ Roll back to {old.version[:7]}")
    assert "Rolled back" in mia.screen()[0]
    live = harness.app.catalog.live("refund-without-receipt")
    assert live.version == old.version and live.outcomes["full-refund"].title.get() == OLD_TITLE
    history = [p for p in await rows(harness, PlaybookPublication) if p.playbook_id == "refund-without-receipt"]
    assert [p.origin for p in history] == ["playbooks/retail/refund-without-receipt.yaml", "bot:upload",
                                           "bot:rollback"]
    assert history[-1].version == old.version
    assert [a.subject for a in await rows(harness, AuditEntry) if a.action == "playbook.rolled_back"] == [
        "refund-without-receipt"]


async def test_retire_hides_it_from_search_and_browse_and_bring_back(harness: Harness) -> None:
    mia, ann = await people(harness)
    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    await mia.press("📦 Retire")
    assert "Retired" in mia.screen()[0]
    assert harness.app.catalog.live("refund-without-receipt") is None
    await ann.send(REFUND_QUERY)
    assert "Refund without a receipt" not in ann.last_text()
    assert all(p.id != "refund-without-receipt" for p in harness.app.catalog.in_category("retail"))
    assert [a.action for a in await rows(harness, AuditEntry) if a.subject == "refund-without-receipt"] == [
        "playbook.retired"]
    await mia.press("♻ Bring back")
    assert harness.app.catalog.live("refund-without-receipt") is not None


async def test_download_sends_the_live_yaml(harness: Harness) -> None:
    mia, _ = await people(harness)
    await mia.send("/playbooks")
    await mia.press("📄 Refund without a receipt")
    await mia.press("⬇ Download YAML")
    [(chat, name, data)] = harness.session.documents
    assert (chat, name) == (MANAGER_ID, "refund-without-receipt.yaml")
    assert data == REFUND_FILE.read_bytes()


async def test_playbooks_lists_uses_in_the_last_30_days(harness: Harness) -> None:
    mia, ann = await people(harness)
    await walk_to_outcome(ann)
    await ann.press("✅ Done as suggested")
    await ann.send("5")
    await ann.press("Skip")
    await ann.press("Skip")
    await mia.send("/playbooks")
    text, labels = mia.screen()
    line = next(x for x in text.splitlines() if "refund-without-receipt" in x)
    assert "1 use" in line and "1 uses" not in line
    assert "0 uses" in next(x for x in text.splitlines() if "noisy-room" in x)
    assert "📄 Refund without a receipt" in labels


async def test_staff_cannot_upload_and_nothing_is_stored(harness: Harness) -> None:
    _, ann = await people(harness)
    await ann.send_document(edited(), "refund.yaml")
    assert "not part of your role" in ann.last_text()
    assert await rows(harness, PlaybookDraft) == []
    await ann.send("/playbooks")
    assert "not part of your role" in ann.last_text()


BOMB = b"""\
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
"""


@pytest.mark.parametrize(("data", "filename", "size", "expected"), [
    (b"id: [unclosed\ntitle: x\n", "p.yaml", -1, "line 2:"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "p.yaml", -1, "not text"),
    (b"id: x\n", "p.yaml", MAX_UPLOAD_BYTES + 1, "larger than 256 KB"),
    (b"id: x\nsummary: " + b"y" * (MAX_UPLOAD_BYTES + 10), "p.yaml", None, "larger than 256 KB"),
    (BOMB, "bomb.yaml", -1, "more than 10 YAML aliases"),
    (b"- just\n- a list\n", "p.yml", -1, "a playbook must be a mapping, got a list"),
    (b"id: x\n", "notes.txt", -1, "as a <code>.yaml</code> or <code>.yml</code> file"),
], ids=["not-yaml", "binary", "too-large", "too-large-unannounced", "alias-bomb", "not-a-playbook", "not-yaml-name"])
async def test_bad_uploads_get_a_clear_reply_and_change_nothing(harness: Harness, data: bytes, filename: str,
                                                                size: int | None, expected: str) -> None:
    mia, _ = await people(harness)
    before = (await rows(harness, PlaybookPublication), harness.app.catalog.all())
    harness.session.clear()
    await mia.send_document(data, filename, file_size=size)
    assert expected in mia.last_text()
    assert "Nothing was stored" in mia.last_text()
    assert await rows(harness, PlaybookDraft) == []
    assert (await rows(harness, PlaybookPublication), harness.app.catalog.all()) == before
    if size is not None and size > MAX_UPLOAD_BYTES:
        from aiogram.methods import GetFile

        assert harness.session.sent(GetFile) == []  # refused before downloading


async def test_errors_show_line_and_column_first_20_and_count_the_rest(harness: Harness) -> None:
    mia, _ = await people(harness)
    source = "id: broken\n<b>x</b>: 1\n" + "".join(f"field{i}: {i}\n" for i in range(25))
    await mia.send_document(source.encode(), "broken.yaml")
    text = mia.last_text()
    assert "line 2:1: unknown field &#39;&lt;b&gt;x&lt;/b&gt;&#39; in the playbook" in text  # escaped
    assert "line 3:1: unknown field &#39;field0&#39; in the playbook" in text
    assert text.count("• line") == 20 and "…and 12 more errors (the first 20 are shown)" in text


# ---- files and the database at start ---------------------------------------------------------------------------

def write_playbooks(folder: Path, replace: tuple[str, str] | None = None) -> None:
    target = folder / "retail"
    target.mkdir(parents=True, exist_ok=True)
    source = REFUND_FILE.read_text(encoding="utf-8")
    if replace:
        source = source.replace(*replace)
    (target / "refund-without-receipt.yaml").write_text(source, encoding="utf-8")


async def test_a_changed_file_does_not_override_a_newer_upload_without_force(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from storage import playbooks as store

    folder = tmp_path / "playbooks"
    write_playbooks(folder)
    db = Database(database_url)
    try:
        await db.create_tables()
        await store.ensure_columns(db)
        files, _ = load_directory(folder)
        assert (await sync_files(db, files)).published == ["playbooks/retail/refund-without-receipt.yaml"]
        uploaded = edited().decode()
        from bot.core.loader import parse_playbook

        upload, _ = parse_playbook(uploaded, "upload.yaml", "retail")
        assert upload is not None
        async with db.session() as session:
            await store.publish(session, playbook_id=upload.id, version=upload.version, source_text=uploaded,
                                category="retail", origin=store.UPLOAD, author="Mia")
        # The unchanged file does not win over the upload, and says nothing.
        assert (await sync_files(db, files)).published == []
        # The file changes in git: the upload stays live, with a warning naming the file.
        write_playbooks(folder, ("staff: 50", "staff: 55"))
        files, _ = load_directory(folder)
        with caplog.at_level(logging.WARNING):
            report = await sync_files(db, files)
        assert report.kept == ["playbooks/retail/refund-without-receipt.yaml"] and report.published == []
        assert "refund-without-receipt.yaml changed" in caplog.text
        [live] = await live_playbooks(db)
        assert live.version == upload.version
        # --force publishes the file.
        assert (await sync_files(db, files, force=True)).published == report.kept
        [live] = await live_playbooks(db)
        assert live.version == files[0].version and live.category == "retail"
    finally:
        await db.dispose()


async def test_export_writes_the_live_versions_and_sync_reports(harness: Harness, config: Config, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    mia, _ = await people(harness)
    await mia.send_document(edited(), "refund.yaml")
    await mia.press("🚀 Publish")
    monkeypatch.setenv("MOMENTS_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("DATABASE_URL", config.database_url)
    monkeypatch.setenv("PLAYBOOKS_DIR", str(ROOT / "playbooks"))
    assert await asyncio.to_thread(main, ["playbooks", "export", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "retail" / "refund-without-receipt.yaml").read_bytes() == edited()
    assert (tmp_path / "out" / "hospitality" / "noisy-room.yaml").exists()
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["playbooks", "sync"]) == 0
    assert "0 published, 0 kept" in capsys.readouterr().out  # the shipped file did not change: the upload stays
    assert await asyncio.to_thread(main, ["playbooks", "sync", "--force"]) == 0
    assert "published playbooks/retail/refund-without-receipt.yaml" in capsys.readouterr().out


async def test_an_older_playbook_versions_table_gets_the_new_columns(tmp_path: Path) -> None:
    from sqlalchemy import inspect, text

    from storage import playbooks as store

    db = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text(
                "CREATE TABLE playbook_versions (id INTEGER PRIMARY KEY, playbook_id VARCHAR(64) NOT NULL, "
                "version VARCHAR(64) NOT NULL, source TEXT NOT NULL, origin VARCHAR(512) NOT NULL, "
                "created_at TIMESTAMP NOT NULL)"))
        await db.create_tables()
        await store.ensure_columns(db)
        await store.ensure_columns(db)  # idempotent
        async with db.engine.connect() as connection:
            names = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("playbook_versions")})
        assert {"author_id", "changelog", "published_at"} <= names
    finally:
        await db.dispose()


async def test_a_playbook_failing_its_examples_is_refused(harness: Harness) -> None:
    mia, _ = await people(harness)
    source = REFUND_FILE.read_text(encoding="utf-8")
    # An example that expects what the tree does not do.
    broken = source.replace('"Unused, can be sold again"], expect: full-refund}',
                            '"Unused, can be sold again"], expect: store-credit}')
    assert broken != source
    await mia.send_document(broken.encode(), "refund.yaml")
    text = mia.last_text()
    assert "example 1 fails" in text and "store-credit" in text
    assert "Nothing was stored" in text
    assert await rows(harness, PlaybookDraft) == []
