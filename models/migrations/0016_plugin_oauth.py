"""OAuth tokens of plugins (per end user, or the plugin's own) and authorizations in progress."""

from peewee import BigIntegerField, CharField, ForeignKeyField, Model, TextField


def _tables(db):
    class Base(Model):
        id = BigIntegerField(primary_key=True)
        created_at = BigIntegerField(default=0)
        updated_at = BigIntegerField(default=0)

        class Meta:
            database = db

    class Plugin(Base):
        class Meta:
            table_name = "plugin"

    class PluginOAuthToken(Base):
        plugin = ForeignKeyField(Plugin, on_delete="CASCADE")
        holder = CharField(max_length=300)
        access_token = TextField()
        refresh_token = TextField(default="")
        expires_at = BigIntegerField(default=0)
        scope = TextField(default="")

        class Meta:
            table_name = "plugin_oauth_token"
            indexes = ((("plugin", "holder"), True),)

    class PluginOAuthState(Base):
        state = CharField(max_length=64, unique=True)
        plugin = ForeignKeyField(Plugin, on_delete="CASCADE")
        holder = CharField(max_length=300)
        expires_at = BigIntegerField()

        class Meta:
            table_name = "plugin_oauth_state"

    return [PluginOAuthToken, PluginOAuthState]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
