"""Roles and their Casbin rules, with the built-in roles and the space roles' default permissions.
Super admin and space owner hold every permission by definition (core/authz adds them on load)."""

import time

from peewee import BigIntegerField, BooleanField, CharField, IntegerField, Model, TextField

_CONTENT = ("agent", "project", "workflow", "knowledge", "plugin", "database", "prompt")
_CONTENT_ACTIONS = {
    "agent": ("create", "read", "update", "delete", "execute", "publish"),
    "project": ("create", "read", "update", "delete", "publish"),
    "workflow": ("create", "read", "update", "delete", "execute", "publish"),
    "knowledge": ("create", "read", "update", "delete"),
    "plugin": ("create", "read", "update", "delete", "execute", "publish"),
    "database": ("create", "read", "update", "delete"),
    "prompt": ("create", "read", "update", "delete"),
}
_SETTINGS = {
    "channel": ("create", "read", "update", "delete", "execute"),
    "webhook": ("create", "read", "update", "delete", "execute"),
}


def _defaults():
    content = [(resource, action) for resource in _CONTENT for action in _CONTENT_ACTIONS[resource]]
    settings = [(resource, action) for resource, actions in _SETTINGS.items() for action in actions]
    member = [("workspace", "read"), *content, ("channel", "read"), ("webhook", "read")]
    space = [("workspace", "read"), ("workspace", "update"), ("member", "create"), ("member", "delete")]
    admin = [*space, *content, *settings]
    return {"space_admin": admin, "space_member": member}


_BUILTIN = (
    ("super_admin", "Super administrator", "global", True, 0, "Every permission, in every space."),
    ("space_owner", "Space owner", "space", False, 1, "Every permission in the spaces they own."),
    ("space_admin", "Space administrator", "space", False, 2, "Manages a space's members and settings."),
    ("space_member", "Space member", "space", False, 3, "Builds and runs the space's resources."),
)


def _tables(db):
    class Role(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)
        role_code = CharField(max_length=50, unique=True)
        role_name = CharField(max_length=100)
        role_domain = CharField(max_length=10, default="space")
        super_admin = BooleanField(default=False)
        space_role_type = IntegerField(default=0)
        is_builtin = BooleanField(default=False)
        is_disabled = BooleanField(default=False)
        description = TextField(default="")
        created_by = BigIntegerField(null=True)

        class Meta:
            database = db
            table_name = "role"

    class PolicyRule(Model):
        ptype = CharField(max_length=10)
        v0 = CharField(max_length=100)
        v1 = CharField(max_length=100)
        v2 = CharField(max_length=100, default="")
        v3 = CharField(max_length=100, default="")
        created_at = BigIntegerField(default=0)
        created_by = BigIntegerField(null=True)

        class Meta:
            database = db
            table_name = "casbin_rule"
            indexes = ((("ptype", "v0", "v1", "v2", "v3"), True), (("v1",), False))

    return Role, PolicyRule


def up(migrator, db):
    role, rule = _tables(db)
    db.create_tables([role, rule])
    now = int(time.time())
    for number, (code, name, domain, super_admin, space_role_type, description) in enumerate(_BUILTIN, 1):
        role.create(
            id=number,
            created_at=now,
            updated_at=now,
            role_code=code,
            role_name=name,
            role_domain=domain,
            super_admin=super_admin,
            space_role_type=space_role_type,
            is_builtin=True,
            description=description,
        )
    for code, cells in _defaults().items():
        for resource, action in cells:
            rule.create(ptype="p", v0=f"role:{code}", v1="space:*", v2=resource, v3=action, created_at=now)


def down(migrator, db):
    db.drop_tables(list(_tables(db)))
