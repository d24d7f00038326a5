"""Roles through HTTP: the catalogue, custom roles and their permissions, assignment in one space or
every space, disabling, deleting, the built-in roles' limits, and who may do any of it."""

from __future__ import annotations

from conftest import assert_error, register

from core import authz
from models.agent import Bot
from models.identity import User
from models.permission import PolicyRule, Role

API = "/api/permission_api"
SPACE = "/api/playground_api/space"


def grants(*cells) -> list[dict]:
    by_resource: dict = {}
    for cell in cells:
        resource, action = cell.split(":")
        by_resource.setdefault(resource, []).append({"action": action})
    return [{"resources": [{"resource": r, "actions": a} for r, a in by_resource.items()]}]


def cells_of(role: dict) -> set[str]:
    return {
        action["template_code"]
        for group in role["permissions"]
        for item in group["resources"]
        for action in item["actions"]
    }


def test_the_catalogue_is_every_cell(admin):
    groups = admin.post(f"{API}/template/list", {}).json()["data"]
    codes = {a["template_code"] for g in groups for r in g["resources"] for a in r["actions"]}
    assert codes == {f"{r}:{a}" for r, a in authz.cells()}
    space_only = admin.post(f"{API}/template/list", {"domain": "global", "resource": "audit"}).json()["data"]
    assert [(g["domain"], [r["resource"] for r in g["resources"]]) for g in space_only] == [
        ("global", ["audit"])
    ]


def test_built_in_roles_are_listed_and_kept(admin):
    listed = admin.post(f"{API}/role/list", {"is_builtin": 1}).json()["data"]
    assert [r["role_code"] for r in listed["roles"]] == [
        "super_admin",
        "space_owner",
        "space_admin",
        "space_member",
    ]
    owner = listed["roles"][1]
    assert cells_of(owner) == {f"{r}:{a}" for r, a in authz.cells("space")}
    for body, fragment in (
        ({"id": owner["id"], "permissions": grants("agent:read")}, "permissions"),
        ({"id": owner["id"], "is_disabled": 1}, "is_disabled"),
    ):
        assert_error(admin.post(f"{API}/role/update", body), 409, 108000003, fragment)
    assert_error(admin.post(f"{API}/role/delete", {"id": owner["id"]}), 409, 108000003)
    assert Role.by_code("space_owner").is_disabled is False


