"""Workflows and their published versions."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class Space(Base):
        class Meta:
            table_name = "space"

    class User(Base):
        class Meta:
            table_name = "user"

    class Workflow(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        project_id = BigIntegerField(null=True, index=True)
        name = CharField(max_length=100)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        flow_mode = IntegerField(default=0)
        schema_json = TextField(default="")
        commit_id = CharField(max_length=40, default="")
        test_run_passed = BooleanField(default=False)

        class Meta:
            table_name = "workflow"

    class WorkflowVersion(Base):
        workflow = ForeignKeyField(Workflow, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        version = CharField(max_length=40)
        description = TextField(default="")
        schema_json = TextField()
        commit_id = CharField(max_length=40, default="")

        class Meta:
            table_name = "workflow_version"
            indexes = ((("workflow", "version"), True),)

    return [Workflow, WorkflowVersion]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
