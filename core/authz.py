"""The one place that decides whether a user may do something: it asks a Casbin enforcer.

Permissions are `resource:action` cells of CATALOGUE, in two domains: `global` (users, roles,
the audit log, models) and `space:<id>` (everything a space owns). A role holds cells (Casbin `p`
rules, stored through Peewee in casbin_rule); users get roles from their space membership (the
built-in owner, admin and member roles, read from SpaceMember on every request, so a removed member
loses access at once), from the super-admin flag, and from assignments (`g` rules, in one space,
in every space they belong to, or globally). Super admin and space owner hold every cell of their
domains by definition.

Each process keeps its own enforcer and rebuilds it when the policy revision stored in the
database changes, checked once per request, so a change made through any worker applies at once
in all of them. Rows a request names are loaded through services/refs, which asks `require_space`;
non-members get "space not found" rather than "forbidden", so ids of other people's spaces reveal
nothing.
"""

from __future__ import annotations

import contextvars
import dataclasses
import threading
import uuid

import casbin
from casbin.model import FastModel
from casbin.util import key_match

from core import errors
from core.envelope import request_id_var
from models.identity import ROLE_ADMIN, ROLE_MEMBER, ROLE_OWNER, Space, SpaceMember, User
from models.permission import DOMAIN_GLOBAL, DOMAIN_SPACE, PolicyRule, Role
from models.server_config import ServerConfig

CREATE = "create"
READ = "read"
UPDATE = "update"
DELETE = "delete"
EXECUTE = "execute"
PUBLISH = "publish"
MANAGE = "manage"

ACTION_NAMES = {
    CREATE: "Create",
    READ: "View",
    UPDATE: "Edit",
    DELETE: "Delete",
    EXECUTE: "Run",
    PUBLISH: "Publish",
    MANAGE: "Manage",
}


@dataclasses.dataclass(frozen=True)
class Resource:
    name: str
    label: str
    domain: str
    actions: tuple[str, ...]


_ALL = (CREATE, READ, UPDATE, DELETE, EXECUTE, PUBLISH)
CATALOGUE = (
    Resource("workspace", "Space", DOMAIN_SPACE, (READ, UPDATE, DELETE, MANAGE)),
    Resource("member", "Space member", DOMAIN_SPACE, (CREATE, DELETE)),
    Resource("agent", "Agent", DOMAIN_SPACE, _ALL),
    Resource("project", "App", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE)),
    Resource("workflow", "Workflow", DOMAIN_SPACE, _ALL),
    Resource("knowledge", "Knowledge base", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE)),
    Resource("plugin", "Plugin", DOMAIN_SPACE, _ALL),
    Resource("database", "Database", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE)),
    Resource("prompt", "Prompt", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE)),
    Resource("channel", "Channel", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE, EXECUTE)),
    Resource("webhook", "Webhook", DOMAIN_SPACE, (CREATE, READ, UPDATE, DELETE, EXECUTE)),
    Resource("user", "User", DOMAIN_GLOBAL, (CREATE, READ, UPDATE)),
    Resource("role", "Role", DOMAIN_GLOBAL, (CREATE, READ, UPDATE, DELETE, MANAGE)),
    Resource("audit", "Audit log", DOMAIN_GLOBAL, (READ,)),
    Resource("model", "Models", DOMAIN_GLOBAL, (READ, MANAGE)),
    Resource("organization", "Organization", DOMAIN_GLOBAL, (CREATE, READ, UPDATE, DELETE)),
    Resource("department", "Department", DOMAIN_GLOBAL, (CREATE, READ, UPDATE, DELETE)),
    Resource("employee", "Employee", DOMAIN_GLOBAL, (CREATE, READ, UPDATE, DELETE)),
)
RESOURCES = {resource.name: resource for resource in CATALOGUE}

MANAGE_SPACE = "workspace:manage"  # admins and roles in a space

SUPER_ADMIN = "super_admin"
SPACE_ROLE_CODES = {ROLE_OWNER: "space_owner", ROLE_ADMIN: "space_admin", ROLE_MEMBER: "space_member"}
# Roles whose permissions are every cell of their domains, whatever the table says.
FIXED_ROLES = {SUPER_ADMIN: (DOMAIN_GLOBAL, DOMAIN_SPACE), "space_owner": (DOMAIN_SPACE,)}

SPACE_ANY = "space:*"

_MODEL = """
[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && r.obj == p.obj && r.act == p.act && keyMatch(r.dom, p.dom)
"""
# p rules are indexed by (sub, obj, act), so a check reads the few rules of the caller's roles
# whatever the size of the policy (bench/authz.py).
_INDEX = [0, 2, 3]
_REVISION_KEY = "authz.policy"