def test_a_custom_space_role_grants_in_one_space_then_everywhere(admin, alice, bob):
    # bob is a member of alice's team space, with the member role minus agent:publish
    space_id = alice.post(f"{SPACE}/create", {"name": "Pub", "space_type": 2}).json()["data"]["id"]
    alice.post(f"{SPACE}/member/add", {"space_id": space_id, "user_ids": [bob.user_id]})
    member = Role.by_code("space_member")
    admin.post(
        f"{API}/role/update",
        {"id": str(member.id), "permissions": grants("workspace:read", "agent:create", "agent:read")},
    )
    try:
        bot = bob.post("/api/draftbot/create", {"name": "B", "space_id": space_id}).json()["data"]["bot_id"]
        publish = {"bot_id": bot, "space_id": space_id, "connectors": {"1024": {}}}
        assert_error(bob.post("/api/draftbot/publish", publish), 403, 108000006, "agent:publish")
        made = admin.post(
            f"{API}/role/create",
            {"role_code": "publisher", "role_name": "Publisher", "permissions": grants("agent:publish")},
        ).json()["data"]
        assert cells_of(made["role"]) == {"agent:publish"} and made["role"]["is_builtin"] == 0
        held = admin.post(
            f"{API}/user/assign_roles",
            {"user_id": bob.user_id, "role_ids": [made["id"]], "space_id": space_id},
        ).json()["data"]
        assert [(r["role_code"], r["space_id"]) for r in held["roles"]] == [("publisher", space_id)]
        assert bob.post("/api/draftbot/publish", publish).json()["code"] == 0
        # the assignment names one space: in another of his spaces he still may not publish
        other = alice.post(f"{SPACE}/create", {"name": "Other", "space_type": 2}).json()["data"]["id"]
        alice.post(f"{SPACE}/member/add", {"space_id": other, "user_ids": [bob.user_id]})
        elsewhere = bob.post("/api/draftbot/create", {"name": "E", "space_id": other}).json()["data"][
            "bot_id"
        ]
        publish_elsewhere = {"bot_id": elsewhere, "space_id": other, "connectors": {"1024": {}}}
        assert_error(bob.post("/api/draftbot/publish", publish_elsewhere), 403, 108000006)
        # assigned without a space, it applies in every space he belongs to
        admin.post(f"{API}/user/assign_roles", {"user_id": bob.user_id, "role_ids": [made["id"]]})
        assert bob.post("/api/draftbot/publish", publish_elsewhere).json()["code"] == 0
        # disabling the role takes it away at once
        admin.post(f"{API}/role/update", {"id": made["id"], "is_disabled": 1})
        assert_error(bob.post("/api/draftbot/publish", publish), 403, 108000006)
        admin.post(f"{API}/role/update", {"id": made["id"], "is_disabled": 0})
        assert bob.post("/api/draftbot/publish", publish).json()["code"] == 0
        roles = admin.get(f"{API}/user/roles", params={"user_id": bob.user_id}).json()["data"]
        assert {(s["space_id"], s["role_code"]) for s in roles["space_roles"]} >= {(space_id, "space_member")}
        # deleting it removes its rules and assignments
        assert admin.post(f"{API}/role/delete", {"id": made["id"]}).json()["code"] == 0
        assert (
            not PolicyRule.select()
            .where(PolicyRule.v0.contains("publisher") | PolicyRule.v1.contains("publisher"))
            .exists()
        )
        assert_error(bob.post("/api/draftbot/publish", publish), 403, 108000006)
        assert_error(bob.post("/api/draftbot/publish", publish_elsewhere), 403, 108000006)
        assert Bot.get_by_id(int(bot)).space_id == int(space_id)
    finally:
        default = [
            c for c in authz.cells("space") if c[0] not in ("workspace", "member", "channel", "webhook")
        ]
        cells = ["workspace:read", "channel:read", "webhook:read"] + [f"{r}:{a}" for r, a in default]
        admin.post(f"{API}/role/update", {"id": str(member.id), "permissions": grants(*cells)})


def test_a_global_role_and_the_super_admin_flag(admin, alice, client):
    made = admin.post(
        f"{API}/role/create",
        {
            "role_code": "auditor",
            "role_name": "Auditor",
            "role_domain": "global",
            "permissions": grants("audit:read"),
        },
    ).json()["data"]
    assert_error(alice.post(f"{API}/audit/list", {}), 403, 108000006, "audit:read")
    admin.post(f"{API}/user/assign_roles", {"user_id": alice.user_id, "role_ids": [made["id"]]})
    assert alice.post(f"{API}/audit/list", {}).json()["code"] == 0
    assert_error(alice.post(f"{API}/user/list", {}), 403, 108000006, "user:read")
    admin.post(f"{API}/user/unassign_roles", {"user_id": alice.user_id, "role_ids": [made["id"]]})
    assert_error(alice.post(f"{API}/audit/list", {}), 403, 108000006)
    # super_admin is the flag; the last one stays
    super_id = str(Role.by_code("super_admin").id)
    carol = register(client)
    admin.post(f"{API}/user/assign_roles", {"user_id": carol.user_id, "role_ids": [super_id]})
    assert User.get_by_id(int(carol.user_id)).is_super_admin
    assert carol.post(f"{API}/user/list", {}).json()["code"] == 0
    admin.post(f"{API}/user/unassign_roles", {"user_id": carol.user_id, "role_ids": [super_id]})
    assert not User.get_by_id(int(carol.user_id)).is_super_admin
    assert_error(
        admin.post(f"{API}/user/unassign_roles", {"user_id": admin.user_id, "role_ids": [super_id]}),
        409,
        108000012,
    )


