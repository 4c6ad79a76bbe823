"""Telegram's HTML parse mode, re-implemented strictly enough to reject what Telegram rejects.

The tag set, the error wording and the byte offsets follow Telegram's own parser (tdlib's
``parse_html``), so a test failure reads like the production error a bot would log.

One deliberate difference: Telegram quietly keeps a bare ``&`` that does not start an entity
(``AT&T``), but this parser rejects it. A bare ``&`` in a message almost always means user
content was interpolated without ``html.escape``; the same content with a ``<`` in it would
fail in production, so the stand-in fails early on the harmless-looking case too.
Attribute values stay lenient about ``&`` (URLs in ``href`` carry query strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Tag name -> Bot API entity type. "span" is a spoiler only with class="tg-spoiler" (checked below).
_ENTITY_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
SUPPORTED_TAGS = frozenset(_ENTITY_TYPES)

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\r\n"


class HTMLParseError(ValueError):
    """The text is not valid Telegram HTML; the message is the detail Telegram would give."""


@dataclass(frozen=True)
class ParsedText:
    """Plain text as the user sees it, plus Bot API entities (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    source_pos: int
    offset: int  # UTF-16 offset in the plain text where the tag's content starts
    attrs: dict[str, str]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram measures entity offsets in."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML into plain text and entities, or raise HTMLParseError."""
    return _Parser(source).run()


def escape(text: str) -> str:
    """Escape plain text for Telegram HTML (the three characters the parser cares about)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def run(self) -> ParsedText:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "<":
                self._tag()
            elif char == "&":
                self._emit(self._entity(self.pos, strict=True))
            else:
                self._text_run()
        if self.stack:
            raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return ParsedText("".join(self.out), self.entities)

    # --- text -------------------------------------------------------------------------------

    def _text_run(self) -> None:
        end = self.pos
        while end < len(self.src) and self.src[end] not in "<&":
            end += 1
        self.out.append(self.src[self.pos : end])
        self.offset += utf16_len(self.src[self.pos : end])
        self.pos = end

    def _emit(self, char: str) -> None:
        self.out.append(char)
        self.offset += utf16_len(char)

    def _entity(self, start: int, *, strict: bool) -> str:
        """Decode the entity at ``start`` (which holds '&') and advance past it."""
        semicolon = self.src.find(";", start, start + 12)
        body = self.src[start + 1 : semicolon] if semicolon != -1 else ""
        decoded = _decode_entity(body) if body else None
        if decoded is None:
            if strict:
                raise HTMLParseError(
                    f"Unsupported HTML entity at byte offset {self._byte(start)}: "
                    'escape a bare "&" as "&amp;"'
                )
            self.pos = start + 1
            return "&"
        self.pos = semicolon + 1
        return decoded

    def _byte(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    # --- tags -------------------------------------------------------------------------------

    def _tag(self) -> None:
        if self.src.startswith("</", self.pos):
            self._end_tag()
        else:
            self._start_tag()

    def _start_tag(self) -> None:
        begin = self.pos
        end = begin + 1
        while end < len(self.src) and self.src[end] not in _SPACES and self.src[end] != ">":
            end += 1
        if end >= len(self.src):
            raise HTMLParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        name = self.src[begin + 1 : end].lower()
        if name not in SUPPORTED_TAGS:
            raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {self._byte(begin)}')
        self.pos = end
        attrs = self._attributes(name, begin)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HTMLParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte(begin)}'
            )
        self.stack.append(_OpenTag(name, begin, self.offset, attrs))

    def _attributes(self, tag: str, begin: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        while True:
            self._skip_spaces()
            if self.pos >= len(self.src):
                raise HTMLParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            if self.src[self.pos] == ">":
                self.pos += 1
                return attrs
            name = self._attribute_name(tag, begin)
            self._skip_spaces()
            if self.pos < len(self.src) and self.src[self.pos] == "=":
                self.pos += 1
                self._skip_spaces()
                attrs[name] = self._attribute_value(begin)
            elif tag == "blockquote" and name == "expandable":
                attrs[name] = ""
            else:
                raise HTMLParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {self._byte(begin)}"
                )

    def _attribute_name(self, tag: str, begin: int) -> str:
        start = self.pos
        while self.pos < len(self.src) and self.src[self.pos] not in _SPACES + "=>":
            self.pos += 1
        if self.pos == start:
            raise HTMLParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {self._byte(begin)}'
            )
        return self.src[start : self.pos].lower()

    def _attribute_value(self, begin: int) -> str:
        if self.pos >= len(self.src):
            raise HTMLParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        quote = self.src[self.pos]
        if quote not in "'\"":
            start = self.pos
            while self.pos < len(self.src) and (self.src[self.pos].isalnum() or self.src[self.pos] in ".-_:"):
                self.pos += 1
            return self.src[start : self.pos]
        self.pos += 1
        value: list[str] = []
        while self.pos < len(self.src) and self.src[self.pos] != quote:
            if self.src[self.pos] == "&":
                value.append(self._entity(self.pos, strict=False))
            else:
                value.append(self.src[self.pos])
                self.pos += 1
        if self.pos >= len(self.src):
            raise HTMLParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        self.pos += 1
        return "".join(value)

    def _skip_spaces(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos] in _SPACES:
            self.pos += 1

    def _end_tag(self) -> None:
        begin = self.pos
        close = self.src.find(">", begin)
        if close == -1:
            raise HTMLParseError(f"Unclosed end tag at byte offset {self._byte(begin)}")
        name = self.src[begin + 2 : close].strip().lower()
        if not self.stack:
            raise HTMLParseError(f"Unexpected end tag at byte offset {self._byte(begin)}")
        top = self.stack[-1]
        if name != top.name:
            raise HTMLParseError(
                f'Unmatched end tag at byte offset {self._byte(begin)}, expected "</{top.name}>", '
                f'found "</{name}>"'
            )
        self.stack.pop()
        self.pos = close + 1
        self._close_entity(top)

    def _close_entity(self, tag: _OpenTag) -> None:
        length = self.offset - tag.offset
        parent = self.stack[-1] if self.stack else None
        if tag.name == "code" and parent is not None and parent.name == "pre":
            # <pre><code class="language-x"> is one pre entity with a language, as in Telegram.
            language = _language(tag.attrs)
            if language:
                parent.attrs["class"] = f"language-{language}"
            return
        if length <= 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {"type": _ENTITY_TYPES[tag.name], "offset": tag.offset, "length": length}
        entity.update(self._entity_extras(tag))
        if entity["type"] == "text_link" and not entity.get("url"):
            return  # a link Telegram can't resolve is dropped silently
        self.entities.append(entity)

    def _entity_extras(self, tag: _OpenTag) -> dict[str, Any]:
        attrs = tag.attrs
        if tag.name == "a":
            # Telegram falls back to the link text when href is missing.
            inner = "".join(self.out)
            return {"url": attrs.get("href") or _tail_utf16(inner, self.offset - tag.offset)}
        if tag.name == "pre" and _language(attrs):
            return {"language": _language(attrs)}
        if tag.name == "blockquote" and "expandable" in attrs:
            return {"type": "expandable_blockquote"}
        if tag.name == "tg-emoji":
            return {"custom_emoji_id": attrs.get("emoji-id", "")}
        if tag.name == "tg-time":
            return _date_time_extras(attrs)
        return {}


def _decode_entity(body: str) -> str | None:
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body]
    if not body.startswith("#"):
        return None
    digits, base = (body[2:], 16) if body[1:2] in ("x", "X") else (body[1:], 10)
    try:
        code = int(digits, base) if digits else -1
    except ValueError:
        return None
    if not (0 < code <= 0x10FFFF) or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _language(attrs: dict[str, str]) -> str:
    css = attrs.get("class", "")
    return css.removeprefix("language-") if css.startswith("language-") else ""


def _date_time_extras(attrs: dict[str, str]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if attrs.get("unix", "").isdigit():
        extras["unix_time"] = int(attrs["unix"])
    if attrs.get("format"):
        extras["date_time_format"] = attrs["format"]
    return extras


def _tail_utf16(text: str, units: int) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[len(encoded) - 2 * units :].decode("utf-16-le")
