"""Roles: the catalogue's permission templates, built-in and custom roles, and who holds them.

A role's permissions are its Casbin `p` rules and its assignments its `g` rules (core/authz);
every change writes them with the role in one transaction and then marks the policy changed, so
each worker's enforcer is rebuilt before its next decision."""

from __future__ import annotations

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.db import write_transaction
from models.identity import Space, SpaceMember, User
from models.permission import DOMAIN_GLOBAL, DOMAIN_SPACE, PolicyRule, Role
from services import accounts

DOMAIN_NAMES = {DOMAIN_SPACE: "Space", DOMAIN_GLOBAL: "Global"}


def templates(domain: str | None = None, resource: str | None = None, keyword: str = "") -> list[dict]:
    """The catalogue as Coze Plus groups it: domain -> resources -> actions."""
    groups = []
    for name in (DOMAIN_SPACE, DOMAIN_GLOBAL):
        if domain not in (None, "", name):
            continue
        resources = []
        for item in authz.CATALOGUE:
            if item.domain != name or resource not in (None, "", item.name):
                continue
            actions = [
                {
                    "template_code": f"{item.name}:{action}",
                    "domain": name,
                    "resource": item.name,
                    "resource_name": item.label,
                    "action": action,
                    "action_name": authz.ACTION_NAMES[action],
                }
                for action in item.actions
                if _matches(keyword, item.name, item.label, action, authz.ACTION_NAMES[action])
            ]
            if actions:
                resources.append({"resource": item.name, "resource_name": item.label, "actions": actions})
        if resources:
            groups.append({"domain": name, "domain_name": DOMAIN_NAMES[name], "resources": resources})
    return groups


def _matches(keyword: str, *texts: str) -> bool:
    return not keyword or any(keyword.lower() in text.lower() for text in texts)


def granted(role: Role) -> list[tuple[str, str]]:
    if role.role_code in authz.FIXED_ROLES:
        return [cell for domain in authz.FIXED_ROLES[role.role_code] for cell in authz.cells(domain)]
    rules = PolicyRule.select().where(
        (PolicyRule.ptype == "p") & (PolicyRule.v0 == authz.subject_of(role.role_code))
    )
    return [(rule.v2, rule.v3) for rule in rules]


def permission_groups(cells: list[tuple[str, str]]) -> list[dict]:
    held = set(cells)
    groups = []
    for group in templates():
        resources = []
        for item in group["resources"]:
            actions = [a for a in item["actions"] if (a["resource"], a["action"]) in held]
            if actions:
                resources.append({**item, "actions": actions})
        if resources:
            groups.append({**group, "resources": resources})
    return groups


def _cells_of(role_domain: str, groups: list[dict]) -> list[tuple[str, str]]:
    """The cells `permissions` names, each checked against the catalogue and the role's domain."""
    cells = []
    for g, group in enumerate(groups):
        if group.get("domain") not in (None, "", role_domain):
            raise errors.PERMISSION_INVALID_PARAM(
                f"permissions[{g}].domain: a {role_domain} role holds {role_domain} permissions only"
            )
        for r, item in enumerate(group["resources"]):
            resource = authz.RESOURCES.get(item["resource"])
            where = f"permissions[{g}].resources[{r}]"
            if resource is None or resource.domain != role_domain:
                raise errors.PERMISSION_INVALID_PARAM(
                    f"{where}.resource: {item['resource']!r} is not a {role_domain} resource (template/list)"
                )
            for a, action in enumerate(item["actions"]):
                if action["action"] not in resource.actions:
                    raise errors.PERMISSION_INVALID_PARAM(
                        f"{where}.actions[{a}].action: {resource.name} has no action {action['action']!r}"
                    )
                cells.append((resource.name, action["action"]))
    return list(dict.fromkeys(cells))


