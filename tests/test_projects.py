"""Projects (apps): create, change, list with the agents, delete with what was made in them; and
the variables a project's workflows share, defined in Coze's project-memory shape and held per
end user through the console and the Open API."""

from __future__ import annotations

import pytest
from conftest import assert_error, register
from test_chat import new_agent
from test_memory import make_table, space_of, table_names

from models.knowledge import Dataset
from models.memory import MemoryDatabase, VariableValue
from models.project import Project

VARIABLES = [
    {"Keyword": "region", "DefaultValue": "EU", "Channel": 5, "Description": "Where orders ship"},
    {"Keyword": "tier", "Channel": 5, "Enable": True},
    {"Keyword": "fixed", "DefaultValue": "v1", "Channel": 5, "IsReadOnly": True},
    {"Keyword": "sys_uuid", "Channel": 2},
]


def make_project(account, name="Order desk", **extra) -> str:
    body = {"space_id": space_of(account), "name": name, **extra}
    response = account.post("/api/intelligence_api/draft_project/create", body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["audit_data"]["check_not_pass"] is False
    return data["project_id"]


def info(account, project_id, kind=2) -> dict:
    body = {"intelligence_id": project_id, "intelligence_type": kind}
    response = account.post("/api/intelligence_api/search/get_draft_intelligence_info", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def define(account, project_id, variables=VARIABLES):
    return account.post(
        "/api/memory/project/variable/meta_update", {"ProjectID": project_id, "VariableList": variables}
    )


def listed(account, **body) -> list[tuple[int, str]]:
    response = account.post(
        "/api/intelligence_api/search/get_draft_intelligence_list", {"space_id": space_of(account), **body}
    )
    assert response.status_code == 200, response.text
    return [(i["type"], i["basic_info"]["name"]) for i in response.json()["data"]["intelligences"]]


class TestProjects:
    def test_create_change_and_read(self, alice):
        project_id = make_project(alice, description="Orders")
        stored = Project.get_by_id(int(project_id))
        assert (stored.name, stored.description, stored.creator_id) == (
            "Order desk",
            "Orders",
            int(alice.user_id),
        )
        response = alice.post(
            "/api/intelligence_api/draft_project/update", {"project_id": project_id, "name": "Order desk EU"}
        )
        assert response.status_code == 200, response.text
        data = info(alice, project_id)
        assert data["intelligence_type"] == 2
        assert data["basic_info"]["name"] == "Order desk EU" and data["basic_info"]["description"] == "Orders"
        assert data["owner_info"]["user_id"] == alice.user_id
        assert Project.get_by_id(int(project_id)).name == "Order desk EU"

    def test_the_intelligence_list_holds_projects_and_agents(self, alice):
        new_agent(alice, name="Helper", publish=False)
        make_project(alice, "Older app")
        make_project(alice, "Newer app")
        assert listed(alice, types=[2]) == [(2, "Newer app"), (2, "Older app")]
        both = listed(alice, types=[1, 2], order_by=1)
        assert [name for _, name in both] == ["Newer app", "Older app", "Helper"]
        assert listed(alice, types=[1, 2], order_by=1, size=1, cursor_id="1") == [(2, "Older app")]
        assert listed(alice, types=[1, 2], has_published=True) == []
        assert listed(alice) == [(1, "Helper")]  # agents, unless projects are asked for

    def test_bad_input_and_other_peoples_projects(self, alice, client):
        assert_error(
            alice.post(
                "/api/intelligence_api/draft_project/create", {"space_id": space_of(alice), "name": ""}
            ),
            400,
            101000000,
            "name",
        )
        project_id = make_project(alice)
        bob = register(client)
        for path, body in [
            ("/api/intelligence_api/draft_project/update", {"project_id": project_id, "name": "mine"}),
            ("/api/intelligence_api/draft_project/delete", {"project_id": project_id}),
            ("/api/intelligence_api/search/get_draft_intelligence_info", {"intelligence_id": project_id}),
        ]:
            assert_error(bob.post(path, body), 404, 101000002, project_id)
        assert Project.get_by_id(int(project_id)).name == "Order desk"

    def test_tables_and_knowledge_made_in_a_project(self, alice, client):
        project_id = make_project(alice)
        table = make_table(alice, "orders", project_id=project_id)
        make_table(alice, "elsewhere")
        assert MemoryDatabase.get_by_id(int(table["id"])).project_id == int(project_id)
        assert table["project_id"] == project_id
        response = alice.post(
            "/api/memory/database/list",
            {"space_id": space_of(alice), "project_id": project_id, "table_type": 1},
        )
        assert [t["table_name"] for t in response.json()["data"]["database_info_list"]] == ["orders"]
        kb = alice.post(
            "/api/knowledge/create",
            {"name": "manuals", "space_id": space_of(alice), "project_id": project_id},
        )
        assert kb.status_code == 200, kb.text
        # a project of another space is not one to make things in
        bob = register(client)
        theirs = make_project(bob)
        body = {"space_id": space_of(alice), "table_name": "x", "field_list": [{"name": "a", "type": 1}]}
        assert_error(
            alice.post("/api/memory/database/add", {**body, "project_id": theirs}),
            404,
            101000002,
            "project_id",
        )

    def test_delete_takes_what_was_made_in_it(self, alice):
        project_id = make_project(alice)
        table = make_table(alice, "orders", project_id=project_id)
        kept = make_table(alice, "kept")
        kb = alice.post(
            "/api/knowledge/create",
            {"name": "manuals", "space_id": space_of(alice), "project_id": project_id},
        ).json()["data"]["dataset_id"]
        assert define(alice, project_id).status_code == 200
        alice.post(
            "/api/memory/variable/upsert",
            {"project_id": project_id, "data": [{"keyword": "region", "value": "US"}]},
        )
        assert VariableValue.select().where(VariableValue.project == int(project_id)).count() == 1
        response = alice.post("/api/intelligence_api/draft_project/delete", {"project_id": project_id})
        assert response.status_code == 200, response.text
        assert Project.get_or_none(Project.id == int(project_id)) is None
        assert MemoryDatabase.get_or_none(MemoryDatabase.id == int(table["id"])) is None
        assert f"memory_rows_{table['id']}_draft" not in table_names()
        assert f"memory_rows_{kept['id']}_draft" in table_names()
        assert Dataset.get_or_none(Dataset.id == int(kb)) is None
        assert VariableValue.select().where(VariableValue.project == int(project_id)).count() == 0


class TestProjectVariables:
    def test_define_and_read_the_definitions(self, alice):
        project_id = make_project(alice)
        response = define(alice, project_id)
        assert response.status_code == 200 and response.json()["code"] == 0, response.text
        meta = alice.get(f"/api/memory/project/variable/meta_list?ProjectID={project_id}").json()
        assert [v["Keyword"] for v in meta["VariableList"]] == ["region", "tier", "fixed", "sys_uuid"]
        region = meta["VariableList"][0]
        assert (region["DefaultValue"], region["Channel"], region["IsReadOnly"]) == ("EU", 5, False)
        assert meta["VariableList"][3]["IsReadOnly"] is True and meta["CanEdit"] is True
        groups = {g["GroupName"]: [v["Keyword"] for v in g["VarInfoList"]] for g in meta["GroupConf"]}
        assert groups == {"App variables": ["region", "tier", "fixed"], "System variables": ["sys_uuid"]}
        by_channel = alice.post(
            "/api/memory/variable/get_meta", {"ConnectorID": project_id, "ConnectorType": 2}
        ).json()["data"]["VariableMap"]
        assert [v["Keyword"] for v in by_channel["5"]] == ["region", "tier", "fixed"]
        assert [v["Keyword"] for v in by_channel["2"]] == ["sys_uuid"]

    @pytest.mark.parametrize(
        "variables, fragment",
        [
            ([{"Keyword": "a"}, {"Keyword": "A"}], "VariableList[1].Keyword: A is defined twice"),
            ([{"Keyword": "sys_mine"}], "VariableList[0].Keyword: names starting with sys_"),
            ([{"Keyword": "1x"}], "VariableList[0].Keyword"),
            ([{"Keyword": "sys_nothing", "Channel": 2}], "system variables are"),
        ],
    )
    def test_bad_definitions_change_nothing(self, alice, variables, fragment):
        project_id = make_project(alice)
        define(alice, project_id)
        assert_error(define(alice, project_id, variables), 400, 101000000, fragment)
        stored = Project.get_by_id(int(project_id)).config["variable_list"]
        assert [v["key"] for v in stored] == ["region", "tier", "fixed", "sys_uuid"]

    def test_end_users_hold_their_own_values(self, alice, client):
        project_id = make_project(alice)
        define(alice, project_id)
        upsert = {"project_id": project_id, "data": [{"keyword": "region", "value": "US"}]}
        assert alice.post("/api/memory/variable/upsert", upsert).status_code == 200
        got = alice.post("/api/memory/variable/get", {"project_id": project_id}).json()["data"]["memories"]
        assert {m["keyword"]: m["value"] for m in got} == {
            "region": "US",
            "tier": "",
            "fixed": "v1",
            "sys_uuid": alice.user_id,
        }
        # the Open API: per end user, by app_id
        put = {"app_id": project_id, "connector_uid": "ann", "data": [{"keyword": "tier", "value": "gold"}]}
        assert alice.client.put("/v1/variables", json=put, headers=alice.headers).status_code == 200
        ann = alice.get(f"/v1/variables?app_id={project_id}&connector_uid=ann").json()["data"]["items"]
        assert {i["keyword"]: i["value"] for i in ann}["tier"] == "gold"
        ben = alice.get(f"/v1/variables?app_id={project_id}&connector_uid=ben").json()["data"]["items"]
        assert {i["keyword"]: i["value"] for i in ben}["tier"] == ""
        rows = VariableValue.select().where(VariableValue.project == int(project_id))
        assert {(r.connector_uid, r.keyword, r.value, r.bot_id) for r in rows} == {
            (alice.user_id, "region", "US", None),
            ("ann", "tier", "gold", None),
        }
        # read-only and unknown variables are refused, and change nothing
        for keyword in ("fixed", "sys_uuid", "nope"):
            body = {"project_id": project_id, "data": [{"keyword": keyword, "value": "x"}]}
            assert_error(alice.post("/api/memory/variable/upsert", body), 400, 106000013, keyword)
        assert rows.count() == 2
        # forgetting brings the default back
        alice.post("/api/memory/variable/delete", {"project_id": project_id, "keywords": ["region"]})
        got = alice.post("/api/memory/variable/get", {"project_id": project_id}).json()["data"]["memories"]
        assert {m["keyword"]: m["value"] for m in got}["region"] == "EU"
        bob = register(client)
        assert_error(bob.get(f"/v1/variables?app_id={project_id}&connector_uid=ann"), 404, 101000002)
        assert_error(
            bob.get(f"/api/memory/project/variable/meta_list?ProjectID={project_id}"),
            404,
            101000002,
            "ProjectID",
        )
        assert_error(define(bob, project_id), 404, 101000002, "ProjectID")
