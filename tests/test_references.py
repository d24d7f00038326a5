"""Every id a request names is resolved through the one ownership-checked lookup (services/refs).

The spec marks each id-bearing field, in bodies and parameters, with `x-reference: <kind>` (or
`none`: a position, a connector, a client's own label). This test walks the spec, finds every such
field, and for each operation sends Bob's object in one field at a time (everything else Alice's
own) as Alice: each must be refused, naming the id, and change nothing; then the same request
with Alice's own objects everywhere must be accepted, so the refusals are about the reference."""

from __future__ import annotations

import copy
import json
import re
import time

import pytest
from conftest import register
from test_spec import SPEC

CANDIDATE = re.compile(r"(^|_)(id|ids|uri|uris)$|_id_list$|_message_list$")
# the model registry and the organisation chart: the server's, guarded by global permissions
GLOBAL = {"model", "organization", "department", "employee"}
NOT_BUILT: set[str] = set()  # kinds whose module has not landed name nothing yet
PLACEHOLDER = "7412345678901234567"


def _deref(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].split("/")[1:]:
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fields(schema, path=(), depth=0):
    """(path, property schema) of every property below `schema`; "[]" marks array items."""
    schema = _deref(schema)
    if depth > 15:
        return
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            yield from _fields(sub, path, depth + 1)
    if schema.get("type") == "array" and "items" in schema:
        yield from _fields(schema["items"], path + ("[]",), depth + 1)
    for name, prop in (schema.get("properties") or {}).items():
        yield path + (name,), prop
        yield from _fields(prop, path + (name,), depth + 1)


