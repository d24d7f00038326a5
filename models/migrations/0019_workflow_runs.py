"""Workflow runs: each execution, its node results and what resuming it needs."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class Workflow(Base):
        class Meta:
            table_name = "workflow"

    class WorkflowRun(Base):
        workflow = ForeignKeyField(Workflow, on_delete="CASCADE")
        space_id = BigIntegerField()
        creator = ForeignKeyField(User, on_delete="CASCADE")
        version = CharField(max_length=40, default="")
        schema_json = TextField()
        debug = BooleanField(default=False)
        run_mode = IntegerField(default=0)
        status = IntegerField(default=1)
        inputs = TextField(default="{}")
        output = TextField(default="")
        error_code = IntegerField(default=0)
        error_msg = TextField(default="")
        tokens = IntegerField(default=0)
        bot_id = BigIntegerField(null=True)
        connector_id = BigIntegerField(default=1024)
        nodes = TextField(default="{}")
        state = TextField(default="{}")
        worker_id = BigIntegerField(null=True)
        attempts = IntegerField(default=0)

        class Meta:
            table_name = "workflow_run"
            indexes = ((("status", "worker_id"), False),)

    return [WorkflowRun]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(_tables(db))
