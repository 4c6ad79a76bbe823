"""What a finished flow becomes: one decision, with the facts the digest and the export need."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.conversation import Disposition, Flow, recommended, taken_outcome
from bot.core.playbook import Playbook


@dataclass(frozen=True)
class DecisionDraft:
    flow_token: str
    playbook_id: str
    playbook_version: str
    path: list[dict[str, object]]
    recommended_outcome: str | None
    taken_outcome: str | None
    taken_text: str | None
    disposition: str
    followed: bool
    favours_customer: bool | None
    amount_minor: int | None
    currency: str
    limit_minor: int
    over_limit: bool
    note: str | None
    reaction: str | None
    seconds_to_decide: float
    backs: int
    # When a lead was asked: their answer (approved, declined, coming, timeout), who gave it, and
    # whether the decision was taken because nobody answered in time.
    escalation: str | None = None
    lead_user_id: int | None = None
    on_timeout: bool = False


def draft_decision(playbook: Playbook, flow: Flow, *, limit: Decimal, decimals: int, currency: str,
                   now: float) -> DecisionDraft:
    """Build the decision for a completed flow. The path keeps step ids and the answers' English labels."""
    rec = recommended(playbook, flow)
    taken = taken_outcome(playbook, flow)
    disposition = flow.disposition or Disposition.FOLLOWED
    path = [{"step": step_id, "option": index,
             "answer": playbook.steps[step_id].options[index].label.get("en")}
            for step_id, index in flow.path]
    return DecisionDraft(
        flow_token=flow.token,
        playbook_id=playbook.id,
        playbook_version=playbook.version,
        path=path,
        recommended_outcome=rec.id if rec else None,
        taken_outcome=taken.id if taken else None,
        taken_text=flow.taken_text,
        disposition=disposition.value,
        followed=disposition is Disposition.FOLLOWED,
        favours_customer=taken.favours_customer if taken else None,
        amount_minor=flow.amount_minor,
        currency=currency,
        limit_minor=int(limit.scaleb(decimals)),
        over_limit=flow.over_limit,
        note=flow.note,
        reaction=flow.reaction,
        seconds_to_decide=round(max(0.0, now - flow.started_at), 1),
        backs=flow.backs,
        escalation=flow.escalation,
        lead_user_id=flow.lead_user_id,
        on_timeout=flow.escalation == "timeout",
    )
