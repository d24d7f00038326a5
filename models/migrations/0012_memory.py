"""Memory: databases (schemas; each one's rows get tables of their own at run time), imports into
them, and the values end users hold for agents' variables."""

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


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

    class Bot(Base):
        class Meta:
            table_name = "bot"

    class StoredFile(Base):
        class Meta:
            table_name = "stored_file"

    class MemoryDatabase(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=64)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        rw_mode = IntegerField(default=1)
        prompt_disabled = BooleanField(default=False)
        fields = TextField(default="[]")
        next_field_id = IntegerField(default=1)
        extra_info = TextField(default="{}")

        class Meta:
            table_name = "memory_database"
            indexes = ((("space", "name"), True),)

    class MemoryImport(Base):
        database = ForeignKeyField(MemoryDatabase, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        file = ForeignKeyField(StoredFile, null=True, on_delete="SET NULL")
        file_name = CharField(max_length=255, default="")
        table_type = IntegerField(default=1)
        connector_id = BigIntegerField(default=0)
        sheet = TextField(default="{}")
        status = IntegerField(default=0)
        status_reason = TextField(default="")
        progress = IntegerField(default=0)
        total_rows = IntegerField(default=0)
        inserted_rows = IntegerField(default=0)
        rejected = TextField(default="[]")
        rejected_count = IntegerField(default=0)
        worker_id = BigIntegerField(null=True)
        attempts = IntegerField(default=0)

        class Meta:
            table_name = "memory_import"
            indexes = ((("database", "table_type"), False), (("status", "worker_id"), False))

    class VariableValue(Base):
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        keyword = CharField(max_length=64)
        value = TextField(default="")
        connector_id = BigIntegerField()
        connector_uid = CharField(max_length=255)

        class Meta:
            table_name = "memory_variable"
            indexes = ((("bot", "connector_id", "connector_uid", "keyword"), True),)

    return [MemoryDatabase, MemoryImport, VariableValue]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    for (database_id,) in db.execute_sql("SELECT id FROM memory_database").fetchall():
        for copy in ("draft", "online"):
            db.execute_sql(f"DROP TABLE IF EXISTS memory_rows_{int(database_id)}_{copy}")
    db.drop_tables(list(reversed(_tables(db))))
