"""Chat runs waiting for a plugin's authorization, found by (plugin, holder) when it arrives."""

from peewee import BigIntegerField, CharField, ForeignKeyField, Model


def _tables(db):
    class ChatRun(Model):
        id = BigIntegerField(primary_key=True)

        class Meta:
            database = db
            table_name = "chat_run"

    class ChatRunWait(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)
        run = ForeignKeyField(ChatRun, on_delete="CASCADE")
        plugin_id = BigIntegerField()
        holder = CharField(max_length=300)

        class Meta:
            database = db
            table_name = "chat_run_wait"
            indexes = ((("plugin_id", "holder"), False),)

    return [ChatRunWait]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(_tables(db))
