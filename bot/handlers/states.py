"""aiogram states mirror the flow's stage, so filters route typed text to the stage that expects it."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup

from bot.core.conversation import Flow, Stage
from bot.fsm_storage import DatabaseStorage


class Moment(StatesGroup):
    step = State()
    outcome = State()
    other = State()
    other_text = State()
    amount = State()
    note = State()
    reaction = State()
    waiting = State()  # a lead was asked: typed text is a note for them


TEXT_INPUT_STATES = (Moment.other_text, Moment.amount, Moment.note)
_BY_STAGE = {Stage(state.state.split(":")[1]): state for state in Moment.__all_states__}


async def save_flow(state: FSMContext, flow: Flow | None) -> None:
    """Persist the flow and its routing state in one write; None ends it."""
    storage = state.storage
    if isinstance(storage, DatabaseStorage):
        if flow is None:
            await storage.set_state_and_data(state.key, None, {})
        else:
            await storage.set_state_and_data(state.key, _BY_STAGE[flow.stage], {"flow": flow.to_dict()})
        return
    if flow is None:  # another storage (tests with MemoryStorage): two writes
        await state.clear()
        return
    await state.set_data({"flow": flow.to_dict()})
    await state.set_state(_BY_STAGE[flow.stage])


async def load_flow(state: FSMContext) -> dict | None:
    return (await state.get_data()).get("flow")
