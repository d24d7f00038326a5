"""Organisations through HTTP: corporations nested by parent, department trees (create, update, move,
sort, delete), employees (login accounts, placements, resign, restore), the organisation chart,
and who may do any of it."""

from __future__ import annotations

import itertools

from conftest import PASSWORD, assert_error, new_email

from models.corporation import Corporation, Department, Employee, EmployeeDepartment
from models.identity import User

V1 = "/api/v1"
CORP = f"{V1}/corporation"
DEPT = f"{V1}/corporation/department"
EMP = f"{V1}/corporation/employee"
_mobiles = itertools.count(13800000000)


def data(response) -> dict | list:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    return body["data"]


def corp(admin, name, **fields) -> dict:
    return data(admin.post(f"{CORP}/create", {"name": name, **fields}))


def dept(admin, corp_id, name, **fields) -> dict:
    return data(admin.post(f"{DEPT}/create", {"name": name, "corp_id": corp_id, **fields}))


def mobile() -> str:
    return f"+86{next(_mobiles)}"


def person(admin, name, *department_ids, **fields) -> dict:
    placements = [{"department_id": d} for d in department_ids]
    return data(
        admin.post(
            f"{EMP}/create", {"name": name, "mobile": mobile(), "department_ids": placements, **fields}
        )
    )


def test_corporations_nest_move_and_list(admin):
    group = corp(admin, "Acme Group", corp_type=1)
    company = corp(admin, "Acme Shipping", corp_type=2, parent_id=group["id"], sort=2)
    branch = corp(admin, "Acme Shipping North", corp_type=3, parent_id=company["id"])
    assert (company["parent_id"], branch["parent_id"], group["parent_id"]) == (
        group["id"],
        company["id"],
        "0",
    )
    assert data(admin.get(f"{CORP}/{branch['id']}"))["name"] == "Acme Shipping North"

    # a group cannot move under its own branch; nothing changes
    refused = admin.put(f"{CORP}/{group['id']}", {"parent_id": branch["id"]})
    assert_error(refused, 400, 120000000, "parent_id", "below it")
    assert Corporation.by_id(int(group["id"])).parent_id is None

    renamed = data(admin.put(f"{CORP}/{branch['id']}", {"name": " Acme North ", "parent_id": group["id"]}))
    assert (renamed["name"], renamed["parent_id"]) == ("Acme North", group["id"])
    assert Corporation.by_id(int(branch["id"])).parent_id == int(group["id"])

    listed = admin.post(f"{CORP}/list", {"parent_id": group["id"]}).json()
    assert listed["total"] == 2
    assert [c["id"] for c in listed["data"]] == [branch["id"], company["id"]]  # sort 0 before 2
    by_type = admin.post(f"{CORP}/list", {"keyword": "Acme", "corp_type": 1, "page_size": 1}).json()
    assert group["id"] in {c["id"] for c in by_type["data"]} and by_type["total"] >= 1

    assert_error(admin.delete(f"{CORP}/{group['id']}"), 409, 120000002, "2 sub-organizations")
    assert data(admin.delete(f"{CORP}/{branch['id']}")) is None
    assert Corporation.by_id(int(branch["id"])) is None
    assert_error(admin.get(f"{CORP}/{branch['id']}"), 404, 120000001, branch["id"])
    assert_error(
        admin.post(f"{CORP}/create", {"name": "x", "parent_id": branch["id"]}), 404, 120000001, "parent_id"
    )

    # every change is in the audit log: who, what, which, the outcome
    from models.audit import AuditEntry

    path = f"{CORP}/{branch['id']}"
    moved = AuditEntry.get(AuditEntry.operation == "update_corporation", AuditEntry.path == path)
    assert (moved.actor_id, moved.method, moved.resource_type, moved.status) == (
        int(admin.user_id),
        "PUT",
        "corporation",
        200,
    )
    refused = AuditEntry.get(
        AuditEntry.operation == "delete_corporation", AuditEntry.path == f"{CORP}/{group['id']}"
    )
    assert (refused.status, refused.code) == (409, 120000002)


