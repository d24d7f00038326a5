"""Knowledge bases, documents, slices and the slices' full-text index (FTS5 or tsvector)."""

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField, Model, SqliteDatabase, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()

        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        pass

    class Space(Base):
        pass

    class StoredFile(Base):
        pass

    class Dataset(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=100)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        format_type = IntegerField(default=0)
        status = IntegerField(default=1)
        chunk_strategy = TextField(default="{}")
        project_id = BigIntegerField(null=True)

        class Meta:
            table_name = "kb_dataset"
            indexes = ((("space", "name"), True),)

    class Document(Base):
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=255)
        file = ForeignKeyField(StoredFile, null=True, on_delete="SET NULL")
        source_type = IntegerField(default=0)
        web_url = TextField(default="")
        file_type = CharField(max_length=20, default="")
        size = BigIntegerField(default=0)
        char_count = BigIntegerField(default=0)
        slice_count = IntegerField(default=0)
        hit_count = IntegerField(default=0)
        status = IntegerField(default=0)
        status_reason = TextField(default="")
        progress = IntegerField(default=0)
        chunk_strategy = TextField(default="{}")
        parsing_strategy = TextField(default="{}")
        table_meta = TextField(default="[]")
        caption = TextField(default="")
        update_rule = TextField(default="{}")

        class Meta:
            table_name = "kb_document"
            indexes = ((("dataset", "status"), False),)

    class Slice(Base):
        document = ForeignKeyField(Document, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        sequence = IntegerField()
        content = TextField()
        status = IntegerField(default=1)
        char_count = IntegerField(default=0)
        hit_count = IntegerField(default=0)
        meta = TextField(default="{}")

        class Meta:
            table_name = "kb_slice"
            indexes = ((("document", "sequence"), False),)

    return [Dataset, Document, Slice]


def up(migrator, db):
    db.create_tables(_tables(db))
    if isinstance(db, SqliteDatabase):
        # porter stems English; Chinese arrives segmented into words by the application
        db.execute_sql(
            "CREATE VIRTUAL TABLE kb_slice_fts USING fts5("
            "body, scope, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    else:
        db.execute_sql(
            "CREATE TABLE kb_slice_tsv (slice_id BIGINT PRIMARY KEY "
            "REFERENCES kb_slice(id) ON DELETE CASCADE, dataset_id BIGINT NOT NULL, "
            "body TSVECTOR NOT NULL)"
        )
        db.execute_sql("CREATE INDEX kb_slice_tsv_body ON kb_slice_tsv USING GIN (body)")
        db.execute_sql("CREATE INDEX kb_slice_tsv_dataset ON kb_slice_tsv (dataset_id)")


def down(migrator, db):
    db.execute_sql(
        "DROP TABLE IF EXISTS kb_slice_fts"
        if isinstance(db, SqliteDatabase)
        else "DROP TABLE IF EXISTS kb_slice_tsv"
    )
    db.drop_tables(list(reversed(_tables(db))))
