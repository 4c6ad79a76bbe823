"""Free-text matching of what staff type against playbooks, and the catalog that holds them."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.catalog import Catalog
from bot.core.loader import load_directory, parse_playbook
from bot.core.matcher import WEIGHTS, Match, Matcher, MatchSettings, content_words, fold
from bot.core.playbook import Option, Outcome, Playbook, Step
from bot.core.stopwords import STOPWORDS_BY_LANGUAGE
from bot.core.text import Text, TextList

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "playbooks"


@pytest.fixture(scope="module")
def shipped() -> list[Playbook]:
    playbooks, problems = load_directory(SHIPPED)
    assert problems == []
    return playbooks


@pytest.fixture(scope="module")
def catalog(shipped: list[Playbook]) -> Catalog:
    return Catalog(shipped)


def make(playbook_id: str, triggers: list[str] | None = None, title: str | None = None, summary: str = "",
         category: str = "general", version: str = "v1", it_triggers: list[str] | None = None,
         other_triggers: dict[str, list[str]] | None = None) -> Playbook:
    """A minimal valid playbook built directly, so a test controls exactly what the matcher sees."""
    trigger_values: dict[str, tuple[str, ...]] = {"en": tuple(triggers or ())}
    if it_triggers:
        trigger_values["it"] = tuple(it_triggers)
    for language, texts in (other_triggers or {}).items():
        trigger_values[language] = tuple(texts)
    step = Step(id="ask", ask=Text({"en": "Which?"}), options=(Option(Text({"en": "A"}), outcome="a"),
                                                                Option(Text({"en": "B"}), outcome="b")))
    return Playbook(
        id=playbook_id, title=Text({"en": title if title is not None else f"Synthetic {playbook_id}"}),
        summary=Text({"en": summary}) if summary else Text(), category=category, triggers=TextList(trigger_values),
        principle=Text({"en": "Decide for the customer."}), limits={"staff": Decimal(10)}, start="ask",
        steps={"ask": step},
        outcomes={"a": Outcome("a", Text({"en": "A"}), favours_customer=True), "b": Outcome("b", Text({"en": "B"}))},
        version=version,
    )


def ids(matches: list[Match]) -> list[str]:
    return [m.playbook_id for m in matches]


# --- the shipped playbooks: how staff actually write --------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("customer lost receipt and wants money back", "refund-without-receipt"),
    ("customer lost the receipt and wants money back", "refund-without-receipt"),
    ("cliente senza scontrino", "refund-without-receipt"),
    ("customer wants a refund", "refund-without-receipt"),
    ("missed conecting flight", "missed-connection"),  # typo
    ("coincidenza persa", "missed-connection"),
    ("loud neighbours guest complains", "noisy-room"),  # word order
    ("guest cant sleep noise", "noisy-room"),
    ("bag didnt arrive", "delayed-baggage"),  # no apostrophe
    ("lost luggage", "delayed-baggage"),
    ("charged twice on my bill", "billing-error"),
    ("where is my order", "late-delivery"),
    ("parcel never arrived", "late-delivery"),
    ("hotel full", "overbooked-room"),
    ("sold out", "item-out-of-stock"),
    ("wrong price at till", "price-mismatch"),
    ("shelf price different from till", "price-mismatch"),
    ("queue too long", "long-check-in-queue"),
    ("CHARGED TWICE!!", "billing-error"),  # case and punctuation do not matter
])
def test_typical_phrasings_find_the_right_playbook_first(catalog: Catalog, query: str, expected: str) -> None:
    matches = catalog.matcher.search(query)
    assert matches, f"no match for {query!r}"
    assert matches[0].playbook_id == expected, matches
    assert matches[0].score >= catalog.matcher.settings.min_score


@pytest.mark.parametrize("query", ["customer lost receipt and wants money back", "cliente senza scontrino",
                                   "loud neighbours guest complains", "charged twice on my bill", "overbooked"])
def test_an_unmistakable_phrasing_starts_at_once(catalog: Catalog, query: str) -> None:
    matches = catalog.matcher.search(query)
    assert catalog.matcher.clear_winner(matches) == matches[0]


@pytest.mark.parametrize("query", ["asdfgh", "my cat is sick", "qwertyuiop zxcv", "weather today", "hello",
                                   "thanks", "12345"])
def test_gibberish_and_unrelated_text_match_nothing(catalog: Catalog, query: str) -> None:
    matches = catalog.matcher.search(query)
    assert matches == []
    assert catalog.matcher.clear_winner(matches) is None


@pytest.mark.parametrize("query", ["", "   ", "!!!", "?", "\n\t"])
def test_empty_query_matches_nothing(catalog: Catalog, query: str) -> None:
    assert catalog.matcher.search(query) == []


def test_an_ambiguous_word_offers_several_and_starts_none(catalog: Catalog) -> None:
    matches = catalog.matcher.search("room")
    assert set(ids(matches)) >= {"noisy-room", "overbooked-room"}
    assert catalog.matcher.clear_winner(matches) is None


@pytest.mark.parametrize("query", ["refund", "flight", "the customer is angry", "room", "customer", "passenger"])
def test_never_more_than_the_limit(catalog: Catalog, query: str) -> None:
    matches = catalog.matcher.search(query)
    assert len(matches) <= catalog.matcher.settings.limit == 3
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert len(set(ids(matches))) == len(matches)  # one entry per playbook, however many strings matched


def test_search_is_deterministic(catalog: Catalog, shipped: list[Playbook]) -> None:
    reversed_catalog = Catalog(list(reversed(shipped)))
    for query in ("refund", "flight", "room", "the", "customer", "missed conecting flight"):
        first = catalog.matcher.search(query)
        assert catalog.matcher.search(query) == first
        assert reversed_catalog.matcher.search(query) == first


@pytest.mark.parametrize("query", ["i", "me", "it", "to", "an", "customer"])
def test_a_filler_word_never_starts_a_playbook(catalog: Catalog, query: str) -> None:
    assert catalog.matcher.clear_winner(catalog.matcher.search(query), query) is None


@pytest.mark.parametrize("query", ["the", "my", "is", "in", "for"])
def test_a_lone_filler_word_matches_nothing(catalog: Catalog, query: str) -> None:
    assert catalog.matcher.search(query) == []


# --- scoring rules, on synthetic playbooks --------------------------------------------------------------------


def test_triggers_weigh_more_than_titles_and_titles_more_than_summaries() -> None:
    matcher = Matcher([make("by-summary", summary="wet floor"), make("by-title", title="wet floor"),
                       make("by-trigger", triggers=["wet floor"])])
    matches = matcher.search("wet floor")
    assert ids(matches) == ["by-trigger", "by-title", "by-summary"]
    assert [m.score for m in matches] == [100 * WEIGHTS["trigger"], 100 * WEIGHTS["title"], 100 * WEIGHTS["summary"]]


def test_every_language_is_searched() -> None:
    matcher = Matcher([make("spill", triggers=["wet floor"], it_triggers=["pavimento bagnato"]),
                       make("other", triggers=["broken door"])])
    assert ids(matcher.search("pavimento bagnato")) == ["spill"]


def test_best_string_counts_once_per_playbook() -> None:
    matcher = Matcher([make("spill", triggers=["wet floor", "floor wet", "wet floor near door"], title="wet floor")])
    assert matcher.search("wet floor") == [Match("spill", 100.0, exact=100.0)]


def test_ties_are_broken_by_id() -> None:
    playbooks = [make(pid, triggers=["wet floor"]) for pid in ("gamma", "alpha", "beta")]
    for order in (playbooks, list(reversed(playbooks))):
        matches = Matcher(order).search("wet floor")
        assert ids(matches) == ["alpha", "beta", "gamma"]
        assert len({m.score for m in matches}) == 1


def test_limit_caps_the_results() -> None:
    playbooks = [make(f"spill-{n}", triggers=[f"wet floor aisle {n}"]) for n in range(6)]
    assert len(Matcher(playbooks).search("wet floor")) == 3
    assert ids(Matcher(playbooks, MatchSettings(limit=1)).search("wet floor")) == ["spill-0"]
    assert len(Matcher(playbooks, MatchSettings(limit=10)).search("wet floor")) == 6


def test_min_score_is_the_floor() -> None:
    matcher = Matcher([make("spill", triggers=["wet floor"]), make("door", title="wet floor")],
                      MatchSettings(min_score=96.0))
    assert ids(matcher.search("wet floor")) == ["spill"]  # the title scores 95: below the floor
    assert Matcher([make("spill", triggers=["wet floor"])], MatchSettings(min_score=100.0)).search("wet flor") == []


def test_empty_catalog_matches_nothing() -> None:
    assert Matcher([]).search("wet floor") == []
    assert Catalog([]).matcher.search("refund") == []


# --- languages: case, accents, ё, elisions ------------------------------------------------------------------


def multilingual() -> Matcher:
    """Two playbooks with triggers in four languages, written as a manager would (accents and ё included)."""
    return Matcher([
        make("refund", triggers=["refund without receipt", "no receipt"], other_triggers={
            "it": ["reso senza scontrino", "rimborso"], "fr": ["remboursement sans ticket", "sans reçu"],
            "ru": ["возврат без чека", "вернуть деньги"]}),
        make("billing", triggers=["charged twice", "wrong bill"], other_triggers={
            "it": ["addebitato due volte", "conto sbagliato"], "fr": ["débité deux fois", "facture erronée"],
            "ru": ["списали дважды", "неверный счёт"]}),
        make("delivery", triggers=["parcel never arrived"], other_triggers={
            "it": ["pacco mai arrivato"], "fr": ["colis jamais arrivé"], "ru": ["посылка не пришла"]}),
    ])


@pytest.mark.parametrize("query", [
    "refund without receipt",
    "возврат без чека", "ВОЗВРАТ БЕЗ ЧЕКА", "Возврат без чека!",
    "remboursement sans ticket", "remboursement sans reçu", "remboursement sans recu", "REMBOURSEMENT SANS REÇU",
    "reso senza scontrino", "resò senza scontrìno", "RESO SENZA SCONTRINO",
    "re\u0301so senza scontrino",  # the accent typed as a separate combining character
])
def test_every_language_case_and_accent_finds_the_same_playbook(query: str) -> None:
    matcher = multilingual()
    matches = matcher.search(query)
    assert ids(matches)[:1] == ["refund"], matches
    assert matches[0].score == 100.0
    assert matcher.clear_winner(matches, query) == matches[0]


@pytest.mark.parametrize(("query", "expected"), [
    ("неверный счет", "billing"),  # typed with е, written with ё
    ("неверный счёт", "billing"),
    ("НЕВЕРНЫЙ СЧЁТ", "billing"),
    ("débité deux fois", "billing"),
    ("debite deux fois", "billing"),  # typed without accents
    ("DÉBITÉ DEUX FOIS", "billing"),
    ("colis jamais arrive", "delivery"),
])
def test_yo_and_accents_fold_both_ways(query: str, expected: str) -> None:
    matches = multilingual().search(query)
    assert ids(matches)[:1] == [expected], matches
    assert matches[0].score == 100.0


def test_a_trigger_typed_without_yo_still_matches_a_query_with_it() -> None:
    matcher = Matcher([make("bill", other_triggers={"ru": ["ещё раз списали за счет"]}),
                       make("other", triggers=["broken door"])])
    assert ids(matcher.search("ещё раз списали за счёт")) == ["bill"]
    assert content_words("ещё раз списали за счёт") == content_words("еще раз списали за счет") == "раз списали счет"


@pytest.mark.parametrize(("text", "expected"), [
    ("Resò senza SCONTRÌNO", "reso senza scontrino"),
    ("REÇU", "recu"),
    ("Straße", "strasse"),  # casefold, not lower
    ("sœur", "soeur"),
    ("ВОЗВРАТ Ёлки", "возврат елки"),
    ("й Й", "й й"),  # a letter of its own in Russian, not и with a breve
    ("и\u0306", "й"),  # ...even typed as и + combining breve
    ("CHARGED-TWICE!!", "charged twice"),
    ("l’article", "l article"),  # typographic apostrophe too
])
def test_fold(text: str, expected: str) -> None:
    assert " ".join(fold(text).split()) == expected


def test_fold_treats_ascii_the_same_on_both_paths() -> None:
    """Plain ASCII takes a fast path; the same characters inside a non-ASCII text must fold identically."""
    ascii_chars = "".join(chr(c) for c in range(128))
    assert fold(ascii_chars) == fold(ascii_chars + "é")[:-1]


@pytest.mark.parametrize(("text", "expected"), [
    ("l'article", "article"),
    ("L’ARTICLE", "article"),
    ("dell'hotel", "hotel"),
    ("nell'ordine dell'ospite", "ordine ospite"),
    ("qu'il est arrivé", "arrive"),
    ("j'ai perdu l'étiquette", "perdu etiquette"),
    ("c'è un problema con l'ordine", "problema ordine"),
    ("n'importe quoi", "importe quoi"),
    ("s'il vous plaît", "plait"),
    ("il cliente è arrabbiato", "cliente arrabbiato"),
    ("où est mon colis", "colis"),
    ("ещё не пришёл", "пришел"),
])
def test_elisions_and_stopwords_are_dropped_in_every_language(text: str, expected: str) -> None:
    assert content_words(text) == expected


def test_stopwords_cover_the_four_languages_and_match_folded() -> None:
    assert set(STOPWORDS_BY_LANGUAGE) == {"en", "it", "fr", "ru"}
    for words in STOPWORDS_BY_LANGUAGE.values():
        for word in words:
            assert content_words(word) == "", word  # each one is dropped, however it is spelled
            assert content_words(word.upper()) == ""
    assert content_words("È Où ЕЁ её") == ""


@pytest.mark.parametrize("query", ["l'", "qu'", "dell'", "à", "её", "это всё"])
def test_a_query_of_only_filler_matches_nothing_in_any_language(query: str) -> None:
    assert multilingual().search(query) == []


@pytest.mark.parametrize(("language", "query"), [
    ("en", "Customer lost the RECEIPT, wants a refund"),
    ("it", "rimborso senza scontrìno"),
    ("fr", "remboursement sans reçu"),
    ("ru", "ВОЗВРАТ без чека"),
])
def test_shipped_refund_playbook_in_each_language(catalog: Catalog, language: str, query: str) -> None:
    """The shipped catalogue, in whichever languages its triggers exist yet (others are being added)."""
    refund = catalog.live("refund-without-receipt")
    assert refund is not None
    if not refund.triggers.values.get(language):
        pytest.skip(f"the shipped refund playbook has no {language!r} triggers yet")
    matches = catalog.matcher.search(query)
    assert ids(matches)[:1] == ["refund-without-receipt"], matches


# --- clear_winner: start at once only when good enough and far enough ahead -----------------------------------


@pytest.mark.parametrize(("scores", "winner"), [
    ([], False),
    ([88.0], True),  # alone and at the threshold
    ([87.9], False),  # alone but below the threshold
    ([100.0, 88.0], True),  # exactly the margin ahead
    ([100.0, 88.1], False),  # not far enough ahead
    ([90.0, 78.0], True),
    ([90.0, 78.5], False),
    ([87.0, 10.0], False),  # far ahead, but not good enough
    ([100.0, 100.0], False),  # a tie is never a clear winner
])
def test_clear_winner_default_settings(scores: list[float], winner: bool) -> None:
    matches = [Match(f"p{n}", score) for n, score in enumerate(scores)]
    assert Matcher([]).clear_winner(matches) == (matches[0] if winner else None)


def test_clear_winner_follows_the_settings() -> None:
    matcher = Matcher([], MatchSettings(autostart_score=70.0, autostart_margin=5.0))
    assert matcher.clear_winner([Match("a", 75.0), Match("b", 70.0)]) == Match("a", 75.0)
    assert matcher.clear_winner([Match("a", 75.0), Match("b", 70.1)]) is None
    assert matcher.clear_winner([Match("a", 69.9)]) is None
    never = Matcher([], MatchSettings(autostart_score=101.0))
    assert never.clear_winner([Match("a", 100.0)]) is None


def test_clear_winner_on_a_synthetic_catalog() -> None:
    matcher = Matcher([make("spill", triggers=["wet floor"]), make("door", triggers=["broken door"]),
                       make("stairs", triggers=["wet stairs"])])
    exact = matcher.search("wet floor")
    assert exact[0] == Match("spill", 100.0, exact=100.0)
    assert matcher.clear_winner(exact) == exact[0]
    vague = matcher.search("wet")
    assert set(ids(vague)) == {"spill", "stairs"}
    assert matcher.clear_winner(vague) is None  # two perfect subset matches: ask, don't guess


# --- the catalog ----------------------------------------------------------------------------------------------


def test_catalog_of_the_shipped_playbooks(catalog: Catalog, shipped: list[Playbook]) -> None:
    assert len(catalog) == len(shipped)
    assert catalog.categories() == ["call-centre", "hospitality", "retail", "travel"]
    assert [p.id for p in catalog.in_category("travel")] == ["long-check-in-queue", "delayed-baggage",
                                                             "missed-connection"]  # sorted by title
    assert [(p.category, p.title.get()) for p in catalog.all()] == sorted((p.category, p.title.get())
                                                                          for p in shipped)
    refund = catalog.live("refund-without-receipt")
    assert refund is not None
    assert catalog.version("refund-without-receipt", refund.version) is refund
    assert catalog.live("nope") is None
    assert catalog.in_category("nope") == []


def test_catalog_keeps_older_versions_after_replace() -> None:
    old = make("spill", triggers=["wet floor"], version="old")
    new = make("spill", triggers=["slippery floor"], version="new")
    gone = make("door", triggers=["broken door"], version="d1")
    catalog = Catalog([old, gone])
    catalog.replace([new])
    assert catalog.live("spill") is new
    assert catalog.live("door") is None
    assert len(catalog) == 1
    assert catalog.version("spill", "old") is old  # a flow or decision on the old version still finds it
    assert catalog.version("door", "d1") is gone
    assert ids(catalog.matcher.search("slippery floor")) == ["spill"]
    assert catalog.matcher.search("broken door") == []  # the matcher only knows the live set
    archived = make("spill", version="archived")
    catalog.remember(archived)
    assert catalog.version("spill", "archived") is archived
    assert catalog.live("spill") is new


def test_catalog_passes_its_settings_to_the_matcher() -> None:
    catalog = Catalog([make(f"spill-{n}", triggers=["wet floor"]) for n in range(4)], MatchSettings(limit=2))
    assert len(catalog.matcher.search("wet floor")) == 2
    catalog.replace([make(f"spill-{n}", triggers=["wet floor"]) for n in range(5)])
    assert len(catalog.matcher.search("wet floor")) == 2


# --- scale: hundreds of playbooks ------------------------------------------------------------------------------

ADJECTIVES = ["amber", "brisk", "cobalt", "dusty", "eager", "frosty", "gilded", "hollow", "ivory", "jagged",
              "knotted", "lunar", "mossy", "nimble", "opal", "purple", "quiet", "rusty", "silken", "tawny"]
NOUNS = ["anchor", "barrel", "candle", "dragon", "engine", "falcon", "garden", "harbour", "island", "jacket",
         "kettle", "ladder", "magnet", "needle", "orchard", "pepper", "quarry", "rocket", "saddle", "tunnel",
         "umbrella", "violin", "wagon", "yacht", "zipper"]

TEMPLATE = """\
id: {id}
title: {{en: "{adjective} {noun} incident", it: "Incidente {noun} {adjective}"}}
summary: {{en: "Synthetic moment number {n} for the scale test."}}
triggers: {{en: ["{adjective} {noun}", "{noun} problem {n}"]}}
principle: {{en: "Decide for the customer."}}
start: ask
steps:
  ask:
    ask: {{en: "Which way?"}}
    options:
      - {{label: {{en: "Kind"}}, outcome: kind}}
      - {{label: {{en: "Strict"}}, outcome: strict}}