def test_department_tree_create_move_sort_and_delete(admin):
    acme = corp(admin, "Tree Co")
    other = corp(admin, "Other Co")
    eng = dept(admin, acme["id"], "Engineering", code="ENG")
    platform = dept(admin, acme["id"], "Platform", parent_id=eng["id"])
    infra = dept(admin, acme["id"], "Infra", parent_id=platform["id"])
    sales = dept(admin, acme["id"], "Sales", sort=5)
    assert (infra["level"], infra["full_path"], infra["parent_id"]) == (
        3,
        "Tree Co/Engineering/Platform/Infra",
        platform["id"],
    )

    assert_error(
        admin.post(f"{DEPT}/create", {"name": "Platform", "corp_id": acme["id"], "parent_id": eng["id"]}),
        409,
        120200003,
        "Platform",
    )
    foreign = dept(admin, other["id"], "Elsewhere")
    assert_error(
        admin.post(f"{DEPT}/create", {"name": "X", "corp_id": acme["id"], "parent_id": foreign["id"]}),
        400,
        120000000,
        "parent_id",
    )

    top = admin.post(f"{DEPT}/list", {"corp_id": acme["id"], "parent_id": "0"}).json()
    assert ([d["name"] for d in top["data"]], top["total"]) == (["Engineering", "Sales"], 2)
    found = admin.post(f"{DEPT}/list", {"corp_id": acme["id"], "keyword": "ENG"}).json()["data"]
    assert [d["id"] for d in found] == [eng["id"]]

    tree = data(admin.post(f"{DEPT}/tree", {"corp_id": acme["id"]}))
    assert [(n["name"], [c["name"] for c in n["children"]]) for n in tree] == [
        ("Engineering", ["Platform"]),
        ("Sales", []),
    ]
    assert tree[0]["children"][0]["children"][0]["name"] == "Infra"
    shallow = data(admin.post(f"{DEPT}/tree", {"corp_id": acme["id"], "depth": 1}))
    assert [n["children"] for n in shallow] == [[], []]

    # sorting: Sales before Engineering at the top
    ordered = data(
        admin.post(
            f"{DEPT}/sort",
            {
                "parent_id": acme["id"],
                "department_ids": [{"id": sales["id"], "sort": 0}, {"id": eng["id"], "sort": 9}],
            },
        )
    )
    assert [d["name"] for d in ordered] == ["Sales", "Engineering"]
    assert_error(
        admin.post(
            f"{DEPT}/sort", {"parent_id": acme["id"], "department_ids": [{"id": infra["id"], "sort": 1}]}
        ),
        400,
        120000000,
        "department_ids[0].id",
    )

    # a department cannot move below itself; moving carries its subtree, to another organization too
    assert_error(
        admin.post(f"{DEPT}/move", {"id": eng["id"], "parent_id": infra["id"]}), 400, 120000000, "below it"
    )
    assert Department.by_id(int(eng["id"])).parent_id is None
    worker = person(admin, "Mover", infra["id"])
    moved = data(admin.post(f"{DEPT}/move", {"id": platform["id"], "parent_id": other["id"]}))
    assert (moved["corp_id"], moved["parent_id"], moved["full_path"]) == (
        other["id"],
        "0",
        "Other Co/Platform",
    )
    assert Department.by_id(int(infra["id"])).corp_id == int(other["id"])
    placement = EmployeeDepartment.get(EmployeeDepartment.employee_id == int(worker["id"]))
    assert placement.corp_id == int(other["id"])
    back = data(admin.put(f"{DEPT}/{platform['id']}", {"parent_id": eng["id"], "name": "Platforms"}))
    assert (back["corp_id"], back["full_path"]) == (acme["id"], "Tree Co/Engineering/Platforms")

    # deleting: refused while sub-departments or employees remain
    assert_error(admin.delete(f"{DEPT}/{platform['id']}"), 409, 120200002, "1 sub-departments")
    assert_error(admin.delete(f"{DEPT}/{infra['id']}"), 409, 120200002, "1 employees")
    assert Department.by_id(int(infra["id"])) is not None
    data(admin.put(f"{EMP}/{worker['id']}/resign", {"reason": "left"}))
    assert data(admin.delete(f"{DEPT}/{infra['id']}")) is None
    assert Department.by_id(int(infra["id"])) is None
    assert (
        not EmployeeDepartment.select().where(EmployeeDepartment.department_id == int(infra["id"])).exists()
    )
    assert_error(admin.get(f"{DEPT}/{infra['id']}"), 404, 120200001)


