"""Organisations: corporations (groups, companies, branches) nested by parent, each with a tree of
departments, and employees placed in departments (one placement is primary). An employee may have
a login account (a User)."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, IntegerField, TextField

from models.base import BaseModel

CORP_GROUP, CORP_COMPANY, CORP_BRANCH = 1, 2, 3
SOURCE_WECOM, SOURCE_DINGTALK, SOURCE_FEISHU, SOURCE_MANUAL = 1, 2, 3, 4
DEPARTMENT_NORMAL, DEPARTMENT_DISABLED = 1, 2
EMPLOYED, RESIGNED = 1, 2


class Corporation(BaseModel):
    parent_id = BigIntegerField(null=True, index=True)
    name = CharField(max_length=100)
    corp_type = IntegerField(default=CORP_COMPANY)
    sort = IntegerField(default=0)
    out_corp_id = CharField(max_length=100, default="")
    corp_source = IntegerField(default=SOURCE_MANUAL)
    creator_id = BigIntegerField()


class Department(BaseModel):
    corp_id = BigIntegerField(index=True)
    parent_id = BigIntegerField(null=True, index=True)  # None: a top-level department of corp_id
    name = CharField(max_length=100)
    code = CharField(max_length=100, default="")
    leader_id = BigIntegerField(null=True)  # an employee
    sort = IntegerField(default=0)
    status = IntegerField(default=DEPARTMENT_NORMAL)
    out_department_id = CharField(max_length=100, default="")
    department_source = IntegerField(default=SOURCE_MANUAL)
    creator_id = BigIntegerField()


class Employee(BaseModel):
    name = CharField(max_length=100)
    employee_no = CharField(max_length=100, default="")
    en_name = CharField(max_length=100, default="")
    nickname = CharField(max_length=100, default="")
    avatar = CharField(max_length=255, default="")
    email = CharField(max_length=254, null=True, unique=True)
    mobile = CharField(max_length=32, unique=True)
    status = IntegerField(default=EMPLOYED)
    out_employee_id = CharField(max_length=100, default="")
    employee_source = IntegerField(default=SOURCE_MANUAL)
    user_id = BigIntegerField(null=True, unique=True)  # the login account, when one was made
    resigned_at = BigIntegerField(null=True)
    resign_reason = TextField(default="")
    creator_id = BigIntegerField()


class EmployeeDepartment(BaseModel):
    """Where an employee works; kept when they resign (the record of where they were), replaced
    when they move or are restored."""

    employee_id = BigIntegerField(index=True)
    department_id = BigIntegerField(index=True)
    corp_id = BigIntegerField(index=True)
    job_title = CharField(max_length=100, default="")
    is_primary = BooleanField(default=False)

    class Meta:
        indexes = ((("employee_id", "department_id"), True),)
