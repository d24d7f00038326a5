"""Plugins: their tools (OpenAPI operations) and published versions."""

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

    class Plugin(Base):
        space = ForeignKeyField(Space, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        project_id = BigIntegerField(null=True, index=True)
        name = CharField(max_length=255)
        description = TextField(default="")
        icon_uri = CharField(max_length=255, default="")
        plugin_type = IntegerField(default=1)
        server_url = CharField(max_length=2048, default="")
        manifest = TextField(default="{}")
        info = TextField(default="{}")
        auth_type = IntegerField(default=0)
        sub_auth_type = IntegerField(default=0)
        auth_location = IntegerField(default=1)
        auth_key = CharField(max_length=255, default="")
        auth_secret = TextField(default="")
        common_params = TextField(default="{}")
        edit_version = IntegerField(default=1)
        locked_by = BigIntegerField(null=True)
        locked_until = BigIntegerField(default=0)

        class Meta:
            table_name = "plugin"

    class PluginTool(Base):
        plugin = ForeignKeyField(Plugin, on_delete="CASCADE")
        name = CharField(max_length=255)
        description = TextField(default="")
        method = CharField(max_length=10)
        path = CharField(max_length=2048)
        operation = TextField(default="{}")
        disabled = BooleanField(default=False)
        debug_status = IntegerField(default=0)
        debug_example = TextField(default="{}")

        class Meta:
            table_name = "plugin_tool"
            indexes = ((("plugin", "name"), True),)

    class PluginVersion(Base):
        plugin = ForeignKeyField(Plugin, on_delete="CASCADE")
        creator = ForeignKeyField(User, on_delete="CASCADE")
        version_name = CharField(max_length=64)
        version_desc = TextField(default="")
        snapshot = TextField(default="{}")

        class Meta:
            table_name = "plugin_version"

    return [Plugin, PluginTool, PluginVersion]


def up(migrator, db):
    db.create_tables(_tables(db))


def down(migrator, db):
    db.drop_tables(list(reversed(_tables(db))))
