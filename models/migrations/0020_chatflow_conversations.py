"""Chatflows' conversations and their messages."""

from peewee import BigIntegerField, CharField, ForeignKeyField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class User(Base):
        class Meta:
            table_name = "user"

    class ChatflowConversation(Base):
        space_id = BigIntegerField()
        creator = ForeignKeyField(User, on_delete="CASCADE")
        scope = CharField(max_length=40)
        name = CharField(max_length=100)

        class Meta:
            table_name = "chatflow_conversation"
            indexes = ((("creator", "scope", "name"), True),)

    class ChatflowMessage(Base):
        conversation = ForeignKeyField(ChatflowConversation, on_delete="CASCADE")
        role = CharField(max_length=20)
        content = TextField(default="")
        run_id = BigIntegerField(null=True)

        class Meta:
            table_name = "chatflow_message"

    return [ChatflowConversation, ChatflowMessage]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
