"""Embedding and rerank models in the registry, server-wide settings, and slice vectors."""

from peewee import BigIntegerField, BlobField, CharField, ForeignKeyField, Model, TextField


def _tables(db):
    class Slice(Model):
        id = BigIntegerField(primary_key=True)

        class Meta:
            database = db
            table_name = "kb_slice"

    class SliceVector(Model):
        slice = ForeignKeyField(Slice, primary_key=True, on_delete="CASCADE")
        dataset_id = BigIntegerField(index=True)
        model_id = BigIntegerField()
        vector = BlobField()

        class Meta:
            database = db
            table_name = "kb_slice_vector"

    class ServerConfig(Model):
        key = CharField(max_length=100, primary_key=True)
        value = TextField(default="{}")
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "server_config"

    return [SliceVector, ServerConfig]


_COLUMNS = [
    ("llm_model", "kind", "VARCHAR(20) NOT NULL DEFAULT 'chat'"),
    ("llm_model", "dimensions", "INTEGER"),
    ("kb_dataset", "vector_version", "BIGINT NOT NULL DEFAULT 0"),
]


def up(migrator, db):
    for table, column, kind in _COLUMNS:
        db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
    for table, column, _ in _COLUMNS:
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