def test_employees_with_accounts_placements_resign_and_restore(admin, client):
    acme = corp(admin, "People Co")
    eng = dept(admin, acme["id"], "Engineering")
    ops = dept(admin, acme["id"], "Ops")
    email = new_email("dana")
    dana = data(
        admin.post(
            f"{EMP}/create",
            {
                "name": "Dana",
                "mobile": mobile(),
                "email": email.upper(),
                "department_ids": [
                    {"department_id": eng["id"]},
                    {"department_id": ops["id"], "job_title": "SRE", "is_primary": True},
                ],
                "create_account": 1,
                "password": PASSWORD,
            },
        )
    )
    assert dana["email"] == email and dana["user_id"] != "0"
    assert [(d["department_name"], d["is_primary"], d["job_title"]) for d in dana["departments"]] == [
        ("Ops", True, "SRE"),
        ("Engineering", False, ""),
    ]
    account = User.by_id(int(dana["user_id"]))
    assert (account.email, account.must_change_password) == (email, True)

    # clashes and bad placements change nothing
    before = Employee.select().count()
    assert_error(
        admin.post(
            f"{EMP}/create",
            {"name": "Twin", "mobile": dana["mobile"], "department_ids": [{"department_id": eng["id"]}]},
        ),
        409,
        120300002,
        "mobile",
    )
    assert_error(
        admin.post(
            f"{EMP}/create",
            {
                "name": "Twin",
                "mobile": mobile(),
                "email": email,
                "department_ids": [{"department_id": eng["id"]}],
            },
        ),
        409,
        120300003,
        "email",
    )
    two_primaries = [
        {"department_id": eng["id"], "is_primary": True},
        {"department_id": ops["id"], "is_primary": True},
    ]
    assert_error(
        admin.post(f"{EMP}/create", {"name": "T", "mobile": mobile(), "department_ids": two_primaries}),
        400,
        120000000,
        "department_ids[1].is_primary",
    )
    assert_error(
        admin.post(
            f"{EMP}/create",
            {"name": "T", "mobile": mobile(), "department_ids": [{"department_id": "7412345678901234567"}]},
        ),
        404,
        120200001,
        "department_ids[0].department_id",
    )
    assert_error(
        admin.post(
            f"{EMP}/create",
            {
                "name": "T",
                "mobile": mobile(),
                "department_ids": [{"department_id": eng["id"]}],
                "create_account": 1,
            },
        ),
        400,
        120000000,
        "email",
    )
    assert Employee.select().count() == before

    lee = person(admin, "Lee", eng["id"], employee_no="E-7")
    listed = admin.post(f"{EMP}/list", {"corp_id": acme["id"], "department_id": eng["id"]}).json()
    assert (listed["total"], [e["name"] for e in listed["data"]]) == (2, ["Dana", "Lee"])
    assert [
        e["name"] for e in admin.post(f"{EMP}/list", {"corp_id": acme["id"], "keyword": "E-7"}).json()["data"]
    ] == ["Lee"]

    moved = data(
        admin.put(
            f"{EMP}/{lee['id']}/department",
            {"departments": [{"department_id": ops["id"], "job_title": "Lead"}]},
        )
    )
    assert [(d["department_name"], d["is_primary"]) for d in moved["departments"]] == [("Ops", True)]
    data(admin.put(f"{DEPT}/{ops['id']}", {"leader_id": dana["id"]}))
    assert Department.by_id(int(ops["id"])).leader_id == int(dana["id"])

    # resigning disables the login and ends leadership; placements stay as the record
    resigned = data(admin.put(f"{EMP}/{dana['id']}/resign", {"reason": "moving"}))
    assert (resigned["status"], resigned["resign_reason"], resigned["resigned_at"] > 0) == (2, "moving", True)
    assert len(resigned["departments"]) == 2
    assert User.by_id(account.id).is_disabled is True
    assert Department.by_id(int(ops["id"])).leader_id is None
    login = client.post("/api/passport/web/email/login/", json={"email": email, "password": PASSWORD})
    assert login.status_code != 200
    client.cookies.clear()
    assert_error(admin.put(f"{EMP}/{dana['id']}/resign", {}), 409, 120300004, "already resigned")
    assert_error(
        admin.put(f"{EMP}/{dana['id']}/department", {"departments": [{"department_id": eng["id"]}]}),
        409,
        120300004,
    )
    employed = admin.post(f"{EMP}/list", {"corp_id": acme["id"], "status": 1}).json()["data"]
    assert [e["name"] for e in employed] == ["Lee"]
    assert data(admin.get(f"{DEPT}/{ops['id']}"))["employee_count"] == 1

    restored = data(admin.put(f"{EMP}/{dana['id']}/restore", {"departments": [{"department_id": eng["id"]}]}))
    assert (
        restored["status"],
        restored["resigned_at"],
        [d["department_name"] for d in restored["departments"]],
    ) == (
        1,
        0,
        ["Engineering"],
    )
    assert User.by_id(account.id).is_disabled is False
    assert_error(
        admin.put(f"{EMP}/{dana['id']}/restore", {"departments": [{"department_id": eng["id"]}]}),
        409,
        120300004,
    )

    # PUT changes only what it is sent; status 2 resigns, 1 restores to the placements kept
    updated = data(admin.put(f"{EMP}/{lee['id']}", {"nickname": "L", "status": 2}))
    assert (updated["nickname"], updated["name"], updated["status"]) == ("L", "Lee", 2)
    again = data(admin.put(f"{EMP}/{lee['id']}", {"status": 1}))
    assert (again["status"], [d["department_name"] for d in again["departments"]]) == (1, ["Ops"])
    assert_error(admin.put(f"{EMP}/{lee['id']}", {"mobile": dana["mobile"]}), 409, 120300002)

    assert data(admin.delete(f"{EMP}/{dana['id']}")) is None
    assert Employee.by_id(int(dana["id"])) is None
    assert not EmployeeDepartment.select().where(EmployeeDepartment.employee_id == int(dana["id"])).exists()
    assert User.by_id(account.id).is_disabled is True
    assert_error(admin.get(f"{EMP}/{dana['id']}"), 404, 120300001)


