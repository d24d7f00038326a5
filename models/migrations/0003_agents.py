"""Agents, their published versions and publications (frozen copies)."""

from peewee import BigIntegerField, CharField, ForeignKeyField, IntegerField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField()
        updated_at = BigIntegerField()

        class Meta:
            database = db
            legacy_table_names = False

    class Space(Base):
        pass

    class User(Base):
        pass

    class Bot(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=100)
        description = TextField(default="")
        icon_uri = CharField(max_length=500, default="")
        bot_mode = IntegerField(default=0)
        visibility = IntegerField(default=0)
        config = TextField(default="{}")
        display_info = TextField(default="{}")
        draft_version = IntegerField(default=1)
        published_draft_version = IntegerField(default=0)

    class BotVersion(Base):
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        snapshot = TextField()
        connector_ids = TextField(default="[]")
        draft_version = IntegerField()
        history_type = IntegerField(default=2)
        info = TextField(default="")

    class BotPublication(Base):
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        connector_id = BigIntegerField()
        version = ForeignKeyField(BotVersion, on_delete="CASCADE")

        class Meta:
            indexes = ((("bot", "connector_id"), True),)

    return [Bot, BotVersion, BotPublication]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
