"""Publishing channels, their platform users and their received messages."""

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField


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

    class Channel(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        type = CharField(max_length=32)
        name = CharField(max_length=100, default="")
        config = TextField(default="{}")
        secrets_encrypted = TextField(default="")
        secret_hints = TextField(default="{}")
        enabled = BooleanField(default=True)
        access_token_encrypted = TextField(default="")
        access_token_expires_at = BigIntegerField(default=0)
        last_event_at = BigIntegerField(default=0)
        last_error = TextField(default="")
        last_error_at = BigIntegerField(default=0)

        class Meta:
            table_name = "channel"

    class ChannelUser(Base):
        channel = ForeignKeyField(Channel, on_delete="CASCADE")
        external_id = CharField(max_length=128)
        conversation_id = BigIntegerField()
        subscribed = BooleanField(default=True)

        class Meta:
            table_name = "channel_user"
            indexes = ((("channel", "external_id"), True),)

    class ChannelMessage(Base):
        channel = ForeignKeyField(Channel, on_delete="CASCADE")
        external_id = CharField(max_length=191)
        external_user = CharField(max_length=128, default="")
        kind = CharField(max_length=64, default="text")
        content = TextField(default="")
        reply_to = CharField(max_length=191, default="")
        status = CharField(max_length=16, default="answering")
        reply_via = CharField(max_length=16, default="")
        reply = TextField(default="")
        conversation_id = BigIntegerField(default=0)
        chat_id = BigIntegerField(default=0)
        attempts = IntegerField(default=0)
        last_error = TextField(default="")

        class Meta:
            table_name = "channel_message"
            indexes = ((("channel", "external_id"), True), (("channel", "status"), False))

    return [Channel, ChannelUser, ChannelMessage]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
