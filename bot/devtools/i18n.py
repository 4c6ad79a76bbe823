"""Keep the message catalogues in step with the texts: extract the English message ids, update every
language's `messages.po`, and check what is missing or broken.

    python -m bot.devtools.i18n update   # new ids into every catalogue (empty), gone ids dropped
    python -m bot.devtools.i18n check    # exit 1 when a catalogue lacks a translation or breaks a placeholder

Message ids come from the templates' `{% trans %}` blocks and `_()` calls (Jinja's Babel extractor), from
the values of `bot/locales/en.yaml` (the labels `Renderer.t()` looks up by key), and from the `N_()` calls of
bot/core (Babel's Python extractor): the problems `moments lint` and uploads report.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from bot.ui.i18n import DOMAIN, po_path
from bot.ui.render import LOCALES_DIR, PACKAGE_DIR, TEMPLATES_DIR

LANGUAGES = ("it", "fr", "ru")  # shipped catalogues besides English, the source
BRACES = re.compile(r"\{(\w+)\}")  # str.format placeholders of the labels
PERCENT = re.compile(r"%\((\w+)\)s")  # newstyle gettext placeholders of the templates
CORE_DIR = PACKAGE_DIR / "core"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trimmed": "false"}


def _labels(path: Path) -> Iterator[tuple[str, str]]:
    """(key, English text) of every label, keys dotted as Renderer.t() takes them."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def walk(prefix: str, node: object) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            yield prefix, str(node)

    yield from walk("", data)


def template_catalog(templates_dir: Path = TEMPLATES_DIR, locales_dir: Path = LOCALES_DIR,
                     core_dir: Path = CORE_DIR) -> Catalog:
    """Every English message id the bot can show, with where it comes from."""
    catalog = Catalog(domain=DOMAIN, project="Moments", charset="utf-8")
    for template in sorted(templates_dir.glob("*.j2")):
        with template.open("rb") as source:
            for line, message, comments, _context in extract(babel_extract, source, options=JINJA_OPTIONS):
                # Newstyle gettext formats every template message with % (a literal % is written %%).
                catalog.add(message, locations=[(f"bot/templates/{template.name}", line)],
                            auto_comments=comments, flags=("python-format",))
    for module in sorted(core_dir.rglob("*.py")):
        with module.open("rb") as source:
            for line, message, comments, _context in extract("python", source, keywords={"N_": None}):
                # Message.render fills every problem text with %, so every one is python-format.
                catalog.add(message, locations=[(module.relative_to(core_dir.parent.parent).as_posix(), line)],
                            auto_comments=comments, flags=("python-format",))
    for key, text in _labels(locales_dir / "en.yaml"):
        catalog.add(text, locations=[(f"bot/locales/en.yaml:{key}", 0)], flags=_flags(text))
    return catalog


def _flags(message: str | tuple[str, ...]) -> tuple[str, ...]:
    text = " ".join(message) if isinstance(message, tuple) else message
    if PERCENT.search(text):
        return ("python-format",)
    if BRACES.search(text):
        return ("python-brace-format",)
    return ()


def update(locales_dir: Path = LOCALES_DIR) -> dict[str, int]:
    """Merge the current ids into every language's catalogue; returns how many need a translation each."""
    template = template_catalog(locales_dir=locales_dir)
    untranslated = {}
    for language in LANGUAGES:
        path = po_path(locales_dir, language)
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=language, domain=DOMAIN)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="Moments", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False  # the header: a fuzzy header would hide Plural-Forms from gettext
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=0, omit_header=False, ignore_obsolete=True, include_previous=False)
        untranslated[language] = sum(1 for message in catalog if message.id and not _translated(message))
    return untranslated


def _translated(message: Message) -> bool:
    if message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


@dataclass(frozen=True)
class Problem:
    language: str
    message: str
    what: str

    def __str__(self) -> str:
        return f"{self.language}: {self.what}: {self.message[:70]!r}"


def placeholders(text: str) -> set[str]:
    return set(BRACES.findall(text)) | set(PERCENT.findall(text))


def check(locales_dir: Path = LOCALES_DIR, languages: tuple[str, ...] = LANGUAGES) -> list[Problem]:
    """Every id translated in every language, with the same placeholders and the same HTML tags."""
    template = template_catalog(locales_dir=locales_dir)
    problems: list[Problem] = []
    for language in languages:
        path = po_path(locales_dir, language)
        if not path.exists():
            problems.append(Problem(language, str(path), "no catalogue"))
            continue
        with path.open("rb") as source:
            catalog = read_po(source, locale=language, domain=DOMAIN)
        for wanted in template:
            if not wanted.id:
                continue
            found = catalog.get(wanted.id)
            if found is None or not _translated(found):
                problems.append(Problem(language, _first(wanted.id), "not translated"))
                continue
            ids = wanted.id if isinstance(wanted.id, tuple) else (wanted.id,)
            strings = found.string if isinstance(found.string, tuple) else (found.string,)
            expected = set().union(*(placeholders(text) for text in ids))
            for text in strings:
                if placeholders(text) != expected and not (len(ids) > 1 and placeholders(text) <= expected):
                    problems.append(Problem(language, _first(wanted.id), f"placeholders {sorted(placeholders(text))}"
                                                                         f" instead of {sorted(expected)}"))
                if _tags(text) != _tags(ids[0]):
                    problems.append(Problem(language, _first(wanted.id), "HTML tags differ"))
                failure = _formats(text, expected, "python-format" in wanted.flags)
                if failure:
                    problems.append(Problem(language, _first(wanted.id), failure))
    return problems


def _formats(text: str, names: set[str], percent: bool) -> str | None:
    """Whether the translation fills in as the code will fill it: % for templates (so a lone % must be %%),
    str.format for labels."""
    values = {name: "x" for name in names}
    try:
        text % values if percent else text.format(**values)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        return f"does not fill in ({exc.__class__.__name__}: {exc}); a literal % is written %%" if percent \
            else f"does not fill in ({exc.__class__.__name__}: {exc})"
    return None


def _first(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _tags(text: str) -> list[str]:
    return sorted(re.findall(r"</?[a-z]+", text))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        for language, missing in update().items():
            print(f"{language}: {missing} message(s) to translate")
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {', '.join(LANGUAGES)}")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
