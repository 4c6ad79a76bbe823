"""Who may do what: the one table every permission check reads."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    LEAD = "lead"
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    RUN_PLAYBOOKS = "run playbooks and record decisions"
    OWN_HISTORY = "see their own decisions"
    TRAINING = "take training"
    ANSWER_ESCALATIONS = "answer escalations of their team"
    TEAM_DECISIONS = "see their team's recent decisions"
    EDIT_PLAYBOOKS = "edit, publish and roll back playbooks"
    MANAGE_PEOPLE = "invite people, change roles, move and deactivate people of their teams"
    PUSH_TRAINING = "push training to their team"
    DIGESTS = "receive digests and read team data of the teams they oversee"
    ALL_TEAMS = "act on every team"
    AUDIT = "read the audit log"
    ADD_USERS = "add users directly by Telegram id"


_STAFF = {Permission.RUN_PLAYBOOKS, Permission.OWN_HISTORY, Permission.TRAINING}
_LEAD = _STAFF | {Permission.ANSWER_ESCALATIONS, Permission.TEAM_DECISIONS}
_MANAGER = _LEAD | {Permission.EDIT_PLAYBOOKS, Permission.MANAGE_PEOPLE, Permission.PUSH_TRAINING, Permission.DIGESTS}

# The whole rights model. The README shows the same table; tests check that each privileged
# handler refuses every role that lacks its permission.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STAFF: frozenset(_STAFF),
    Role.LEAD: frozenset(_LEAD),
    Role.MANAGER: frozenset(_MANAGER),
    Role.SUPERVISOR: frozenset(_STAFF | {Permission.DIGESTS, Permission.TEAM_DECISIONS}),
    Role.ADMIN: frozenset(Permission),
}


def can(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def roles_with(permission: Permission) -> list[Role]:
    return [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