def test_a_disabled_department_takes_no_one(admin):
    acme = corp(admin, "Closed Co")
    shut = dept(admin, acme["id"], "Closed")
    data(admin.put(f"{DEPT}/{shut['id']}", {"status": 2}))
    assert_error(
        admin.post(
            f"{EMP}/create",
            {"name": "N", "mobile": mobile(), "department_ids": [{"department_id": shut["id"]}]},
        ),
        400,
        120000000,
        "disabled",
    )


def test_the_organisation_chart(admin):
    group = corp(admin, "Chart Group", corp_type=1)
    company = corp(admin, "Chart Company", parent_id=group["id"])
    eng = dept(admin, company["id"], "Eng")
    web = dept(admin, company["id"], "Web", parent_id=eng["id"])
    person(admin, "A", eng["id"])
    person(admin, "B", web["id"])
    gone = person(admin, "C", web["id"])
    data(admin.put(f"{EMP}/{gone['id']}/resign", {}))

    [root] = data(admin.post(f"{V1}/organization/tree", {"corp_id": group["id"]}))
    assert (root["node_type"], root["name"], root["employee_count"]) == ("corporation", "Chart Group", 0)
    [child] = root["children"]
    assert (child["name"], child["employee_count"]) == ("Chart Company", 2)
    [eng_node] = child["children"]
    assert (eng_node["node_type"], eng_node["employee_count"], eng_node["parent_id"]) == (
        "department",
        1,
        company["id"],
    )
    assert [(n["name"], n["employee_count"], n["level"]) for n in eng_node["children"]] == [("Web", 1, 2)]

    shallow = data(admin.post(f"{V1}/organization/tree", {"corp_id": group["id"], "depth": 2}))
    assert shallow[0]["children"][0]["children"] == []
    no_departments = data(
        admin.post(f"{V1}/organization/tree", {"corp_id": group["id"], "include_departments": False})
    )
    assert no_departments[0]["children"][0]["children"] == []
    everything = data(admin.post(f"{V1}/organization/tree", {}))
    assert group["id"] in {n["id"] for n in everything} and company["id"] not in {n["id"] for n in everything}