def test_bad_role_requests_change_nothing(admin, alice):
    before = Role.select().count(), PolicyRule.select().count()
    member_id = str(Role.by_code("space_member").id)
    for path, body, status, code, fragment in (
        (
            "role/create",
            {"role_code": "x1", "role_name": "X", "permissions": grants("audit:read")},
            400,
            108000000,
            "permissions[0].resources[0].resource",
        ),
        (
            "role/create",
            {"role_code": "x1", "role_name": "X", "permissions": grants("agent:fly")},
            400,
            108000000,
            "actions[0].action",
        ),
        ("role/create", {"role_code": "space_member", "role_name": "X"}, 409, 108000001, "role_code"),
        ("role/create", {"role_code": "Bad Code", "role_name": "X"}, 400, 108000000, "role_code"),
        ("role/update", {"id": "123", "role_name": "X"}, 404, 108000002, "id"),
        (
            "user/assign_roles",
            {"user_id": alice.user_id, "role_ids": [member_id]},
            400,
            108000000,
            "role_ids[0]",
        ),
        ("user/assign_roles", {"user_id": "42", "role_ids": [member_id]}, 404, 700000005, "user_id"),
    ):
        assert_error(admin.post(f"{API}/{path}", body), status, code, fragment)
    for path, body in (
        ("role/create", {"role_code": "mine", "role_name": "Mine"}),
        ("role/list", {}),
        ("user/assign_roles", {"user_id": alice.user_id, "role_ids": [member_id]}),
    ):
        assert_error(alice.post(f"{API}/{path}", body), 403, 108000006)
    assert (Role.select().count(), PolicyRule.select().count()) == before


def test_filters_repeats_and_unassigning_in_one_space(admin, alice):
    space_id = alice.post(f"{SPACE}/create", {"name": "Filters", "space_type": 2}).json()["data"]["id"]
    other = alice.post(f"{SPACE}/create", {"name": "Other", "space_type": 2}).json()["data"]["id"]
    code = f"reviewer_{alice.user_id[-6:]}"
    made = admin.post(
        f"{API}/role/create",
        {"role_code": code, "role_name": "Reviewer", "permissions": grants("agent:read")},
    ).json()["data"]["role"]
    listed = admin.post(f"{API}/role/list", {"keyword": code[:12], "role_domain": "space"}).json()["data"]
    assert [r["id"] for r in listed["roles"]] == [made["id"]] and listed["total"] == 1
    assert (
        admin.post(f"{API}/role/list", {"keyword": code, "role_domain": "global"}).json()["data"]["total"]
        == 0
    )
    found = admin.post(f"{API}/template/list", {"keyword": "publish"}).json()["data"]
    actions = {a["action"] for g in found for r in g["resources"] for a in r["actions"]}
    assert actions == {"publish"}

    for space in (space_id, space_id, other):  # the repeat is a no-op, not a second rule
        body = {"user_id": alice.user_id, "role_ids": [made["id"]], "space_id": space}
        assert admin.post(f"{API}/user/assign_roles", body).json()["code"] == 0

    def domains():
        rules = PolicyRule.select().where((PolicyRule.ptype == "g") & (PolicyRule.v1 == f"role:{code}"))
        return sorted(rule.v2 for rule in rules)

    assert domains() == sorted([f"space:{space_id}", f"space:{other}"])

    body = {"user_id": alice.user_id, "role_ids": [made["id"]], "space_id": space_id}
    held = admin.post(f"{API}/user/unassign_roles", body).json()["data"]
    assert [(r["role_code"], r["space_id"]) for r in held["roles"]] == [(code, other)]
    assert domains() == [f"space:{other}"]