outcomes:
  kind: {{title: {{en: "Be kind"}}, favours_customer: true}}
  strict: {{title: {{en: "Be strict"}}}}
"""


def synthetic(n: int) -> tuple[str, str, str]:
    adjective, noun = ADJECTIVES[n % len(ADJECTIVES)], NOUNS[n // len(ADJECTIVES)]
    return f"moment-{n:03d}", adjective, noun


@pytest.fixture(scope="module")
def big_catalog() -> Catalog:
    playbooks = []
    for n in range(len(ADJECTIVES) * len(NOUNS)):
        playbook_id, adjective, noun = synthetic(n)
        source = TEMPLATE.format(id=playbook_id, adjective=adjective, noun=noun, n=n)
        playbook, problems = parse_playbook(textwrap.dedent(source), f"{playbook_id}.yaml")
        assert problems == [] and playbook is not None
        playbooks.append(playbook)
    return Catalog(playbooks)


def test_scale_catalog_holds_500_distinct_playbooks(big_catalog: Catalog) -> None:
    assert len(big_catalog) == 500
    assert len({p.version for p in big_catalog.all()}) == 500


def test_scale_every_playbook_is_found_first(big_catalog: Catalog) -> None:
    for n in range(500):
        playbook_id, adjective, noun = synthetic(n)
        matches = big_catalog.matcher.search(f"{noun} {adjective}")  # word order swapped
        assert matches and matches[0].playbook_id == playbook_id, (n, matches)
        assert len(matches) == 1 or matches[1].score < matches[0].score  # ahead, not tied


@pytest.mark.parametrize("n", [0, 37, 123, 250, 499])
def test_scale_typos_and_other_languages(big_catalog: Catalog, n: int) -> None:
    playbook_id, adjective, noun = synthetic(n)
    typo = noun[:2] + noun[3:]  # one letter dropped
    assert ids(big_catalog.matcher.search(f"{adjective} {typo}"))[:1] == [playbook_id]
    assert ids(big_catalog.matcher.search(f"incidente {noun} {adjective}"))[:1] == [playbook_id]
    assert ids(big_catalog.matcher.search(f"{noun} problem {n}"))[:1] == [playbook_id]


def test_scale_unrelated_text_matches_nothing(big_catalog: Catalog) -> None:
    assert big_catalog.matcher.search("asdfgh qwerty") == []
    assert big_catalog.matcher.search("") == []
