"""Uploaded files (frozen copy)."""

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField, Model


def _tables(db):
    class User(Model):
        id = BigIntegerField(primary_key=True)

        class Meta:
            database = db
            table_name = "user"

    class StoredFile(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        owner = ForeignKeyField(User, on_delete="CASCADE")
        file_name = CharField(max_length=255)
        content_type = CharField(max_length=100)
        size = BigIntegerField()
        sha256 = CharField(max_length=64)
        storage_key = CharField(max_length=255, unique=True)
        biz_type = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "stored_file"

    return [StoredFile]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(_tables(db))
