"""A new playbook's YAML skeleton from a phrase staff typed (/unmatched), rendered from a template.

YAML is not HTML: this environment does not autoescape; every value from a person goes through the
`yaml` filter, a JSON string, which YAML reads as a double-quoted scalar whatever it contains.
"""

from __future__ import annotations

import json
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.core.unmatched import trigger_text
from bot.ui.render import TEMPLATES_DIR

TEMPLATE = "playbook_skeleton.yaml.j2"


def yaml_string(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=False, undefined=StrictUndefined,
                      keep_trailing_newline=True, auto_reload=False)
    env.filters["yaml"] = yaml_string
    return env


def skeleton(phrase: str, slug: str, *, count: int = 1, days: int = 30) -> str:
    """The YAML text of a new playbook `slug` whose trigger is `phrase`; it loads as it is."""
    return _environment().get_template(TEMPLATE).render(
        slug=slug, trigger=trigger_text(phrase), phrase_line=trigger_text(phrase, 200), count=count, days=days)
