"""When a decision says someone needs a refresher on its playbook."""

from __future__ import annotations

BACKS_BEFORE_REFRESHER = 2  # going Back more than this in one flow means the path was unclear to them


def struggled(*, followed: bool, disposition: str, escalation: str | None, backs: int) -> bool:
    """They deviated from the playbook, escalated beyond it, or went Back more than twice: that playbook's
    cards become due sooner for them (what someone struggles with comes back first)."""
    return not followed or disposition == "escalated" or escalation is not None or backs > BACKS_BEFORE_REFRESHER
