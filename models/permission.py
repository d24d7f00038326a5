"""Roles and the Casbin policy rules behind them (the table pycasbin's adapters call casbin_rule)."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, IntegerField, Model, TextField

from models.base import BaseModel, now_s
from models.db import db

DOMAIN_GLOBAL = "global"
DOMAIN_SPACE = "space"


class Role(BaseModel):
    role_code = CharField(max_length=50, unique=True)
    role_name = CharField(max_length=100)
    role_domain = CharField(max_length=10, default=DOMAIN_SPACE)
    super_admin = BooleanField(default=False)
    space_role_type = IntegerField(default=0)  # 1 owner, 2 admin, 3 member for the built-in space roles
    is_builtin = BooleanField(default=False)
    is_disabled = BooleanField(default=False)
    description = TextField(default="")
    created_by = BigIntegerField(null=True)

    @classmethod
    def by_code(cls, code: str):
        return cls.get_or_none(cls.role_code == code)


class PolicyRule(Model):
    """One Casbin rule: `p, role:<code>, <domain>, <resource>, <action>` grants a permission;
    `g, user:<id>, role:<code>, <domain>` assigns a role (domain `global`, `space:<id>` or
    `space:*`)."""

    ptype = CharField(max_length=10)
    v0 = CharField(max_length=100)
    v1 = CharField(max_length=100)
    v2 = CharField(max_length=100, default="")
    v3 = CharField(max_length=100, default="")
    created_at = BigIntegerField(default=now_s)
    created_by = BigIntegerField(null=True)

    class Meta:
        database = db
        table_name = "casbin_rule"
        indexes = ((("ptype", "v0", "v1", "v2", "v3"), True), (("v1",), False))

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.v0, self.v1, self.v2, self.v3) if v != "")
