"""A playbook's decision tree as a picture: steps as boxes, answers as arrows, outcomes as ellipses.

`dot_source` is pure (it only builds DOT text); `render` runs Graphviz's `dot` (Debian package `graphviz`)
and returns PNG or SVG bytes, for `moments graph` and the `/graph` chat command alike.
"""

from __future__ import annotations

import textwrap

import graphviz

from bot.core.playbook import Playbook

FORMATS = ("png", "svg")
FAVOURS_FILL = "#c8f0c8"  # customer-favouring outcomes: green, with a ★
OTHER_FILL = "#f2f2f2"
STEP_FILL = "#e8f0ff"
WRAP = 32  # characters per line inside a node


class GraphvizMissing(RuntimeError):
    """Graphviz's `dot` program is not installed (Debian: apt-get install graphviz)."""


def _wrap(text: str, width: int = WRAP) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def dot_source(playbook: Playbook, language: str = "en") -> str:
    """The DOT text of the decision tree, with every text in `language` (falling back like the bot does)."""
    graph = graphviz.Digraph(name=playbook.id, graph_attr={
        "rankdir": "TB", "label": _wrap(playbook.title.get(language), 60), "labelloc": "t", "fontsize": "18",
        "fontname": "Helvetica", "nodesep": "0.3", "ranksep": "0.5", "dpi": "110", "bgcolor": "white"})
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="10", color="#555555")
    for step in playbook.steps.values():
        width = 3 if step.id == playbook.start else 1
        graph.node(f"s_{step.id}", _wrap(step.ask.get(language)), shape="box", style="rounded,filled",
                   fillcolor=STEP_FILL, penwidth=str(width))
    for outcome in playbook.outcomes.values():
        title = _wrap(outcome.title.get(language))
        if outcome.favours_customer:
            graph.node(f"o_{outcome.id}", f"★ {title}", shape="ellipse", style="filled",
                       fillcolor=FAVOURS_FILL, color="#2e8b2e", penwidth="2")
        else:
            graph.node(f"o_{outcome.id}", title, shape="ellipse", style="filled", fillcolor=OTHER_FILL)
    for step in playbook.steps.values():
        for option in step.options:
            target = f"s_{option.next}" if option.next else f"o_{option.outcome}"
            graph.edge(f"s_{step.id}", target, label=_wrap(option.label.get(language), 24))
    return graph.source


def render(playbook: Playbook, fmt: str = "png", language: str = "en") -> bytes:
    """The picture as PNG or SVG bytes. Raises GraphvizMissing when `dot` is not installed."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        return graphviz.Source(dot_source(playbook, language)).pipe(format=fmt)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizMissing("Graphviz's `dot` is not installed (Debian: apt-get install graphviz)") from exc


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return 0, 0
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
