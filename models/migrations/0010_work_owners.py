"""Crash safety: the processes that run work (server and worker instances, with a heartbeat),
and which of them owns a document being processed or a chat being answered."""

from peewee import BigIntegerField, CharField, IntegerField, Model


def _tables(db):
    class WorkerInstance(Model):
        id = BigIntegerField(primary_key=True)
        host = CharField(max_length=255)
        pid = IntegerField()
        kind = CharField(max_length=20)
        started_at = BigIntegerField()
        heartbeat_at = BigIntegerField(index=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "worker_instance"

    return [WorkerInstance]


_COLUMNS = [
    ("kb_document", "worker_id", "BIGINT"),
    ("kb_document", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("chat_run", "worker_id", "BIGINT"),
]


def up(migrator, db):
    db.create_tables(_tables(db))
    for table, column, kind in _COLUMNS:
        db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    db.execute_sql("CREATE INDEX kb_document_busy_worker ON kb_document (status, worker_id)")
    db.execute_sql("CREATE INDEX chat_run_status_worker ON chat_run (status, worker_id)")


def down(migrator, db):
    db.execute_sql("DROP INDEX chat_run_status_worker")
    db.execute_sql("DROP INDEX kb_document_busy_worker")
    for table, column, _ in _COLUMNS:
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.drop_tables(_tables(db))
