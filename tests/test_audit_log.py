"""The audit log through HTTP: writes and permission changes are recorded with who, what, which
resource, where and the outcome; reads are not; administrators filter it; nobody edits it."""

from __future__ import annotations

from conftest import assert_error

from core import spec as spec_module
from core.audit import is_write
from models.audit import AuditEntry
from models.identity import Space


def audit(admin, **filters) -> list[dict]:
    response = admin.post("/api/permission_api/audit/list", {"size": 100, **filters})
    assert response.status_code == 200, response.text
    return response.json()["data"]["entries"]


def test_writes_and_permission_changes_are_recorded(admin, alice, bob):
    made = alice.post("/api/playground_api/space/create", {"name": "Audited"}).json()["data"]
    space_id = made["id"]
    alice.post("/api/playground_api/space/member/add", {"space_id": space_id, "user_ids": [bob.user_id]})
    refused = bob.post("/api/playground_api/space/delete", {"space_id": space_id})
    assert refused.status_code == 403
    entries = audit(admin, space_id=space_id)
    shown = [(e["operation"], e["actor_id"], e["status"], e["code"]) for e in entries]
    assert shown == [
        ("delete_space", bob.user_id, 403, 108000006),
        ("add_space_members", alice.user_id, 200, 0),
    ]
    added = entries[1]
    assert added["resource_ids"] == [space_id, bob.user_id] and added["resource_type"] == "space"
    assert added["client_ip"] and added["request_id"] and added["method"] == "POST"
    created = audit(admin, operation="create_space", actor_id=alice.user_id)
    assert created and created[0]["status"] == 200
    failures = audit(admin, space_id=space_id, outcome="failure")
    assert [e["operation"] for e in failures] == ["delete_space"]
    by_resource = audit(admin, resource_id=bob.user_id, operation="add_space_members")
    assert [e["id"] for e in by_resource] == [added["id"]]


def test_reads_are_not_recorded_and_bodies_are_not_kept(admin, alice):
    before = AuditEntry.select().count()
    alice.post("/api/playground_api/space/list")
    personal = alice.post("/api/playground_api/space/list").json()["data"]["bot_space_list"][0]["id"]
    alice.post("/api/playground_api/space/member/list", {"space_id": personal})
    alice.get("/v1/workspaces")
    assert AuditEntry.select().count() == before
    alice.post(
        "/api/user/update_password", {"old_password": "wrong-password", "new_password": "whatever-new-1"}
    )
    [entry] = AuditEntry.select().where(AuditEntry.id > 0).order_by(AuditEntry.id.desc()).limit(1)
    assert (
        entry.operation == "update_password" and entry.status == 403 and entry.actor_id == int(alice.user_id)
    )
    assert "whatever-new-1" not in str(entry.__data__) and "wrong-password" not in str(entry.__data__)


def test_only_administrators_read_it_and_nobody_edits_it(alice):
    assert_error(alice.post("/api/permission_api/audit/list", {}), 403, 108000006)
    paths = spec_module.load()["paths"]
    audit_ops = [op["operationId"] for path, item in paths.items() for op in item.values() if "audit" in path]
    assert audit_ops == ["audit_list"]  # no operation changes or deletes an entry


def test_bodies_the_server_refuses_are_recorded_as_refused(admin, alice):
    deep = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    surrogate = b'{"name": "x", "space_id": "\\ud800"}'
    for body in (deep, surrogate):
        response = alice.post(
            "/api/playground_api/space/create", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
    entries = audit(admin, actor_id=alice.user_id, operation="create_space")
    assert [e["status"] for e in entries] == [400, 400] and all(e["code"] == 108000000 for e in entries)


def test_the_read_pass_through_skips_only_unshadowed_literal_reads():
    from core.app import _literal_reads

    def op(name):
        return {"operationId": name}

    spec = {
        "paths": {
            "/v1/things/list": {"post": op("list_things")},  # a templated write also matches it
            "/v1/things/{thing_id}": {"post": op("update_thing")},
            "/v1/books/list": {"post": op("list_books"), "put": op("update_books")},
            "/v1/books/create": {"post": op("create_book")},
            "/v1/books/{book_id}/get": {"post": op("get_book")},
        }
    }
    assert _literal_reads(spec) == {("POST", "/v1/books/list")}
    shipped = spec_module.load()
    for method, path in _literal_reads(shipped):
        operation = shipped["paths"][path][method.lower()]["operationId"]
        assert not is_write(operation, method), (method, path)


def test_reads_and_writes_side_by_side_record_every_write(admin, alice):
    from core.app import _literal_reads

    skipped = _literal_reads(spec_module.load())
    assert {"/api/playground_api/space/list", "/api/playground_api/space/member/list"} <= {
        path for _, path in skipped
    }  # the reads below take the pass-through
    before = AuditEntry.select().count()
    made = []
    for name in ("Side one", "Side two", "Side three"):
        assert alice.post("/api/playground_api/space/list").status_code == 200
        made.append(alice.post("/api/playground_api/space/create", {"name": name}).json()["data"]["id"])
        assert alice.post("/api/playground_api/space/member/list", {"space_id": made[-1]}).status_code == 200
    assert AuditEntry.select().count() == before + 3
    new = list(AuditEntry.select().order_by(AuditEntry.id.desc()).limit(3))
    assert [(e.operation, e.status) for e in new] == [("create_space", 200)] * 3
    listed = audit(admin, operation="create_space", actor_id=alice.user_id)[:3]
    assert [e["id"] for e in listed] == [str(e.id) for e in new]
    assert all(Space.get_by_id(int(space_id)).name.startswith("Side") for space_id in made)
