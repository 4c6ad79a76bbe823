"""YAML parsing that remembers where every value came from, so errors can name line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based, as editors show it
    column: int  # 1-based


@dataclass
class ParsedYaml:
    data: Any
    positions: dict[PathKey, Position] = field(default_factory=dict)
    key_positions: dict[PathKey, Position] = field(default_factory=dict)
    duplicates: list[tuple[PathKey, Position]] = field(default_factory=list)

    def position(self, path: PathKey) -> Position:
        """Where `path` was written; the nearest written ancestor when the value itself is missing."""
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))

    def key_position(self, path: PathKey) -> Position:
        """Where the key of a mapping entry was written: errors about the key itself point there."""
        return self.key_positions.get(tuple(path)) or self.position(path)


class YamlSyntaxError(ValueError):
    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# libyaml's parser (PyYAML's C binding) when it is there: the same events, nodes and marks, ten times faster
# than the pure-Python one, which took most of the bot's start-up reading the playbooks folder.
FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


MAX_SOURCE_BYTES = 256 * 1024
MAX_ALIASES = 10  # anchors are handy for a shared label or two; hundreds are an expansion attack
MAX_DEPTH = 40  # a playbook is five levels deep; deeper is a stack-exhaustion attempt
MAX_NODES = 50_000  # values after alias expansion: far above any real playbook, far below a "billion laughs"


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document into plain Python values plus a path → position map.

    Guards against hostile input that yaml.safe_load alone does not stop: huge sources, alias bombs
    (a few lines that expand to billions of values) and nesting deep enough to exhaust the stack.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES:
        raise YamlSyntaxError(f"the file is larger than {MAX_SOURCE_BYTES // 1024} KB", Position(1, 1))
    try:
        try:
            root = _compose(text, FastLoader)
        except (yaml.YAMLError, RecursionError):
            if FastLoader is yaml.SafeLoader:
                raise
            # Broken YAML: read it again with the pure-Python parser for its messages, which are clearer
            # than libyaml's ("mapping values are not allowed here") and the ones the docs and tests show.
            root = _compose(text, yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(f"YAML syntax error: {problem}", position) from exc
    except yaml.reader.ReaderError as exc:
        raise YamlSyntaxError("the file is not text: it holds binary or control characters",
                              Position(1, 1)) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML syntax error: {exc}", Position(1, 1)) from exc
    except RecursionError as exc:
        raise YamlSyntaxError("the document is nested too deeply", Position(1, 1)) from exc
    result = ParsedYaml(data=None)
    if root is None:
        return result
    constructor = yaml.SafeLoader("")
    budget = [MAX_NODES]
    try:
        result.data = _convert(root, (), result, constructor, budget)
    except RecursionError as exc:
        raise YamlSyntaxError("the document is nested too deeply", Position(1, 1)) from exc
    return result


def _compose(text: str, loader: type[yaml.SafeLoader]) -> yaml.Node | None:
    _check_events(text, loader)
    return yaml.compose(text, Loader=loader)


def _check_events(text: str, loader: type[yaml.SafeLoader]) -> None:
    """One cheap pass over the event stream (no recursion) before building anything."""
    aliases = depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise YamlSyntaxError(f"the document is nested more than {MAX_DEPTH} levels deep",
                                      Position(mark.line + 1, mark.column + 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                mark = event.start_mark
                raise YamlSyntaxError(f"more than {MAX_ALIASES} YAML aliases (*name): refused, as a document "
                                      "that expands too much", Position(mark.line + 1, mark.column + 1))


def _convert(node: yaml.Node, path: PathKey, out: ParsedYaml, constructor: yaml.SafeLoader,
             budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSyntaxError(f"the document expands to more than {MAX_NODES} values: refused", _mark(node))
    out.positions[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            child = (*path, key)
            if key in mapping:
                out.duplicates.append((child, _mark(key_node)))
                continue
            mapping[key] = _convert(value_node, child, out, constructor, budget)
            out.key_positions[child] = _mark(key_node)
            # A nested block is reported at its key, which is where people look; a scalar at itself.
            if not isinstance(value_node, yaml.ScalarNode):
                out.positions[child] = _mark(key_node)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, index), out, constructor, budget) for index, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)
