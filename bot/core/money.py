"""Amounts of money: parsing what staff type, and the empowerment limit that applies to a person."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from bot.core.playbook import Playbook

MAX_AMOUNT = Decimal("1000000")
# Operational rank: a role may spend what any role at or below its rank may spend.
RANK = {"staff": 0, "supervisor": 0, "lead": 1, "manager": 2, "admin": 3}

_AMOUNT = re.compile(
    r"^\s*(?:[€$£¥₽]|[a-z]{3})?\s*(?P<number>\d+(?:[.,]\d+)?)\s*(?:[€$£¥₽]|[a-z]{3}|euros?|rub)?\s*$",
    re.IGNORECASE,
)


class AmountError(ValueError):
    """`code` names what is wrong, for the message template: not_a_number, negative, too_precise, too_large."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_amount(text: str, decimals: int = 2) -> Decimal:
    """Read '50', '12,50', '€ 30', '30 eur'. Refuse negatives, more decimals than the currency has, huge sums."""
    cleaned = text.strip().replace("\u00a0", " ")
    if cleaned.startswith("-"):
        raise AmountError("negative")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise AmountError("not_a_number")
    try:
        amount = Decimal(match.group("number").replace(",", "."))
    except InvalidOperation as exc:
        raise AmountError("not_a_number") from exc
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
        raise AmountError("too_precise")
    if amount > MAX_AMOUNT:
        raise AmountError("too_large")
    return amount


def to_minor(amount: Decimal, decimals: int) -> int:
    return int(amount.scaleb(decimals))


def from_minor(minor: int, decimals: int) -> Decimal:
    return Decimal(minor).scaleb(-decimals)


def limit_for(playbook: Playbook, role: str, defaults: Mapping[str, Decimal],
              team_overrides: Mapping[str, Decimal] | None = None) -> Decimal:
    """A person's own limit: the most that any role at or below theirs may spend in this playbook.

    A team's override for a role wins, then the playbook's `limits`, then the configured defaults.
    """
    rank = RANK.get(role, 0)
    merged = {**defaults, **playbook.limits, **(team_overrides or {})}
    allowed = [amount for name, amount in merged.items() if RANK.get(name, 0) <= rank]
    return max(allowed, default=Decimal(0))


def currency_decimals(currency: str) -> int:
    """Minor-unit digits of a currency (EUR 2, JPY 0), from the CLDR data Babel ships."""
    return get_currency_precision(currency)
