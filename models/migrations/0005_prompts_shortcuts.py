"""The prompt library and shortcut commands (frozen copies)."""

from peewee import BigIntegerField, CharField, ForeignKeyField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)

        class Meta:
            database = db
            legacy_table_names = False

    class Space(Base):
        pass

    class User(Base):
        pass

    class Bot(Base):
        pass

    class PromptResource(Base):
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField(max_length=100)
        description = TextField(default="")
        prompt_text = TextField(default="")

    class ShortcutCommand(Base):
        created_at = BigIntegerField()
        updated_at = BigIntegerField()
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        command_name = CharField(max_length=100)
        shortcut_command = CharField(max_length=100)
        config = TextField(default="{}")

        class Meta:
            indexes = ((("bot", "shortcut_command"), True), (("bot", "command_name"), True))

    return [PromptResource, ShortcutCommand]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