def _operations():
    found = []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            refs, unmarked, marked_paths = [], [], set()
            body = _deref(op.get("requestBody") or {})
            media = body.get("content", {}).get("application/json")
            if media:
                props = list(_fields(media["schema"]))
                for field, prop in props:
                    if prop.get("x-reference"):
                        marked_paths.add(field)
                        refs.append(
                            ("body", field, prop["x-reference"], prop.get("x-reference-format", "id"))
                        )
                for field, _ in props:
                    covered = any(p[: len(field)] == field for p in marked_paths)
                    if CANDIDATE.search(field[-1]) and not covered:
                        unmarked.append(".".join(field))
            params = [_deref(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
            for param in params:
                if param.get("x-reference"):
                    refs.append((param["in"], (param["name"],), param["x-reference"], "id"))
                elif CANDIDATE.search(param["name"]):
                    unmarked.append(f"{param['in']}:{param['name']}")
            found.append(
                {
                    "method": method,
                    "path": path,
                    "id": op["operationId"],
                    "refs": refs,
                    "unmarked": sorted(set(unmarked)),
                    "params": params,
                    "example": copy.deepcopy(media.get("example")) if media else None,
                    "body_schema": media["schema"] if media else None,
                }
            )
    return found


OPERATIONS = _operations()
# Operations only administrators reach; test_organisations walks their file references as the admin.
ADMINS_ONLY = {"/api/v1/corporation/employee/create", "/api/v1/corporation/employee/{id}"}
CHECKED = [
    op
    for op in OPERATIONS
    if any(r[2] not in ("none", *GLOBAL) for r in op["refs"]) and op["path"] not in ADMINS_ONLY
]


def test_every_id_bearing_field_is_marked():
    unmarked = {op["id"]: op["unmarked"] for op in OPERATIONS if op["unmarked"]}
    assert unmarked == {}, "fields that look like ids but have no x-reference"


FIELDS = sum(len([r for r in op["refs"] if r[2] not in ("none", *GLOBAL)]) for op in CHECKED)


@pytest.mark.parametrize(
    "count",
    [(len(CHECKED), FIELDS)],
    ids=[f"{len(CHECKED)} operations, {FIELDS} user-owned reference fields"],
)
def test_the_walk_covers_the_spec(count):
    # 85 operations and 165 fields when this was written: a walk that shrinks fails
    assert count[0] >= 85 and count[1] >= 165


# --- the two users' objects --------------------------------------------------------------------


class World:
    """One user's objects, made on first use through the API."""

    def __init__(self, account):
        self.account = account
        self._made = {}

    def get(self, kind: str) -> str:
        if kind not in self._made:
            self._made[kind] = getattr(self, f"_make_{kind}")()
        return self._made[kind]

    def _ok(self, response) -> dict:
        assert response.status_code == 200, response.text
        return response.json()

    def _make_space(self):
        return self._ok(self.account.post("/api/playground_api/space/list", {}))["data"]["bot_space_list"][0][
            "id"
        ]

    def _make_agent(self):
        from test_chat import new_agent

        return new_agent(self.account)

    def _make_conversation(self):
        data = self._ok(self.account.post("/v1/conversation/create", {"bot_id": self.get("agent")}))["data"]
        return data["id"]

    def _make_chat(self):
        """A turn that waits for a tool output (submit_tool_outputs needs one; cancel answers 409)."""
        conversation = self.get("conversation")
        body = {
            "bot_id": self.get("agent"),
            "user_id": "u",
            "stream": False,
            "additional_messages": [{"role": "user", "content": '/call lookup {"q": 1}'}],
        }
        chat = self._ok(self.account.post(f"/v3/chat?conversation_id={conversation}", body))["data"]
        import time

        for _ in range(100):
            state = self._ok(
                self.account.get(f"/v3/chat/retrieve?conversation_id={conversation}&chat_id={chat['id']}")
            )["data"]
            if state["status"] not in ("created", "in_progress"):
                break
            time.sleep(0.02)
        return chat["id"]

    def _make_message(self):
        self.get("chat")
        listed = self._ok(
            self.account.post(
                f"/v1/conversation/message/list?conversation_id={self.get('conversation')}", {"order": "asc"}
            )
        )
        return listed["data"][0]["id"]

    def _make_dataset(self):
        from test_knowledge import make_dataset

        return make_dataset(self.account, name=f"kb {id(self)}")

    def _make_document(self):
        from test_knowledge import add_and_wait, text_source

        return add_and_wait(self.account, self.get("dataset"), [text_source("doc", "Parcels ship daily.")])[
            0
        ]["document_id"]

    def _make_slice(self):
        from test_knowledge import slices_of

        return slices_of(self.account, self.get("document"))[0]["slice_id"]

    def _make_file(self):
        from test_knowledge import upload

        return upload(self.account, "notes.txt", b"private notes")

    def _make_prompt(self):
        body = {"prompt": {"space_id": self.get("space"), "name": f"p{id(self)}", "prompt_text": "x"}}
        return self._ok(self.account.post("/api/playground_api/upsert_prompt_resource", body))["data"]["id"]

    def _make_shortcut(self):
        body = {
            "object_id": self.get("agent"),
            "space_id": self.get("space"),
            "shortcuts": {"command_name": "sum", "shortcut_command": "/sum"},
        }
        data = self._ok(self.account.post("/api/playground_api/create_update_shortcut_command", body))["data"]
        return data["shortcuts"]["command_id"]

    def _make_database(self):
        body = {
            "space_id": self.get("space"),
            "table_name": f"t{id(self)}",
            "field_list": [{"name": "note", "type": 1}],
        }
        return self._ok(self.account.post("/api/memory/database/add", body))["data"]["database_info"]["id"]

    def _make_plugin(self):
        from test_plugins import manifest

        openapi = (
            "openapi: 3.0.1\ninfo: {title: t, version: v1}\nservers: [{url: 'https://tools.invalid'}]\n"
            "paths:\n  /n:\n    post:\n      operationId: note\n"
            "      requestBody:\n"
            "        content: {application/json: {schema: {properties: {text: {type: string}}}}}\n"
            "      responses: {'200': {description: ok}}\n"
        )
        body = {"space_id": self.get("space"), "ai_plugin": manifest(), "openapi": openapi}
        return self._ok(self.account.post("/api/plugin_api/register", body))["data"]["plugin_id"]

    def _make_workflow(self):
        body = {"space_id": self.get("space"), "name": f"wf_{id(self)}", "desc": "a workflow"}
        return self._ok(self.account.post("/api/workflow_api/create", body))["data"]["workflow_id"]

    def _make_workflow_run(self):
        body = {"workflow_id": self.get("workflow"), "input": {}}
        execute_id = self._ok(self.account.post("/api/workflow_api/test_run", body))["data"]["execute_id"]
        url = f"/api/workflow_api/get_process?workflow_id={self.get('workflow')}&execute_id={execute_id}"
        deadline = time.monotonic() + 20
        while self._ok(self.account.get(url))["data"]["executeStatus"] == 1 and time.monotonic() < deadline:
            time.sleep(0.02)  # settled, so the snapshots around a refusal see no change of its own
        return execute_id

    def _make_webhook(self):
        body = {
            "space_id": self.get("space"),
            "url": "http://127.0.0.3:9/hook",
            "events": ["agent.published"],
        }
        return self._ok(self.account.post("/api/webhook/create", body))["data"]["id"]

    def _make_channel(self):
        body = {"bot_id": self.get("agent"), "type": "webhook", "config": {}}
        return self._ok(self.account.post("/api/channel/create", body))["data"]["id"]

    def _make_webhook_delivery(self):
        return self._ok(self.account.post("/api/webhook/test", {"id": self.get("webhook")}))["data"]["id"]

    def _make_plugin_tool(self):
        listed = self._ok(
            self.account.post("/api/plugin_api/get_plugin_apis", {"plugin_id": self.get("plugin")})
        )
        return listed["api_info"][0]["api_id"]

    def _make_project(self):
        body = {"space_id": self.get("space"), "name": f"app {id(self)}"}
        return self._ok(self.account.post("/api/intelligence_api/draft_project/create", body))["data"][
            "project_id"
        ]

    def _make_pat(self):
        body = {"name": "walk", "duration_day": "1"}
        data = self._ok(
            self.account.post("/api/permission_api/pat/create_personal_access_token_and_permission", body)
        )["data"]
        return data["personal_access_token"]["id"]


def snapshot(*accounts) -> dict:
    """Every row the two users own, to prove a refusal changed nothing."""
    from models.agent import Bot, BotPublication, BotVersion
    from models.channel import Channel, ChannelMessage
    from models.conversation import ChatRun, Conversation, Message
    from models.files import StoredFile
    from models.identity import PersonalAccessToken, Space, SpaceMember
    from models.knowledge import Dataset, Document, Slice
    from models.library import PromptResource, ShortcutCommand
    from models.memory import COPIES, MemoryDatabase, VariableValue
    from models.plugin import Plugin, PluginTool
    from models.project import Project
    from models.webhook import WebhookDelivery, WebhookSubscription
    from models.workflow import Workflow, WorkflowRun, WorkflowVersion
    from services.memory_rows import row_model

    users = [int(a.user_id) for a in accounts]
    spaces = [m.space_id for m in SpaceMember.select().where(SpaceMember.user.in_(users))]
    bots = Bot.select(Bot.id).where(Bot.space.in_(spaces))
    datasets = Dataset.select(Dataset.id).where(Dataset.space.in_(spaces))
    projects = Project.select(Project.id).where(Project.space.in_(spaces))
    conversations = Conversation.select(Conversation.id).where(Conversation.creator.in_(users))
    queries = {
        "space": Space.select().where(Space.id.in_(spaces)),
        "bot": Bot.select().where(Bot.space.in_(spaces)),
        "version": BotVersion.select().where(BotVersion.bot.in_(bots)),
        "publication": BotPublication.select().where(BotPublication.bot.in_(bots)),
        "shortcut": ShortcutCommand.select().where(ShortcutCommand.bot.in_(bots)),
        "dataset": Dataset.select().where(Dataset.space.in_(spaces)),
        "document": Document.select().where(Document.dataset.in_(datasets)),
        "slice": Slice.select().where(Slice.dataset.in_(datasets)),
        "file": StoredFile.select().where(StoredFile.owner.in_(users)),
        "conversation": Conversation.select().where(Conversation.creator.in_(users)),
        "message": Message.select().where(Message.conversation.in_(conversations)),
        "chat": ChatRun.select().where(ChatRun.conversation.in_(conversations)),
        "prompt": PromptResource.select().where(PromptResource.space.in_(spaces)),
        "pat": PersonalAccessToken.select().where(PersonalAccessToken.user.in_(users)),
        "database": MemoryDatabase.select().where(MemoryDatabase.space.in_(spaces)),
        "variable": VariableValue.select().where(
            VariableValue.bot.in_(bots) | VariableValue.project.in_(projects)
        ),
        "project": Project.select().where(Project.space.in_(spaces)),
        "plugin": Plugin.select().where(Plugin.space.in_(spaces)),
        "plugin_tool": PluginTool.select().join(Plugin).where(Plugin.space.in_(spaces)),
        "workflow": Workflow.select().where(Workflow.space.in_(spaces)),
        "workflow_version": WorkflowVersion.select().join(Workflow).where(Workflow.space.in_(spaces)),
        "workflow_run": WorkflowRun.select().where(WorkflowRun.space_id.in_(spaces)),
        "webhook": WebhookSubscription.select().where(WebhookSubscription.space.in_(spaces)),
        "channel": Channel.select().where(Channel.space.in_(spaces)),
        "channel_message": ChannelMessage.select().join(Channel).where(Channel.space.in_(spaces)),
        "webhook_delivery": WebhookDelivery.select()
        .join(WebhookSubscription)
        .where(WebhookSubscription.space.in_(spaces)),
    }
    for database in MemoryDatabase.select().where(MemoryDatabase.space.in_(spaces)):
        for table_type in COPIES:
            queries[f"rows {database.id} {table_type}"] = row_model(database, table_type).select()
    volatile = {"last_used_at"}
    # a delivery's attempts are the dispatcher's progress in the background, not the request's doing
    attempt = {"attempts", "last_error", "next_attempt_at", "response_excerpt", "response_ms"}
    attempt |= {"response_status", "status", "updated_at"}
    return {
        name: sorted(
            json.dumps(
                {
                    k: v
                    for k, v in row.__data__.items()
                    if k not in volatile and not (name == "webhook_delivery" and k in attempt)
                },
                sort_keys=True,
                default=str,
            )
            for row in query
        )
        for name, query in queries.items()
    }


# --- building requests from the spec -------------------------------------------------------------


def _value(world: World, kind: str, fmt: str) -> str:
    raw = world.get(kind)
    if fmt == "uri":
        return f"file:{raw}"
    if fmt == "event":
        return f"{raw}/1"
    if fmt == "object_string":
        return json.dumps([{"type": "text", "text": "see the file"}, {"type": "file", "file_id": raw}])
    return raw


def _minimal(schema) -> dict:
    """An object with just the required properties of `schema`, each its first allowed value."""
    schema = _deref(schema)
    for sub in schema.get("allOf", []):
        schema = {
            **schema,
            **_deref(sub),
            "required": [*schema.get("required", []), *_deref(sub).get("required", [])],
        }
    properties = schema.get("properties") or {}
    return {
        name: (_deref(properties.get(name, {})).get("enum") or ["x"])[0]
        for name in schema.get("required", [])
    }


def _schema_at(op: dict, path: tuple):
    return next((_deref(prop) for field, prop in _fields(op["body_schema"]) if field == path), {})


def _set(target, path: tuple, value, sibling: tuple | None = None, new_item: dict | None = None):
    """Put `value` at `path` ("[]": into every item of a list, making one item when there is none)."""
    key, rest = path[0], path[1:]
    if key == "[]":
        items = target if target else [copy.deepcopy(new_item or {}) if rest and rest[0] != "[]" else None]
        for index, item in enumerate(items):
            items[index] = _set(item, rest, value, sibling) if rest else value
        return items
    target = target if isinstance(target, dict) else {}
    if rest:
        target[key] = _set(target.get(key), rest, value, sibling, new_item)
    else:
        target[key] = value if not isinstance(target.get(key), list) or isinstance(value, list) else [value]
        if sibling:
            target[sibling[0]] = sibling[1]
    return target


def _content_type_for(op: dict, path: tuple) -> tuple | None:
    """Files in content need a multimodal content_type beside it (each API spells it its way)."""
    parent = path[:-1]
    for field, prop in _fields(op["body_schema"]):
        if field == parent + ("content_type",):
            options = _deref(prop).get("enum", [])
            return ("content_type", "object_string" if "object_string" in options else "mix")
    return None


def _is_list(op: dict, path: tuple) -> bool:
    for field, prop in _fields(op["body_schema"]):
        if field == path:
            return _deref(prop).get("type") == "array"
    return False


def _request(op: dict, owners: dict, foreign: tuple | None = None):
    """(url, body) for `op` with each reference taken from `owners` (kind -> World) and, if given,
    `foreign` = (location, path, kind, format, world) in one place."""
    body = copy.deepcopy(op["example"]) if op["body_schema"] is not None else None
    params = {
        p["name"]: str(p.get("example") or (p.get("schema") or {}).get("example") or PLACEHOLDER)
        for p in op["params"]
        if p.get("required")
    }
    for location, path, kind, fmt in op["refs"]:
        chosen = owners
        if foreign and foreign[:2] == (location, path):
            chosen = {kind: foreign[4]}
        elif kind in ("none", *GLOBAL, *NOT_BUILT):
            continue
        elif location == "body" and not _present(op["example"], path):
            continue  # optional references are only sent when under test
        value = _value(chosen[kind], kind, fmt) if kind not in NOT_BUILT else PLACEHOLDER
        if location == "body":
            if _is_list(op, path):
                value = [value]
            sibling = _content_type_for(op, path) if fmt == "object_string" else None
            items = [i for i, key in enumerate(path) if key == "[]"]
            new_item = _minimal(_schema_at(op, path[: items[0]]).get("items", {})) if items else None
            body = _set(body, path, value, sibling, new_item)
        else:
            params[path[0]] = value
    url = op["path"]
    for name in list(params):
        if "{" + name + "}" in url:
            url = url.replace("{" + name + "}", params.pop(name))
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return url + (f"?{query}" if query else ""), body


def _present(example, path: tuple) -> bool:
    node = example
    for key in path:
        if key == "[]":
            if not isinstance(node, list) or not node:
                return False
            node = node[0]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False
    return True


def _send(client, account, op, url, body):
    headers = account.headers if body is None else {**account.headers, "Content-Type": "application/json"}
    return client.request(
        op["method"].upper(), url, headers=headers, content=None if body is None else json.dumps(body)
    )


def _admin_only(op) -> bool:
    return op["path"].startswith("/api/admin/")


# Operations whose request with the caller's own objects is refused for a reason past the
# references, which the generic request cannot meet: the world's message is a question, not an
# answer, its pending tool call has an id the spec's example does not know, and its document is
# text, not an image.
SEMANTIC = {
    "break_message": "is not an answer",
    # the walk's workflow is a new draft: Start and End, no node to debug alone
    "workflow_node_debug": "to debug alone",
    # the example's URL is a public host; this machine resolves no public names
    "webhook_create": "does not resolve",
    "submit_tool_outputs": "must answer exactly the pending tool calls",
    # the example's user is nobody in the walk's space
    "remove_space_member": "is not a member",
    "update_space_member_role": "is not a member",
    "open_update_image": "only images have captions",
    # the example's rows name fields the walk's one-field table does not have
    "list_database_records": "no field",
    "update_database_records": "no field",
    # the walk's files are text, not tables
    "get_table_schema": "import a csv, xlsx or json file",
    "validate_table_schema": "import a csv, xlsx or json file",
    "submit_table_import": "import a csv, xlsx or json file",
    # the walk's agents define no variables
    "set_variable_values": "has no variable",
    "open_set_variables": "has no variable",
}


@pytest.fixture(scope="module")
def bob_world(app):
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        world = World(register(client))
        yield world


@pytest.mark.parametrize("op", CHECKED, ids=[op["id"] for op in CHECKED])
def test_another_users_object_is_refused_in_every_reference(client, op, bob_world):
    alice = register(client)
    bob = bob_world.account
    mine = World(alice)
    kinds = {r[2] for r in op["refs"]} - {"none", *GLOBAL, *NOT_BUILT}
    owners = {kind: mine for kind in kinds}
    for kind in kinds:  # made before the baseline, so the snapshots only see the requests' effects
        mine.get(kind)
        bob_world.get(kind)
    for location, path, kind, fmt in op["refs"]:
        if kind in ("none", *GLOBAL):
            continue
        before = snapshot(alice, bob)
        url, body = _request(op, owners, (location, path, kind, fmt, bob_world))
        response = _send(client, alice, op, url, body)
        where = f"{op['id']} {location}:{'.'.join(path)} ({kind})"
        named = PLACEHOLDER if kind in NOT_BUILT else str(bob_world.get(kind))
        assert response.status_code in (400, 403, 404), f"{where} accepted {named}: {response.text}"
        assert named in response.json()["msg"], f"{where}: {response.text}"
        assert snapshot(alice, bob) == before, f"{where} was refused but changed something"
    url, body = _request(op, owners)
    response = _send(client, alice, op, url, body)
    # the same request with Alice's own objects passes the references (a 409 is about state)
    semantic = op["id"] in SEMANTIC and response.status_code == 400 and SEMANTIC[op["id"]] in response.text
    assert (
        response.status_code in (200, 409) or semantic or (response.status_code == 403 and _admin_only(op))
    ), f"{op['id']} with the caller's own objects: {response.text}"
    assert "not found" not in (response.text if response.status_code != 200 else ""), response.text


def test_icons_stored_before_the_check_are_cleared_by_migration(client):
    """Migration 0011: a draft, a published snapshot and a knowledge base whose icon names
    another user's upload lose it; icons of the space's members stay."""
    import importlib

    from test_chat import PNG, new_agent
    from test_knowledge import make_dataset, upload

    from models.agent import Bot, BotVersion
    from models.db import db
    from models.knowledge import Dataset

    alice, bob = register(client), register(client)
    mine, theirs = upload(alice, "a.png", PNG), upload(bob, "b.png", PNG)
    kept, leaked = new_agent(alice), new_agent(alice)
    dataset = make_dataset(alice, name="icons")
    Bot.update(icon_uri=f"file:{mine}").where(Bot.id == int(kept)).execute()
    Bot.update(icon_uri=f"file:{theirs}").where(Bot.id == int(leaked)).execute()
    Dataset.update(icon_uri=f"file:{theirs}").where(Dataset.id == int(dataset)).execute()
    version = BotVersion.select().where(BotVersion.bot == int(leaked)).get()
    version.snapshot = {**version.snapshot, "icon_uri": f"file:{theirs}"}
    version.save()
    importlib.import_module("models.migrations.0011_foreign_icons").up(None, db.obj)
    assert Bot.get_by_id(int(kept)).icon_uri == f"file:{mine}"
    assert Bot.get_by_id(int(leaked)).icon_uri == ""
    assert Dataset.get_by_id(int(dataset)).icon_uri == ""
    assert BotVersion.get_by_id(version.id).snapshot["icon_uri"] == ""
    online = alice.get(f"/v1/bot/get_online_info?bot_id={leaked}").json()["data"]
    assert online["icon_url"] == ""


def test_many_rows_under_knowledge_bases_are_checked_in_a_fixed_number_of_queries(client):
    """refs.many: the rows and their knowledge bases' spaces in two queries, however many rows."""
    from test_knowledge import add_and_wait, make_dataset, text_source

    from models.db import db
    from models.identity import User
    from services import refs

    alice = register(client)
    dataset_id = make_dataset(alice, name="counted")
    documents = add_and_wait(alice, dataset_id, [text_source(f"d{i}", f"text {i}") for i in range(6)])
    user = User.get_by_id(int(alice.user_id))
    statements = []
    original = db.obj.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    db.obj.execute_sql = counting
    try:
        rows = refs.many(user, refs.DOCUMENT, [d["document_id"] for d in documents], field="document_ids")
    finally:
        del db.obj.execute_sql
    assert [str(r.id) for r in rows] == [d["document_id"] for d in documents]
    assert len(statements) <= 4  # the documents, their spaces, the caller's membership