def _write_cells(role: Role, cells: list[tuple[str, str]], by: User) -> None:
    subject = authz.subject_of(role.role_code)
    PolicyRule.delete().where((PolicyRule.ptype == "p") & (PolicyRule.v0 == subject)).execute()
    domain = authz.policy_domain(role.role_domain)
    rows = [
        {"ptype": "p", "v0": subject, "v1": domain, "v2": r, "v3": a, "created_by": by.id} for r, a in cells
    ]
    if rows:
        PolicyRule.insert_many(rows).execute()


def load(admin: User, role_id, permission: str = "role:read", *, field: str = "id") -> Role:
    authz.require(admin, permission)
    number = parse_id(role_id)
    role = Role.by_id(number) if number is not None else None
    if role is None:
        raise errors.ROLE_NOT_FOUND(f"{field}: role {role_id} not found")
    return role


def create(
    admin: User, code: str, name: str, description: str = "", domain: str = DOMAIN_SPACE, permissions=()
):
    authz.require(admin, "role:create")
    cells = _cells_of(domain, list(permissions or ()))
    with write_transaction():
        if Role.by_code(code) is not None:
            raise errors.ROLE_CODE_EXISTS(f"role_code: {code!r} is taken")
        role = Role.create(
            role_code=code,
            role_name=name.strip() or code,
            role_domain=domain,
            description=description or "",
            created_by=admin.id,
        )
        _write_cells(role, cells, admin)
        authz.policy_changed()
    return role


def update(admin: User, role_id, *, name=None, description=None, disabled=None, permissions=None) -> Role:
    role = load(admin, role_id, "role:update")
    if role.is_builtin and (disabled is not None and bool(disabled) != role.is_disabled):
        raise errors.ROLE_BUILTIN(f"is_disabled: {role.role_code} is built in and stays enabled")
    if role.role_code in authz.FIXED_ROLES and permissions is not None:
        raise errors.ROLE_BUILTIN(f"permissions: {role.role_code} holds every permission of its domain")
    cells = _cells_of(role.role_domain, list(permissions)) if permissions is not None else None
    changes = {}
    if name is not None:
        if not name.strip():
            raise errors.PERMISSION_INVALID_PARAM("role_name: must not be blank")
        changes["role_name"] = name.strip()
    if description is not None:
        changes["description"] = description
    if disabled is not None:
        changes["is_disabled"] = bool(disabled)
    with write_transaction():
        role = role.touch(**changes) if changes else role
        if cells is not None:
            _write_cells(role, cells, admin)
        if cells is not None or "is_disabled" in changes:
            authz.policy_changed()
    return role


def delete(admin: User, role_id) -> None:
    role = load(admin, role_id, "role:delete")
    if role.is_builtin:
        raise errors.ROLE_BUILTIN(f"id: {role.role_code} is built in and cannot be deleted")
    subject = authz.subject_of(role.role_code)
    with write_transaction():
        PolicyRule.delete().where(
            ((PolicyRule.ptype == "p") & (PolicyRule.v0 == subject))
            | ((PolicyRule.ptype == "g") & (PolicyRule.v1 == subject))
        ).execute()
        role.delete_instance()
        authz.policy_changed()


def page(admin: User, criteria: dict, number: int = 1, size: int = 20):
    authz.require(admin, "role:read")
    query = Role.select()
    keyword = criteria.get("keyword") or ""
    if keyword:
        query = query.where(Role.role_code.contains(keyword) | Role.role_name.contains(keyword))
    for key, column in (("is_builtin", Role.is_builtin), ("is_disabled", Role.is_disabled)):
        if criteria.get(key) is not None:
            query = query.where(column == bool(criteria[key]))
    if criteria.get("role_domain"):
        query = query.where(Role.role_domain == criteria["role_domain"])
    listed = paging.page(query.order_by(Role.is_builtin.desc(), Role.id), number, size, total=True)
    return listed.rows, listed.total


# --- who holds which role ----------------------------------------------------------------------


