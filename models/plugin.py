"""Plugins: tools described by an OpenAPI document (each operation a tool), with the auth their
calls carry, versions frozen at publication, and the edit lock.

A tool keeps its OpenAPI operation (parameters, request body, responses) as the source of truth;
Coze's APIParameter lists and the plugin's whole document are made from the operations. Secrets
(service tokens, OAuth client secrets) are stored encrypted (core.crypto) and never returned."""

from __future__ import annotations

from peewee import BigIntegerField, BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from models.base import BaseModel, JsonField
from models.identity import Space, User

# Coze's AuthorizationType and sub types, and where a service token goes
AUTH_NONE, AUTH_SERVICE, AUTH_OAUTH = 0, 1, 3
SUB_TOKEN, SUB_OAUTH_CLIENT_CREDENTIALS, SUB_OAUTH_CODE = 0, 10, 4
LOCATION_HEADER, LOCATION_QUERY = 1, 2
# Coze's PluginType
TYPE_OPENAPI, TYPE_MCP = 1, 6
# Coze's APIDebugStatus
DEBUG_NOT_PASSED, DEBUG_PASSED = 0, 1


class Plugin(BaseModel):
    space = ForeignKeyField(Space, backref="plugins", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    project_id = BigIntegerField(null=True, index=True)
    name = CharField(max_length=255)  # name_for_human
    description = TextField(default="")  # description_for_human
    icon_uri = CharField(max_length=255, default="")
    plugin_type = IntegerField(default=TYPE_OPENAPI)
    server_url = CharField(max_length=2048, default="")
    manifest = JsonField(default=dict)  # ai_plugin without secrets (auth payload kept apart)
    info = JsonField(default=dict)  # the document's info, servers and components
    auth_type = IntegerField(default=AUTH_NONE)
    sub_auth_type = IntegerField(default=SUB_TOKEN)
    auth_location = IntegerField(default=LOCATION_HEADER)
    auth_key = CharField(max_length=255, default="")
    auth_secret = TextField(default="")  # encrypted: the service token, or the OAuth payload's JSON
    common_params = JsonField(default=dict)  # location -> [{name, value}]
    edit_version = IntegerField(default=1)
    locked_by = BigIntegerField(null=True)
    locked_until = BigIntegerField(default=0)

    class Meta:
        table_name = "plugin"


class PluginTool(BaseModel):
    plugin = ForeignKeyField(Plugin, backref="tools", on_delete="CASCADE")
    name = CharField(max_length=255)  # the operationId: what the model calls
    description = TextField(default="")
    method = CharField(max_length=10)
    path = CharField(max_length=2048)
    operation = JsonField(default=dict)  # the OpenAPI operation object
    disabled = BooleanField(default=False)
    debug_status = IntegerField(default=DEBUG_NOT_PASSED)
    debug_example = JsonField(default=dict)  # {req_example, resp_example} of the last passing debug

    class Meta:
        table_name = "plugin_tool"
        indexes = ((("plugin", "name"), True),)


class PluginVersion(BaseModel):
    """A published version: the plugin and its tools as they were (agents call these)."""

    plugin = ForeignKeyField(Plugin, backref="versions", on_delete="CASCADE")
    creator = ForeignKeyField(User, on_delete="CASCADE")
    version_name = CharField(max_length=64)
    version_desc = TextField(default="")
    snapshot = JsonField(default=dict)

    class Meta:
        table_name = "plugin_version"


class PluginOAuthToken(BaseModel):
    """An OAuth token a plugin's calls carry: an end user's (authorization code) or the plugin's
    own (client credentials, `holder` "app"). Tokens are stored encrypted."""

    plugin = ForeignKeyField(Plugin, backref="oauth_tokens", on_delete="CASCADE")
    holder = CharField(max_length=300)  # "user:<id>", "end:<connector id>:<uid>" or "app"
    access_token = TextField()
    refresh_token = TextField(default="")
    expires_at = BigIntegerField(default=0)  # 0: no expiry given
    scope = TextField(default="")

    class Meta:
        table_name = "plugin_oauth_token"
        indexes = ((("plugin", "holder"), True),)


class PluginOAuthState(BaseModel):
    """An authorization in progress: the `state` sent to the authorization server, used once."""

    state = CharField(max_length=64, unique=True)
    plugin = ForeignKeyField(Plugin, on_delete="CASCADE")
    holder = CharField(max_length=300)
    expires_at = BigIntegerField()

    class Meta:
        table_name = "plugin_oauth_state"
