"""What the floor asks for that no playbook covers: kept phrases, "None of these", /unmatched, skeletons, privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.core.examples import failures, run_examples
from bot.core.loader import parse_playbook
from bot.core.unmatched import MAX_SLUG, MAX_TRIGGER, Phrase, cluster, slugify, trigger_text
from bot.ui.callbacks import UnmatchedCb
from bot.ui.skeleton import skeleton
from storage import privacy
from storage.models import UnmatchedPhrase, User
from storage.types import utcnow
from tests.conftest import ADMIN_ID, STAFF_ID
from tests.harness import Harness, Person

MANAGER_ID = 3000
PRINTER = ["printer broken", "the printer is broken", "printer is brokn"]


async def member(h: Harness, telegram_id: int, role: str = "staff", team: str = "shop-1", name: str = "Ann") -> Person:
    await h.person(ADMIN_ID, "Alice").send(f"/adduser {telegram_id} {role} {team}")
    return h.person(telegram_id, name)


async def phrases(h: Harness) -> list[UnmatchedPhrase]:
    async with h.app.db.session() as session:
        return list((await session.exec(select(UnmatchedPhrase).order_by(UnmatchedPhrase.id))).all())


async def age(h: Harness, phrase_id: int, days: float) -> None:
    async with h.app.db.session() as session:
        row = await session.get(UnmatchedPhrase, phrase_id)
        assert row is not None
        row.created_at = utcnow() - timedelta(days=days)
        session.add(row)
        await session.commit()


def make_button(person: Person, phrase: str) -> str:
    labels = person.screen()[1]
    return next(label for label in labels if label.startswith("📝 Make a playbook") and label.endswith(phrase))


# ---- recording --------------------------------------------------------------------------------------------------

async def test_a_search_that_finds_nothing_is_kept_with_team_and_time(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    await ann.send("  the printer   is broken ")
    text, labels = ann.screen()
    assert "I found no playbook" in text and labels == ["📚 Browse all", "☰ Menu"]
    [row] = await phrases(harness)
    async with harness.app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == STAFF_ID))).one()
    assert (row.text, row.reason, row.user_id, row.team_id) == ("the printer is broken", "no_match", user.id,
                                                                user.team_id)
    assert row.team_id is not None and utcnow() - row.created_at < timedelta(minutes=1)


async def test_long_and_hostile_text_is_clipped_when_stored_and_escaped_when_shown(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    await ann.send("<b>printer</b> & " + "jammed " * 60)
    assert "&lt;b&gt;printer&lt;/b&gt; &amp; jammed" in ann.screen()[0]
    [row] = await phrases(harness)
    assert len(row.text) == 200 and row.text.startswith("<b>printer</b> & jammed")
    mia = await member(harness, MANAGER_ID, "manager", name="Mia")
    await mia.send("/unmatched")
    assert "“&lt;b&gt;printer&lt;/b&gt; &amp; jammed" in mia.last_text() and "<b>printer</b>" not in mia.last_text()


async def test_filler_and_clear_winners_are_not_kept(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    await ann.send("?!")
    await ann.send("customer lost the receipt and wants money back")  # starts the refund playbook at once
    assert "Is it something we sell" in ann.screen()[0]
    assert await phrases(harness) == []


async def test_none_of_these_records_the_search_and_offers_browse(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    mia = await member(harness, MANAGER_ID, "manager", name="Mia")
    await ann.send("refund")
    text, labels = ann.screen()
    assert "Best matches" in text and "🤷 None of these" in labels and "📚 Browse all" in labels
    [row] = await phrases(harness)
    assert row.reason == "offered"
    await mia.send("/unmatched")
    assert "Nothing so far" in mia.last_text()  # an offer is not unmatched until "None of these"

    none = ann.button_data("🤷 None of these")
    bob = await member(harness, STAFF_ID + 1, name="Bob")
    await bob.press_data(none)  # not Bob's search: it expires, and nothing changes
    assert "expired" in bob.alerts()[-1]
    assert (await phrases(harness))[0].reason == "offered"

    await ann.press("🤷 None of these")
    text, labels = ann.screen()
    assert "none of these fit “refund”" in text and labels == ["📚 Browse all", "☰ Menu"]
    assert [(r.text, r.reason) for r in await phrases(harness)] == [("refund", "none_of_these")]
    await ann.press_data(none)  # pressed twice: same answer, still one phrase
    assert len(await phrases(harness)) == 1
    await ann.press("📚 Browse all")
    assert "Retail" in ann.screen()[1]

    await mia.send("/unmatched")
    assert "1. “refund” · 1 time" in mia.last_text()


# ---- /unmatched -------------------------------------------------------------------------------------------------

async def test_similar_phrases_are_one_group_and_the_biggest_comes_first(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    for text in ["wifi password", *PRINTER]:
        await ann.send(text)
    mia = await member(harness, MANAGER_ID, "manager", name="Mia")
    await mia.send("/unmatched")
    text, labels = mia.screen()
    assert "(last 30 days, 4 phrases)" in text
    assert "1. “printer is brokn” · 3 times" in text  # all seen once: the most recent wording represents them
    assert "also: “the printer is broken”, “printer broken”" in text
    assert "2. “wifi password” · 1 time" in text
    assert labels == ["📝 Make a playbook: 1. printer is brokn", "📝 Make a playbook: 2. wifi password", "☰ Menu"]


@pytest.mark.parametrize("role", ["staff", "lead", "supervisor"])
async def test_unmatched_is_refused_below_manager(harness: Harness, role: str) -> None:
    ann = await member(harness, STAFF_ID)
    await ann.send("printer broken")
    [row] = await phrases(harness)
    person = await member(harness, 2100, role, name="Lou")
    await person.send("/unmatched")
    assert "not part of your role" in person.last_text() and "printer" not in person.last_text()
    await person.press_data(UnmatchedCb(phrase=row.id or 0).pack())
    assert "not part of your role" in person.alerts()[-1]
    assert harness.session.documents == []


async def test_a_manager_sees_only_the_teams_they_cover_and_admins_see_all(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID, team="shop-1")
    bob = await member(harness, STAFF_ID + 1, team="shop-2", name="Bob")
    await ann.send("printer broken")
    await bob.send("wifi password")
    mia = await member(harness, MANAGER_ID, "manager", team="shop-1", name="Mia")
    await mia.send("/unmatched")
    assert "printer broken" in mia.last_text() and "wifi" not in mia.last_text()
    await harness.person(ADMIN_ID).send("/unmatched")
    assert "printer broken" in harness.person(ADMIN_ID).last_text()
    assert "wifi password" in harness.person(ADMIN_ID).last_text()

    wifi = next(r for r in await phrases(harness) if r.text == "wifi password")
    await mia.press_data(UnmatchedCb(phrase=wifi.id or 0).pack())  # a forged button for another team's phrase
    assert "no longer kept" in mia.alerts()[-1] and harness.session.documents == []


async def test_one_tap_sends_a_skeleton_that_loads_and_can_be_published(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    for text in PRINTER:
        await ann.send(text)
    mia = await member(harness, MANAGER_ID, "manager", name="Mia")
    await mia.send("/unmatched")
    await mia.press(make_button(mia, "printer is brokn"))
    [(chat, filename, data)] = harness.session.documents
    assert chat == MANAGER_ID and filename == "printer-brokn.yaml"
    source = data.decode()
    assert "asked 3 times in the last 30 days" in source
    playbook, problems = parse_playbook(source, filename)
    assert problems == [] and playbook is not None
    assert playbook.id == "printer-brokn" and playbook.triggers.all() == ["printer is brokn"]
    assert any(o.favours_customer for o in playbook.outcomes.values()) and len(playbook.outcomes) == 2
    assert failures(run_examples(playbook)) == []

    await mia.send_document(data, filename)  # sent back as it is: a valid upload, ready to publish
    assert "🚀 Publish" in mia.screen()[1]
    await mia.press("🚀 Publish")
    assert harness.app.catalog.live("printer-brokn") is not None
    await ann.send("printer is brokn")
    assert "THE FIRST QUESTION" in ann.screen()[0]


def test_the_skeleton_never_takes_the_id_of_an_existing_playbook(harness: Harness) -> None:
    ids = {p.id for p in harness.app.catalog.all()}
    assert "noisy-room" in ids
    assert slugify("noisy room", ids) == "noisy-room-2"


# ---- privacy ----------------------------------------------------------------------------------------------------

async def test_retention_purge_deletes_old_phrases_and_stale_offers(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    await ann.send("printer broken")
    await ann.send("wifi password")
    await ann.send("refund")  # offered
    await ann.send("coffee machine leaks")
    old, recent, offer, _ = await phrases(harness)
    await age(harness, old.id or 0, 100)
    await age(harness, recent.id or 0, 5)
    await age(harness, offer.id or 0, 5)
    async with harness.app.db.session() as session:
        await privacy.purge_notes(session, utcnow() - timedelta(days=90))
    assert [r.text for r in await phrases(harness)] == ["wifi password", "coffee machine leaks"]


async def test_forgetme_deletes_the_persons_phrases_only(harness: Harness) -> None:
    ann = await member(harness, STAFF_ID)
    bob = await member(harness, STAFF_ID + 1, name="Bob")
    await ann.send("printer broken, Mrs Rossi")
    await bob.send("wifi password")
    await ann.send("/forgetme")
    await ann.press("🗑 Yes, delete my data")
    assert [r.text for r in await phrases(harness)] == ["wifi password"]


# ---- the pure parts ---------------------------------------------------------------------------------------------

def at(minutes: int) -> datetime:
    return datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_clusters_rank_by_size_then_recency_with_the_most_frequent_wording() -> None:
    found = cluster([
        Phrase("Printer broken", at(1), 1), Phrase("printer  broken", at(2), 2),
        Phrase("the printer is broken", at(9), 3), Phrase("printer is brokn", at(3), 4),
        Phrase("wifi password", at(20), 5), Phrase("card reader down", at(4), 6),
        Phrase("gift card expired", at(5), 7), Phrase("printer out of paper", at(6), 8),
    ])
    top = found[0]
    assert (top.representative, top.ref, top.count) == ("printer broken", 2, 4)  # two of one wording lead
    assert top.variants == ["the printer is broken", "printer is brokn"] and top.last_seen == at(9)
    # Among groups of one, the most recent first; a different printer problem is its own group.
    assert [(c.representative, c.count) for c in found[1:]] == [
        ("wifi password", 1), ("printer out of paper", 1), ("gift card expired", 1), ("card reader down", 1)]


def test_at_most_three_variants_are_kept() -> None:
    texts = ["printer broken", "printer broken", "printer brokn", "the printer is broken!", "Printer broke",
             "printr broken"]
    [group] = cluster([Phrase(text, at(minute), minute) for minute, text in enumerate(texts)])
    assert group.count == 6 and group.representative == "printer broken" and len(group.variants) == 3


def test_slugs_are_ids() -> None:
    assert slugify("The printer is broken!") == "printer-broken"
    assert slugify("Ça ne marche pas, le caffè") == "ca-marche-caffe"
    assert slugify("?? !!") == "new-playbook" and slugify("😀") == "new-playbook"
    long = slugify("customer wants to return an opened bottle of expensive perfume bought online")
    assert len(long) <= MAX_SLUG and not long.endswith("-") and long.startswith("customer-wants-return")
    assert slugify("printer broken", {"printer-broken", "printer-broken-2"}) == "printer-broken-3"
    assert len(slugify("x" * 80, {"x" * 40})) <= MAX_SLUG


@pytest.mark.parametrize("phrase", [
    'he said "no": #1 \\ {x} [y] *z &a !b %c @d', "null", "123", "yes", "- item", "key: value # comment",
    "перезагрузить терминал", "emoji 😀 and tab\there", "x" * 200, "line\u2028break\x85here",
])
def test_any_phrase_makes_a_skeleton_that_loads(phrase: str) -> None:
    slug = slugify(phrase)
    playbook, problems = parse_playbook(skeleton(phrase, slug), f"{slug}.yaml")
    assert problems == [] and playbook is not None and playbook.id == slug
    [trigger] = playbook.triggers.all()
    assert trigger == trigger_text(phrase) and len(trigger) <= MAX_TRIGGER
    assert failures(run_examples(playbook)) == []
