"""Idempotency keys of creating requests (models/idempotency.py)."""

from peewee import BigIntegerField, BlobField, CharField, IntegerField, Model


def _table(db):
    class IdempotencyKey(Model):
        id = BigIntegerField(primary_key=True)
        owner = CharField(max_length=40)
        key = CharField(max_length=255)
        operation = CharField(max_length=100)
        fingerprint = CharField(max_length=64)
        status = CharField(max_length=10, default="running")
        worker_id = BigIntegerField(null=True)
        response_status = IntegerField(default=0)
        response_type = CharField(max_length=200, default="")
        response_body = BlobField(null=True)
        created_at = BigIntegerField(default=0, index=True)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "idempotency_key"
            indexes = ((("owner", "key"), True),)

    return IdempotencyKey


def up(migrator, db):
    db.create_tables([_table(db)])


def down(migrator, db):
    db.drop_tables([_table(db)])
