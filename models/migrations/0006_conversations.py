"""Conversations, chat runs and messages (frozen copies)."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


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

    class Bot(Base):
        pass

    class Conversation(Base):
        creator = ForeignKeyField(User, on_delete="CASCADE")
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        scene = IntegerField(default=9)
        connector_id = BigIntegerField()
        name = CharField(max_length=200, default="")
        meta_data = TextField(default="{}")
        last_section_id = BigIntegerField()

        class Meta:
            indexes = ((("creator", "bot", "scene", "connector_id"), False),)

    class ChatRun(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE")
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        section_id = BigIntegerField()
        bot_version = BigIntegerField(null=True)
        connector_id = BigIntegerField()
        end_user = CharField(max_length=200, default="")
        status = CharField(max_length=20, default="created")
        completed_at = BigIntegerField(null=True)
        failed_at = BigIntegerField(null=True)
        last_error = TextField(default="{}")
        usage = TextField(default="{}")
        meta_data = TextField(default="{}")
        required_action = TextField(null=True)
        state = TextField(null=True)
        save_history = BooleanField(default=True)

    class Message(Base):
        conversation = ForeignKeyField(Conversation, on_delete="CASCADE")
        run = ForeignKeyField(ChatRun, null=True, on_delete="CASCADE")
        turn_id = BigIntegerField(index=True)
        section_id = BigIntegerField()
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        role = CharField(max_length=20)
        type = CharField(max_length=30)
        content = TextField(default="")
        content_type = CharField(max_length=30, default="text")
        reasoning_content = TextField(default="")
        meta_data = TextField(default="{}")
        extra_info = TextField(default="{}")
        reply_id = BigIntegerField(null=True)
        status = CharField(max_length=20, default="available")
        broken_pos = IntegerField(null=True)

        class Meta:
            indexes = ((("conversation", "id"), False),)

    return [Conversation, ChatRun, Message]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