def _assignable(role_ids: list) -> list[Role]:
    roles = []
    for index, raw in enumerate(role_ids):
        number = parse_id(raw)
        role = Role.by_id(number) if number is not None else None
        if role is None:
            raise errors.ROLE_NOT_FOUND(f"role_ids[{index}]: role {raw} not found")
        if role.space_role_type:
            raise errors.PERMISSION_INVALID_PARAM(
                f"role_ids[{index}]: {role.role_code} comes from space membership (space/member/add)"
            )
        roles.append(role)
    return roles


def _domain(role: Role, user: User, space_id) -> str:
    if role.role_domain == DOMAIN_GLOBAL:
        if space_id not in (None, ""):
            raise errors.PERMISSION_INVALID_PARAM(f"space_id: {role.role_code} is a global role")
        return DOMAIN_GLOBAL
    if space_id in (None, ""):
        return authz.SPACE_ANY
    number = parse_id(space_id)
    if number is None or Space.by_id(number) is None:
        raise errors.SPACE_NOT_FOUND(f"space_id: space {space_id} not found")
    if SpaceMember.role_of(number, user.id) is None:
        raise errors.PERMISSION_INVALID_PARAM(f"space_id: user {user.id} is not a member of space {number}")
    return f"space:{number}"


def assign(admin: User, user_id, role_ids: list, space_id=None) -> User:
    authz.require(admin, "role:manage")
    user, roles = accounts.named(user_id), _assignable(role_ids)
    with write_transaction():
        for role in roles:
            if role.role_code == authz.SUPER_ADMIN:
                user = user.touch(is_super_admin=True)
                continue
            values = dict(ptype="g", v0=authz.user_subject(user.id), v1=authz.subject_of(role.role_code))
            values["v2"] = _domain(role, user, space_id)
            # the rule's unique index makes a repeat (or a concurrent twin) a no-op, not an error
            PolicyRule.insert(**values, created_by=admin.id).on_conflict_ignore().execute()
        authz.policy_changed()
    return user


def unassign(admin: User, user_id, role_ids: list, space_id=None) -> User:
    authz.require(admin, "role:manage")
    user, roles = accounts.named(user_id), _assignable(role_ids)
    with write_transaction():
        for role in roles:
            if role.role_code == authz.SUPER_ADMIN:
                others = User.select().where(User.is_super_admin & (User.id != user.id) & ~User.is_disabled)
                if user.is_super_admin and not others.exists():
                    raise errors.LAST_SUPER_ADMIN(f"user_id: {user.id} is the only super admin")
                user = user.touch(is_super_admin=False)
                continue
            query = PolicyRule.delete().where(
                (PolicyRule.ptype == "g")
                & (PolicyRule.v0 == authz.user_subject(user.id))
                & (PolicyRule.v1 == authz.subject_of(role.role_code))
            )
            if space_id not in (None, ""):
                query = query.where(PolicyRule.v2 == _domain(role, user, space_id))
            query.execute()
        authz.policy_changed()
    return user


def held(
    admin: User, user_id, permission: str = "role:read"
) -> tuple[User, list[tuple[Role, str]], list[tuple[Space, int]]]:
    """(the user, their assigned roles with the domain each applies in, their memberships)."""
    authz.require(admin, permission)
    user = accounts.named(user_id)
    rules = PolicyRule.select().where(
        (PolicyRule.ptype == "g") & (PolicyRule.v0 == authz.user_subject(user.id))
    )
    rules = list(rules)
    codes = [rule.v1.removeprefix("role:") for rule in rules]
    by_code = {role.role_code: role for role in Role.select().where(Role.role_code.in_(codes or [""]))}
    assigned = [(by_code[code], rule.v2) for code, rule in zip(codes, rules) if code in by_code]
    if user.is_super_admin:
        assigned.insert(0, (Role.by_code(authz.SUPER_ADMIN), DOMAIN_GLOBAL))
    memberships = [(space, space.role) for space in Space.for_member(user.id)]
    return user, assigned, memberships
