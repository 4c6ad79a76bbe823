"""Rights over people: who may give which role, and act on whom. Pure functions over Person.

The rule (also in the README): a manager may invite, promote or demote people to staff, lead or manager,
move them between and deactivate them in the teams the manager covers (their own team and any they
oversee), and only people whose current role is one of those. Admins may do all of this for every role and
every team. Supervisors and admins are therefore made by admins (or from the shell). Nobody changes their
own role, team or activity here, so no one can lock themselves (or the last admin) out by a tap.
"""

from __future__ import annotations

from bot.core.people import Person
from bot.core.roles import Permission, Role

MANAGER_GRANTS: tuple[Role, ...] = (Role.STAFF, Role.LEAD, Role.MANAGER)


def covered_team_ids(actor: Person) -> set[int] | None:
    """The teams `actor`'s rights reach: their own and those they oversee; None: every team."""
    if actor.can(Permission.ALL_TEAMS):
        return None
    return {team for team in (actor.team_id, *actor.oversees) if team is not None}


def grantable_roles(actor: Person) -> tuple[Role, ...]:
    """The roles `actor` may give others, by invite or by a change of role."""
    if not actor.can(Permission.MANAGE_PEOPLE):
        return ()
    if actor.can(Permission.ALL_TEAMS):
        return tuple(Role)
    return MANAGER_GRANTS


def may_grant(actor: Person, role: str, team_id: int | None) -> bool:
    """May `actor` give `role` in team `team_id` (an invite, a promotion)?"""
    return team_id is not None and actor.covers_team(team_id) and role in grantable_roles(actor)


def may_manage(actor: Person, *, user_id: int, role: str, team_id: int | None) -> bool:
    """May `actor` change the role or team of, or deactivate, this person?"""
    if user_id == actor.user_id or not actor.can(Permission.MANAGE_PEOPLE):
        return False
    if team_id is None:  # someone in no team: only those who act on every team reach them
        return actor.can(Permission.ALL_TEAMS)
    return actor.covers_team(team_id) and role in grantable_roles(actor)
