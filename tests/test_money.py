from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.loader import load_directory
from bot.core.money import AmountError, currency_decimals, limit_for, parse_amount

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("text", "expected"), [
    ("50", Decimal(50)), ("12.50", Decimal("12.50")), ("12,5", Decimal("12.5")), ("€ 30", Decimal(30)),
    ("30€", Decimal(30)), ("30 eur", Decimal(30)), ("0", Decimal(0)), (" 7 ", Decimal(7)),
])
def test_amounts_people_type(text: str, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(("text", "code"), [
    ("-5", "negative"), ("abc", "not_a_number"), ("", "not_a_number"), ("1,000.50", "not_a_number"),
    ("12.345", "too_precise"), ("99999999", "too_large"), ("5 5", "not_a_number"), ("NaN", "not_a_number"),
    ("1e3", "not_a_number"),
])
def test_bad_amounts_say_why(text: str, code: str) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert info.value.code == code


def test_currency_without_minor_units() -> None:
    assert currency_decimals("JPY") == 0
    with pytest.raises(AmountError):
        parse_amount("10.5", decimals=0)


def test_limits_follow_rank_and_fall_back_to_config() -> None:
    playbooks, _ = load_directory(ROOT / "playbooks")
    refund = next(p for p in playbooks if p.id == "refund-without-receipt")
    defaults = {"staff": Decimal(25), "lead": Decimal(100), "manager": Decimal(300)}
    assert limit_for(refund, "staff", defaults) == Decimal(50)  # the playbook wins
    assert limit_for(refund, "lead", defaults) == Decimal(200)
    assert limit_for(refund, "manager", defaults) == Decimal(300)  # left out by the playbook: config
    assert limit_for(refund, "admin", defaults) == Decimal(300)
    assert limit_for(refund, "supervisor", defaults) == Decimal(50)
