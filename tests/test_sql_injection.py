"""SQL injection on every operation that filters or sorts, walked from the spec.

Each list or search operation's text filters (keyword, name, query, cursor ...) get payloads that
would change the query if they reached SQL unbound or a LIKE pattern unescaped. Alice and Bob
both hold one of everything; Alice sends each payload with her own objects in every reference.
The server-wide listings (users, roles, the organisation chart) are sent by the administrator,
with a corporation, a department and an employee in place. None of the payloads occurs in any
object's name, so a filter that takes them as text finds nothing: the answer must name none of
the objects the same request lists with the filter empty (a tautology or a wildcard would list
them) and none of Bob's; nothing may change, no table may go, and no answer is a 5xx. Sorts are enums in
the spec, so a value outside them is refused before any handler (tests/test_contract.py); user
tables' filters and sorts are walked in tests/test_memory.py."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pytest
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Account, register
from test_organisations import corp, dept, person
from test_references import (
    GLOBAL,
    NOT_BUILT,
    OPERATIONS,
    World,
    _deref,
    _fields,
    _request,
    _send,
    _set,
    snapshot,
)

from models.db import db

LISTING = re.compile(r"(^|_)(list|search)(_|$)|_list$")
FILTER = re.compile(r"^(keyword|keywords|name|table_name|query|cursor|q)$")
PAYLOADS = [
    "' OR '1'='1",
    "') OR 1=1 --",
    '" OR ""="',
    "%",
    "%' --",
    "\\' UNION SELECT id, email FROM user --",
    "'; DROP TABLE bot; --",
    "*",
    '"unbalanced',
    "a OR b* NEAR(x y)",
]
# listings of the server's own objects, for the administrator
SERVER_WIDE = {
    "admin_list_users",
    "list_corporations",
    "list_departments",
    "list_employees",
    "list_permission_templates",
    "list_roles",
}
NAMES = {"name", "role_name", "table_name", "nickname", "title", "template_code"}
ID = re.compile(r"\d{15,20}")
KINDS = ("agent", "dataset", "document", "slice", "prompt", "database", "plugin", "workflow", "project")


def _filters(op: dict) -> list[tuple[str, tuple]]:
    """(where, path) of each free-text filter of a listing operation."""
    found = []
    if op["body_schema"] is not None:
        for field, prop in _fields(op["body_schema"]):
            prop = _deref(prop)
            plain = prop.get("type") == "string" and not prop.get("enum") and not prop.get("x-reference")
            if plain and "[]" not in field and len(field) <= 2 and FILTER.match(field[-1]):
                found.append(("body", field))
    for param in op["params"]:
        schema = _deref(param.get("schema") or {})
        if param["in"] == "query" and schema.get("type") == "string" and not schema.get("enum"):
            if not param.get("x-reference") and FILTER.match(param["name"]):
                found.append(("query", (param["name"],)))
    return found


FILTERED = [
    (op, where, path) for op in OPERATIONS if LISTING.search(op["id"]) for where, path in _filters(op)
]


def test_the_walk_covers_the_listings():
    # 20 filters of 20 listing operations when this was written
    assert len(FILTERED) >= 20 and len({op["id"] for op, _, _ in FILTERED}) >= 19, len(FILTERED)


@pytest.fixture(scope="module")
def worlds(app):
    from starlette.testclient import TestClient

    with TestClient(app) as client:
        alice, bob = World(register(client)), World(register(client))
        for world in (alice, bob):
            for kind in KINDS:
                world.get(kind)
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        answer = client.post("/api/passport/web/email/login/", json=login)
        client.cookies.clear()
        admin = Account(client, ADMIN_EMAIL, ADMIN_PASSWORD, answer.json()["data"])
        unique = time.time_ns() % 10**9  # the session's database holds other tests' charts and roles
        company = corp(admin, f"Acme {unique}")
        sales = dept(admin, company["id"], "Sales")
        person(admin, "Dana", sales["id"])
        role = {
            "role_code": f"auditor_{unique}",
            "role_name": f"Auditor {unique}",
            "role_domain": "space",
            "permissions": [],
        }
        assert admin.post("/api/permission_api/role/create", role).json()["code"] == 0
        for world in (alice, bob):
            published = {"plugin_id": world.get("plugin"), "version_name": "v1.0.0"}
            assert world.account.post("/api/plugin_api/publish_plugin", published).json()["code"] == 0
        chart = {"organization": company["id"], "department": sales["id"]}
        yield client, alice, bob, admin, chart


def _tables() -> set[str]:
    return set(db.obj.get_tables())


@pytest.mark.parametrize(
    "op, where, path",
    FILTERED,
    ids=[f"{op['id']}:{where}:{'.'.join(path)}" for op, where, path in FILTERED],
)
def test_a_filter_takes_injection_as_text(worlds, op, where, path):
    client, mine, theirs, admin, chart = worlds
    caller = admin if op["id"] in SERVER_WIDE else mine.account
    bob = theirs.account
    tables, before = _tables(), snapshot(mine.account, bob)
    others = {str(theirs.get(kind)) for kind in KINDS} | {str(bob.user_id)}
    listed = _items(_send_with(client, caller, op, mine, chart, where, path, ""))
    assert listed, f"{op['id']} lists nothing with the filter empty: the walk would prove nothing"
    for payload in PAYLOADS:
        response = _send_with(client, caller, op, mine, chart, where, path, payload)
        said = f"{op['id']} {where}:{'.'.join(path)}={payload!r}: {response.text[:300]}"
        assert response.status_code < 500, said
        if response.status_code == 200:
            found = _items(response)
            if op["id"] not in SERVER_WIDE:
                assert not found & others, f"Bob's objects leaked: {said}"
            assert not found & listed, f"the payload matched as SQL or a pattern: {said}"
        else:
            assert response.status_code in (400, 404), said
    assert _tables() == tables and snapshot(mine.account, bob) == before


def _send_with(client, caller, op, mine, chart, where, path, value):
    kinds = {r[2] for r in op["refs"]} - {"none", *GLOBAL, *NOT_BUILT}
    url, body = _request(op, {kind: mine for kind in kinds})
    for location, field, kind, _ in op["refs"]:  # the chart's objects where the example names one
        if kind in chart and location == "body" and isinstance(body, dict) and field[0] in body:
            body[field[0]] = chart[kind]
    if where == "body":
        body = _set(body if body is not None else {}, path, value)
    else:
        base, _, query = url.partition("?")
        kept = [p for p in query.split("&") if p and not p.startswith(path[0] + "=")]
        url = base + "?" + "&".join([*kept, f"{path[0]}={quote(value)}"])
    response = _send(client, caller, op, url, body)
    response.sent = url + json.dumps(body)
    return response


def _items(response) -> set[str]:
    """The ids (but for those its request named) and the names an answer holds."""
    if response.status_code != 200:
        return set()
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in NAMES and isinstance(value, str) and value:
                    names.add(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(response.json().get("data"))
    return names | (set(ID.findall(response.text)) - set(ID.findall(response.sent)))