def test_only_roles_that_grant_the_cells_reach_the_chart(admin, alice):
    acme = corp(admin, "Guarded Co")
    eng = dept(admin, acme["id"], "Eng")
    lee = person(admin, "Guarded Lee", eng["id"])
    for response, cell in (
        (alice.post(f"{CORP}/create", {"name": "Mine"}), "organization:create"),
        (alice.get(f"{CORP}/{acme['id']}"), "organization:read"),
        (alice.get(f"{CORP}/7412345678901234567"), "organization:read"),  # unknown ids alike
        (alice.post(f"{CORP}/list", {}), "organization:read"),
        (alice.post(f"{V1}/organization/tree", {}), "organization:read"),
        (alice.put(f"{DEPT}/{eng['id']}", {"name": "Hacked"}), "department:update"),
        (alice.post(f"{EMP}/list", {"corp_id": acme["id"]}), "employee:read"),
        (alice.delete(f"{EMP}/{lee['id']}"), "employee:delete"),
    ):
        assert_error(response, 403, 108000006, cell)
    assert Department.by_id(int(eng["id"])).name == "Eng"
    assert Employee.by_id(int(lee["id"])) is not None

    # an HR role: employees and reading departments, but no accounts and no organisations
    cells = {"employee": ["create", "read", "update"], "department": ["read"]}
    role = data(
        admin.post(
            "/api/permission_api/role/create",
            {
                "role_code": f"hr_{alice.user_id[-6:]}",
                "role_name": "HR",
                "role_domain": "global",
                "permissions": [
                    {
                        "resources": [
                            {"resource": r, "actions": [{"action": a} for a in acts]}
                            for r, acts in cells.items()
                        ]
                    }
                ],
            },
        )
    )
    data(
        admin.post(
            "/api/permission_api/user/assign_roles", {"user_id": alice.user_id, "role_ids": [role["id"]]}
        )
    )
    hired = data(
        alice.post(
            f"{EMP}/create",
            {"name": "Hired", "mobile": mobile(), "department_ids": [{"department_id": eng["id"]}]},
        )
    )
    assert Employee.by_id(int(hired["id"])).creator_id == int(alice.user_id)
    assert [e["name"] for e in alice.post(f"{EMP}/list", {"corp_id": acme["id"]}).json()["data"]] == [
        "Guarded Lee",
        "Hired",
    ]
    before = Employee.select().count()
    assert_error(
        alice.post(
            f"{EMP}/create",
            {
                "name": "With login",
                "mobile": mobile(),
                "email": new_email("login"),
                "password": PASSWORD,
                "create_account": 1,
                "department_ids": [{"department_id": eng["id"]}],
            },
        ),
        403,
        108000006,
        "user:create",
    )
    assert Employee.select().count() == before
    assert_error(alice.delete(f"{EMP}/{hired['id']}"), 403, 108000006, "employee:delete")
    assert_error(alice.post(f"{CORP}/create", {"name": "Mine"}), 403, 108000006, "organization:create")


def test_an_avatar_is_one_of_the_callers_uploads(admin, alice):
    from test_chat import PNG
    from test_knowledge import upload

    acme = corp(admin, "Faces Co")
    eng = dept(admin, acme["id"], "Eng")
    theirs, mine = upload(alice, "a.png", PNG), upload(admin, "b.png", PNG)
    before = Employee.select().count()
    body = {"name": "Face", "mobile": mobile(), "department_ids": [{"department_id": eng["id"]}]}
    assert_error(
        admin.post(f"{EMP}/create", {**body, "avatar": f"file:{theirs}"}), 404, 104000009, "avatar", theirs
    )
    assert Employee.select().count() == before
    face = data(admin.post(f"{EMP}/create", {**body, "avatar": f"file:{mine}"}))
    assert face["avatar"] == f"file:{mine}" and f"/{mine}" in face["avatar_url"]
    assert_error(admin.put(f"{EMP}/{face['id']}", {"avatar": f"file:{theirs}"}), 404, 104000009, theirs)
    assert Employee.by_id(int(face["id"])).avatar == f"file:{mine}"
