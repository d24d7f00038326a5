"""The audit log."""

from peewee import BigIntegerField, CharField, IntegerField, Model, TextField


def _tables(db):
    class AuditEntry(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)
        actor_id = BigIntegerField(null=True)
        operation = CharField(max_length=100)
        method = CharField(max_length=10)
        path = CharField(max_length=500)
        resource_type = CharField(max_length=40, default="")
        resource_ids = TextField(default="[]")
        space_id = BigIntegerField(null=True)
        status = IntegerField(default=0)
        code = IntegerField(default=0)
        client_ip = CharField(max_length=64, default="")
        user_agent = CharField(max_length=300, default="")
        request_id = CharField(max_length=64, default="")

        class Meta:
            database = db
            table_name = "audit_entry"
            indexes = ((("actor_id", "id"), False), (("operation", "id"), False), (("space_id", "id"), False))

    return [AuditEntry]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(_tables(db))
