"""One whole decision in Italian and one in Russian, through the real bot process: what staff type in their
language finds the playbook, every screen is in their language, and the decision is recorded as in English."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.core.loader import load_directory
from bot.ui.render import Renderer
from tests.e2e.conftest import ROOT, Stack

CASES = {  # what staff type, and the language's name on the /language button
    "it": ("cliente senza scontrino vuole i soldi indietro", "Italiano"),
    "ru": ("покупатель без чека хочет вернуть деньги", "Русский"),
}


@pytest.mark.parametrize("language", ["it", "ru"])
async def test_a_whole_decision_in_the_staffs_language(stack: Stack, language: str) -> None:
    query, name = CASES[language]
    labels = Renderer("EUR")
    playbooks, _ = load_directory(ROOT / "playbooks")
    refund = next(p for p in playbooks if p.id == "refund-without-receipt")

    ann = await stack.staff(2301 if language == "it" else 2302)
    await ann.send("/language")
    await ann.press(name)
    await ann.send(query)
    screen = ann.screen()
    if refund.steps["ours"].ask.get(language) not in screen.text:  # a list of matches: the refund one first
        await ann.press(next(label for label in screen.labels if refund.title.get(language) in label))
    assert refund.steps["ours"].ask.get(language) in ann.screen().text
    for step, option in (("ours", 0), ("proof", 0), ("condition", 0)):
        await ann.press(refund.steps[step].options[option].label.get(language))
    outcome = ann.screen()
    assert refund.outcomes["full-refund"].title.get(language) in outcome.text
    assert refund.principle.get(language)[:40] in outcome.text
    await ann.press(labels.t("record.done", language))
    await ann.send("35")
    await ann.press(labels.t("record.skip", language))
    await ann.press(labels.t("reaction.happy", language))
    confirmation = ann.screen().text
    assert "#1" in confirmation
    # Nothing English is left on the screens a person of this language saw (names and numbers aside).
    for message in ann.messages:
        for english in ("Is it something we sell", "You may spend", "Decision #", "Done as suggested", "What did"):
            assert english not in message.text, (english, message.text)
    assert re.search(r"35,00\s€", confirmation.replace("\u202f", " ").replace("\u00a0", " "))

    rows = list(csv.DictReader(io.StringIO(await stack.bot.cli("export", "decisions"))))
    assert [(row["taken_outcome"], row["amount"]) for row in rows] == [("full-refund", "35.00")]
