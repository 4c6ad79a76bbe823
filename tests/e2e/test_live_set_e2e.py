"""Two `moments run --webhook` processes on one database: a playbook published through one, or by
`moments playbooks sync`, is served by the other within `playbooks.refresh_seconds`, without a restart.

One Bot API stand-in serves both; the test points its webhook at one process or the other, as a load balancer
would pick one, so each person's updates reach the process the test means.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bot.devtools.botapi import BotAPIStandIn, SimUser
from tests.e2e.conftest import TOKEN, BotProcess, Stack, assert_no_tracebacks, free_port, print_log_tails
from tests.e2e.test_bot_e2e import to_outcome
from tests.e2e.test_instances_e2e import drop_job_store, wait_until
from tests.test_authoring import NEW_TITLE, OLD_TITLE, edited

RELOADED = "live playbooks changed in the database"
OLD_QUESTION = "Is the passenger away from home"
NEW_QUESTION = "Is the traveller away from home"


def serve_with(api: BotAPIStandIn, bot: BotProcess) -> None:
    """From now on the stand-in POSTs updates to this process (what setWebhook by it would do)."""
    api.set_webhook(bot.webhook_url, secret_token=bot.webhook_secret)


def reloads(bot: BotProcess) -> int:
    return bot.log_path.read_text(errors="replace").count(RELOADED)


async def finish(person: SimUser) -> None:
    await person.press("✅ Done as suggested")
    await person.send("10")
    await person.press("Skip")
    await person.press("Skip")


async def test_a_publish_through_one_process_is_served_by_the_other(database_url: str, tmp_path: Path) -> None:
    await drop_job_store(database_url)  # the paused schedulers still create it (see test_instances_e2e)
    api = BotAPIStandIn(TOKEN, timeout=20, settle=0.1)
    await api.start()
    env = {"MOMENTS_SCHEDULER": "false", "MOMENTS_SHUTDOWN_TIMEOUT": "10", "MOMENTS_PLAYBOOKS_REFRESH": "0.5"}
    first = BotProcess(api, database_url, tmp_path / "first.log", webhook_port=free_port(), extra_env=env)
    second = BotProcess(api, database_url, tmp_path / "second.log", webhook_port=free_port(), extra_env=env)
    try:
        await first.start()
        await second.start()
        await api.wait_until(lambda: len(api.calls_to("setWebhook")) >= 2, timeout=30, what="the second process")
        stack = Stack(api, second)
        ann = await stack.staff(2101, "Ann")
        bob = await stack.staff(2102, "Bob")
        mia = await stack.staff(3101, "Mia", role="manager")
        await to_outcome(bob)  # Bob is mid-flow on the second process, on the version live now
        assert OLD_TITLE in bob.screen().text
        old_version = await live_version(first)

        serve_with(api, first)
        upload = tmp_path / "refund-without-receipt.yaml"
        upload.write_bytes(edited())
        await mia.send_document(upload, caption="More room for staff")
        await mia.press("🚀 Publish")
        assert "is live for everyone now" in mia.screen().text
        published = asyncio.get_running_loop().time()

        await wait_until(lambda: reloads(second) >= 1, 10, "the second process to load the new version")
        # Half a second between looks; the rest is slack for a busy CI machine.
        assert asyncio.get_running_loop().time() - published < 5
        serve_with(api, second)
        await ann.send("customer lost the receipt and wants money back")
        await ann.press("Yes, or I can't tell")
        await ann.press("Yes, found it")
        await ann.press("Unused, can be sold again")
        assert NEW_TITLE in ann.screen().text and "€60.00" in ann.screen().text

        await finish(bob)  # his flow stays on the version it started on
        [decision] = await second.decisions()
        assert decision.playbook_id == "refund-without-receipt"
        assert decision.playbook_version == old_version != await live_version(first)

        # `moments playbooks sync` from a changed folder: a third process; both bots follow it.
        folder = tmp_path / "playbooks"
        shutil.copytree(Path(first.env()["PLAYBOOKS_DIR"]), folder)
        baggage = folder / "travel" / "delayed-baggage.yaml"
        baggage.write_text(baggage.read_text(encoding="utf-8").replace(OLD_QUESTION, NEW_QUESTION), encoding="utf-8")
        cli = BotProcess(api, database_url, tmp_path / "cli.log", extra_env={**env, "PLAYBOOKS_DIR": str(folder)})
        assert "delayed-baggage.yaml" in await cli.cli("playbooks", "sync")
        await wait_until(lambda: reloads(first) >= 1 and reloads(second) >= 2, 10, "both processes to follow")
        for bot in (first, second):
            serve_with(api, bot)
            await ann.send("/cancel")
            await ann.send("lost luggage")
            assert NEW_QUESTION in ann.screen().text
        assert reloads(first) == 1  # its own publish swapped it at once: no reload for that
    finally:
        await second.stop()
        await first.stop()
        await api.stop()
        await drop_job_store(database_url)
        print_log_tails(first.log_path, second.log_path)
        print("--- Bot API calls (tail) ---\n" + "\n".join(map(str, api.calls[-40:])))
    assert not api.errors and not api.unknown_methods, (api.errors, api.unknown_methods)
    assert_no_tracebacks(first.log_path, second.log_path)


async def live_version(bot: BotProcess) -> str:
    """The live version of the refund playbook, as the database has it."""
    from storage import playbooks as store
    from storage.db import Database

    db = Database(bot.database_url)
    try:
        async with db.session() as session:
            state = await store.state(session, "refund-without-receipt")
            assert state is not None
            return state.live_version
    finally:
        await db.dispose()
