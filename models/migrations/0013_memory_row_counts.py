"""The rows each copy of a memory database holds, kept as a count so inserts check the row limit
without counting the table; filled here from the tables that exist."""

from peewee import BigIntegerField, CompositeKey, ForeignKeyField, IntegerField, Model

COPIES = {1: "draft", 2: "online"}


def _table(db):
    class MemoryDatabase(Model):
        id = BigIntegerField(primary_key=True)

        class Meta:
            database = db
            table_name = "memory_database"

    class MemoryRowCount(Model):
        database = ForeignKeyField(MemoryDatabase, on_delete="CASCADE")
        copy = IntegerField()
        rows = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "memory_row_count"
            primary_key = CompositeKey("database", "copy")

    return MemoryRowCount


def up(migrator, db):
    model = _table(db)
    db.create_tables([model])
    for (database_id,) in db.execute_sql("SELECT id FROM memory_database").fetchall():
        for copy, name in COPIES.items():
            table = f"memory_rows_{int(database_id)}_{name}"  # generated names only
            (rows,) = db.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            model.insert(database=database_id, copy=copy, rows=rows).execute()


def down(migrator, db):
    db.drop_tables([_table(db)])
