"""Organisations: corporations, departments, employees and where they work."""

from peewee import BigIntegerField, BooleanField, CharField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class Corporation(Base):
        parent_id = BigIntegerField(null=True, index=True)
        name = CharField(max_length=100)
        corp_type = IntegerField(default=2)
        sort = IntegerField(default=0)
        out_corp_id = CharField(max_length=100, default="")
        corp_source = IntegerField(default=4)
        creator_id = BigIntegerField()

        class Meta:
            table_name = "corporation"

    class Department(Base):
        corp_id = BigIntegerField(index=True)
        parent_id = BigIntegerField(null=True, index=True)
        name = CharField(max_length=100)
        code = CharField(max_length=100, default="")
        leader_id = BigIntegerField(null=True)
        sort = IntegerField(default=0)
        status = IntegerField(default=1)
        out_department_id = CharField(max_length=100, default="")
        department_source = IntegerField(default=4)
        creator_id = BigIntegerField()

        class Meta:
            table_name = "department"

    class Employee(Base):
        name = CharField(max_length=100)
        employee_no = CharField(max_length=100, default="")
        en_name = CharField(max_length=100, default="")
        nickname = CharField(max_length=100, default="")
        avatar = CharField(max_length=255, default="")
        email = CharField(max_length=254, null=True, unique=True)
        mobile = CharField(max_length=32, unique=True)
        status = IntegerField(default=1)
        out_employee_id = CharField(max_length=100, default="")
        employee_source = IntegerField(default=4)
        user_id = BigIntegerField(null=True, unique=True)
        resigned_at = BigIntegerField(null=True)
        resign_reason = TextField(default="")
        creator_id = BigIntegerField()

        class Meta:
            table_name = "employee"

    class EmployeeDepartment(Base):
        employee_id = BigIntegerField(index=True)
        department_id = BigIntegerField(index=True)
        corp_id = BigIntegerField(index=True)
        job_title = CharField(max_length=100, default="")
        is_primary = BooleanField(default=False)

        class Meta:
            table_name = "employee_department"
            indexes = ((("employee_id", "department_id"), True),)

    return [Corporation, Department, Employee, EmployeeDepartment]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(_tables(db))