def cells(domain: str | None = None) -> list[tuple[str, str]]:
    return [
        (resource.name, action)
        for resource in CATALOGUE
        if domain in (None, resource.domain)
        for action in resource.actions
    ]


def subject_of(role_code: str) -> str:
    return f"role:{role_code}"


def user_subject(user_id: int) -> str:
    return f"user:{user_id}"


def policy_domain(domain: str) -> str:
    return SPACE_ANY if domain == DOMAIN_SPACE else DOMAIN_GLOBAL


def split(permission: str) -> tuple[str, str]:
    resource, _, action = permission.partition(":")
    if action not in RESOURCES.get(resource, Resource("", "", "", ())).actions:
        raise ValueError(f"{permission!r} is not a permission of the catalogue")
    return resource, action


class _Adapter(casbin.persist.Adapter):
    """Reads the rules through Peewee; services write them in their own transactions and then
    call `policy_changed`, so the rules and the rows they belong to change together."""

    def load_policy(self, model):
        disabled = {
            subject_of(code) for (code,) in Role.select(Role.role_code).where(Role.is_disabled).tuples()
        }
        for rule in PolicyRule.select().order_by(PolicyRule.id):
            role = rule.v0 if rule.ptype == "p" else rule.v1
            if role not in disabled and subject_of(SUPER_ADMIN) != role:
                model.add_policy(rule.ptype, rule.ptype, list(rule.values))
        for code, domains in FIXED_ROLES.items():
            for domain in domains:
                for resource, action in cells(domain):
                    rule = [subject_of(code), policy_domain(domain), resource, action]
                    if not model.has_policy("p", "p", rule):
                        model.add_policy("p", "p", rule)


def _build() -> casbin.FastEnforcer:
    model = FastModel(_INDEX)
    model.load_model_from_text(_MODEL)
    enforcer = casbin.FastEnforcer(model, _Adapter(), cache_key_order=_INDEX)
    enforcer.add_named_domain_matching_func("g", key_match)
    enforcer.build_role_links()
    return enforcer


_current: tuple[str, casbin.FastEnforcer] | None = None
_rebuild_lock = threading.Lock()
_enforce_lock = threading.Lock()  # FastEnforcer filters its rules in place while it decides
_checked_for = contextvars.ContextVar("policy_checked_for", default="")


def _revision() -> str:
    return ServerConfig.read(_REVISION_KEY).get("revision", "")


def enforcer() -> casbin.FastEnforcer:
    """This process's enforcer, rebuilt first if the policy changed since it was built."""
    global _current
    request_id = request_id_var.get()
    if _current is not None and request_id and _checked_for.get() == request_id:
        return _current[1]
    revision = _revision()
    if _current is None or _current[0] != revision:
        with _rebuild_lock:
            if _current is None or _current[0] != revision:
                _current = (revision, _build())
    if request_id:
        _checked_for.set(request_id)
    return _current[1]


def policy_changed() -> None:
    """Called inside the transaction that changed roles or rules: every process rebuilds."""
    ServerConfig.write(_REVISION_KEY, {"revision": uuid.uuid4().hex})
    _checked_for.set("")


def allowed(user: User, domain: str, resource: str, action: str, role_code: str | None = None) -> bool:
    """Whether any role the user holds in `domain` (`global` or `space:<id>`) grants the cell;
    `role_code` is the role their membership gives them there."""
    found = enforcer()
    candidates = [subject_of(SUPER_ADMIN)] if user.is_super_admin else []
    if role_code:
        candidates.append(subject_of(role_code))
    with _enforce_lock:
        candidates += found.get_roles_for_user_in_domain(user_subject(user.id), domain)
        return any(found.enforce(role, domain, resource, action) for role in candidates)


def require_space(user: User, space_id: int, permission: str = "workspace:read") -> int:
    """Return the caller's role in the space, or raise."""
    resource, action = split(permission)
    role = SpaceMember.role_of(space_id, user.id)
    if role is None:
        if not (user.is_super_admin and Space.get_or_none(Space.id == space_id) is not None):
            raise errors.SPACE_NOT_FOUND(f"space {space_id} not found")
    if not allowed(user, f"space:{space_id}", resource, action, SPACE_ROLE_CODES.get(role)):
        raise errors.PERMISSION_DENIED(f"your roles in space {space_id} do not grant {resource}:{action}")
    return ROLE_ADMIN if role is None else role


def may(user: User, space_id: int, permission: str) -> bool:
    try:
        require_space(user, space_id, permission)
    except errors.ApiError:
        return False
    return True


def require(user: User, permission: str) -> None:
    """A global permission (users, roles, the audit log, models)."""
    resource, action = split(permission)
    if not allowed(user, DOMAIN_GLOBAL, resource, action):
        raise errors.PERMISSION_DENIED(f"your roles do not grant {resource}:{action}")
