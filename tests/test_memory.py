"""Memory databases through HTTP: schemas, rows with typed values, filters, limits, injection
attempts, and binding to agents."""

from __future__ import annotations

import json

import pytest
from conftest import assert_error, register

from models.db import db
from models.memory import MemoryDatabase, MemoryRowCount
from services.memory_rows import SYSTEM_FIELDS, row_model

SYSTEM_NAMES = list(SYSTEM_FIELDS)

FIELDS = [
    {"name": "item", "desc": "What was ordered", "type": 1, "must_required": True},
    {"name": "quantity", "type": 2},
    {"name": "delivered_at", "type": 3},
    {"name": "price", "type": 4},
    {"name": "paid", "type": 5},
]


def space_of(account) -> str:
    listed = account.post("/api/playground_api/space/list", {}).json()["data"]
    return listed["bot_space_list"][0]["id"]


def make_table(account, name="orders", fields=FIELDS, **extra) -> dict:
    body = {"space_id": space_of(account), "table_name": name, "field_list": fields, **extra}
    response = account.post("/api/memory/database/add", body)
    assert response.status_code == 200, response.text
    return response.json()["data"]["database_info"]


def add_rows(account, table_id, rows, table_type=1, **extra):
    return account.post(
        "/api/memory/database/update_records",
        {"database_id": table_id, "record_data_add": rows, "table_type": table_type, **extra},
    )


def list_rows(account, table_id, **body):
    response = account.post("/api/memory/database/list_records", {"database_id": table_id, **body})
    assert response.status_code == 200, response.text
    return response.json()


def stored_rows(table_id, table_type=1) -> list:
    database = MemoryDatabase.get_by_id(int(table_id))
    return list(row_model(database, table_type).select().dicts())


def table_names() -> set[str]:
    return set(db.get_tables())


ORDERS = [
    {
        "item": "Espresso cups",
        "quantity": "6",
        "delivered_at": "2026-11-30 10:00:00",
        "price": "12.5",
        "paid": "true",
    },
    {"item": "Milk jug", "quantity": "1", "delivered_at": "2026-12-01", "price": "8", "paid": "false"},
    {"item": "Tamper", "quantity": "2", "price": "30.25"},
]


class TestSchemas:
    def test_create_makes_both_copies_with_typed_columns(self, alice):
        table = make_table(alice, table_desc="Orders")
        assert table["table_name"] == "orders" and table["table_desc"] == "Orders" and table["rw_mode"] == 1
        assert [(f["name"], f["type"], f["id"]) for f in table["field_list"]] == [
            ("item", 1, 1),
            ("quantity", 2, 2),
            ("delivered_at", 3, 3),
            ("price", 4, 4),
            ("paid", 5, 5),
        ]
        assert table["field_list"][0]["must_required"] is True
        names = table_names()
        assert f"memory_rows_{table['id']}_draft" in names and f"memory_rows_{table['id']}_online" in names
        columns = {c.name for c in db.get_columns(f"memory_rows_{table['id']}_draft")}
        assert {"id", "created_at", "connector_uid", "connector_id", "f1", "f2", "f3", "f4", "f5"} == columns
        indexed = {i.columns[0] for i in db.get_indexes(f"memory_rows_{table['id']}_online")}
        assert {"f1", "f2", "f3", "f4", "f5", "connector_uid"} <= indexed

    @pytest.mark.parametrize(
        "change, status, code, fragment",
        [
            ({"table_name": "1orders"}, 400, 106000000, "table_name"),
            ({"table_name": "orders; DROP TABLE user"}, 400, 106000000, "table_name"),
            ({"field_list": [{"name": "a b", "type": 1}]}, 400, 106000000, "field_list[0].name"),
            ({"field_list": [{"name": "bstudio_id", "type": 2}]}, 400, 106000026, "system field"),
            ({"field_list": [{"name": "x", "type": 1}, {"name": "X", "type": 2}]}, 400, 106000026, "twice"),
            ({"field_list": [{"name": "x", "type": 9}]}, 400, 106000000, "field_list[0].type"),
            ({"field_list": []}, 400, 106000000, "field_list"),
            ({"field_list": [{"name": f"f{i}", "type": 1} for i in range(21)]}, 400, 106000000, "field_list"),
        ],
    )
    def test_bad_schemas_are_refused_and_make_nothing(self, alice, change, status, code, fragment):
        before = table_names()
        body = {"space_id": space_of(alice), "table_name": "orders", "field_list": FIELDS, **change}
        assert_error(alice.post("/api/memory/database/add", body), status, code, fragment)
        assert table_names() == before
        assert not MemoryDatabase.select().where(MemoryDatabase.creator == int(alice.user_id)).exists()

    def test_names_are_unique_in_a_space(self, alice):
        make_table(alice)
        body = {"space_id": space_of(alice), "table_name": "orders", "field_list": FIELDS}
        assert_error(alice.post("/api/memory/database/add", body), 409, 106000027, "orders")

    def test_update_renames_adds_and_drops_fields_keeping_values(self, alice):
        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS[:1])
        fields = [
            {"id": 1, "name": "product", "type": 1, "must_required": True},
            {"id": 2, "name": "quantity", "type": 2},
            {"name": "note", "type": 1},
        ]
        response = alice.post("/api/memory/database/update", {"id": table["id"], "field_list": fields})
        assert response.status_code == 200, response.text
        updated = response.json()["data"]["database_info"]
        assert [(f["name"], f["id"]) for f in updated["field_list"]] == [
            ("product", 1),
            ("quantity", 2),
            ("note", 6),
        ]
        [row] = list_rows(alice, table["id"])["data"]
        assert row["product"] == "Espresso cups" and row["quantity"] == "6" and row["note"] == ""
        assert "price" not in row and "item" not in row
        columns = {c.name for c in db.get_columns(f"memory_rows_{table['id']}_online")}
        assert {"f1", "f2", "f6"} <= columns and not {"f3", "f4", "f5"} & columns

    def test_a_field_keeps_its_type(self, alice):
        table = make_table(alice)
        fields = [{"id": 2, "name": "quantity", "type": 1}]
        assert_error(
            alice.post("/api/memory/database/update", {"id": table["id"], "field_list": fields}),
            409,
            106000029,
            "field_list[0].type",
        )
        assert MemoryDatabase.get_by_id(int(table["id"])).fields[1]["type"] == 2

    def test_get_list_and_delete(self, alice):
        table = make_table(alice)
        make_table(alice, name="customers", fields=[{"name": "email", "type": 1}])
        add_rows(alice, table["id"], ORDERS)
        got = alice.post(
            "/api/memory/database/get_by_id", {"id": table["id"], "need_sys_fields": True}
        ).json()
        info = got["data"]["database_info"]
        assert info["draft_row_count"] == 3 and info["online_row_count"] == 0
        assert [f["name"] for f in info["field_list"] if f["is_system_field"]] == [
            "bstudio_id",
            "bstudio_create_time",
            "bstudio_connector_uid",
            "bstudio_connector_id",
        ]
        listed = alice.post(
            "/api/memory/database/list", {"space_id": space_of(alice), "table_type": 1, "limit": 1}
        ).json()["data"]
        assert listed["total_count"] == 2 and listed["has_more"] is True
        assert [d["table_name"] for d in listed["database_info_list"]] == ["customers"]
        named = alice.post(
            "/api/memory/database/list", {"space_id": space_of(alice), "table_type": 1, "table_name": "ord"}
        ).json()["data"]
        assert [d["table_name"] for d in named["database_info_list"]] == ["orders"]
        assert alice.post("/api/memory/database/delete", {"id": table["id"]}).status_code == 200
        assert f"memory_rows_{table['id']}_draft" not in table_names()
        assert_error(alice.post("/api/memory/database/get_by_id", {"id": table["id"]}), 404, 106000017)

    def test_another_users_table_is_not_found(self, alice, bob):
        table = make_table(alice)
        for path, body in [
            ("/api/memory/database/get_by_id", {"id": table["id"]}),
            ("/api/memory/database/update", {"id": table["id"], "table_desc": "mine"}),
            ("/api/memory/database/delete", {"id": table["id"]}),
            ("/api/memory/database/list_records", {"database_id": table["id"]}),
            ("/api/memory/database/update_records", {"database_id": table["id"], "record_data_add": ORDERS}),
        ]:
            assert_error(bob.post(path, body), 404, 106000017, table["id"])
        assert stored_rows(table["id"]) == []
        assert MemoryDatabase.get_by_id(int(table["id"])).description == ""


class TestRows:
    def test_values_are_typed_and_read_back_as_strings(self, alice):
        table = make_table(alice)
        response = add_rows(alice, table["id"], ORDERS)
        assert response.status_code == 200, response.text
        added = response.json()["data"]
        assert len(added) == 3 and all(r["bstudio_id"].isdigit() for r in added)
        listed = list_rows(alice, table["id"], order_by_list=[{"field": "quantity", "direction": 2}])
        assert listed["TotalNum"] == 3 and listed["HasMore"] is False
        first = listed["data"][0]
        assert first["item"] == "Espresso cups" and first["quantity"] == "6" and first["price"] == "12.5"
        assert first["paid"] == "true" and first["delivered_at"] == "2026-11-30 10:00:00"
        assert first["bstudio_connector_uid"] == alice.user_id and first["bstudio_connector_id"] == "10000010"
        second = listed["data"][1]
        assert second["delivered_at"] == "" and second["paid"] == ""  # the tamper's row: not given
        assert listed["data"][2]["delivered_at"] == "2026-12-01 00:00:00"
        rows = {r["f1"]: r for r in stored_rows(table["id"])}
        assert rows["Espresso cups"]["f2"] == 6 and rows["Espresso cups"]["f4"] == 12.5
        assert rows["Espresso cups"]["f5"] in (True, 1) and rows["Tamper"]["f3"] is None
        assert {f["name"] for f in listed["field_list"]} >= {"item", "bstudio_id"}

    @pytest.mark.parametrize(
        "row, fragment",
        [
            ({"item": "x", "quantity": "six"}, "record_data_add[1].quantity: must be an integer"),
            ({"item": "x", "quantity": "99999999999999999999"}, "record_data_add[1].quantity"),
            ({"item": "x", "price": "NaN"}, "record_data_add[1].price: must be a number"),
            ({"item": "x", "paid": "yes"}, "record_data_add[1].paid: must be true or false"),
            ({"item": "x", "delivered_at": "yesterday"}, "record_data_add[1].delivered_at: must be a time"),
            ({"quantity": "1"}, "record_data_add[1].item: is required"),
            ({"item": "x", "colour": "red"}, "record_data_add[1]: no field 'colour'"),
        ],
    )
    def test_a_bad_value_names_row_and_field_and_changes_nothing(self, alice, row, fragment):
        table = make_table(alice)
        code = 106000028 if "no field" in fragment else 106000030
        assert_error(add_rows(alice, table["id"], [ORDERS[0], row]), 400, code, fragment)
        assert stored_rows(table["id"]) == []

    def test_filters_sort_and_pages(self, alice):
        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS)

        def items(criterion=None, **body):
            listed = list_rows(alice, table["id"], filter_criterion=criterion, **body)
            return sorted(r["item"] for r in listed["data"])

        def where(left, operation, right=None):
            return {"conditions": [{"left": left, "operation": operation, "right": right}], "logic": "AND"}

        assert items(where("quantity", 5, "2")) == ["Espresso cups", "Tamper"]
        assert items(where("price", 4, "10")) == ["Milk jug"]
        assert items(where("paid", 1, "false")) == ["Milk jug"]
        assert items(where("delivered_at", 3, "2026-11-30 12:00:00")) == ["Milk jug"]
        assert items(where("item", 7, '["Tamper", "Milk jug"]')) == ["Milk jug", "Tamper"]
        assert items(where("item", 11, "CUP")) == ["Espresso cups"]
        assert items(where("item", 12, "cup")) == ["Milk jug", "Tamper"]
        assert items(where("paid", 9)) == ["Tamper"]
        assert items(where("item", 11, "%")) == []  # wildcards are literal
        either = {
            "conditions": [{"left": "quantity", "operation": 1, "right": "1"}],
            "nestedConditions": {"conditions": [{"left": "price", "operation": 3, "right": "20"}]},
            "logic": "OR",
        }
        assert items(either) == ["Milk jug", "Tamper"]
        page = list_rows(
            alice, table["id"], limit=2, offset=0, order_by_list=[{"field": "price", "direction": 1}]
        )
        assert [r["item"] for r in page["data"]] == ["Milk jug", "Espresso cups"]
        assert page["HasMore"] is True and page["TotalNum"] == 3
        rest = list_rows(
            alice, table["id"], limit=2, offset=2, order_by_list=[{"field": "price", "direction": 1}]
        )
        assert [r["item"] for r in rest["data"]] == ["Tamper"] and rest["HasMore"] is False
        assert rest["TotalNum"] == 3  # told by the last page, without counting
        beyond = list_rows(alice, table["id"], limit=2, offset=5)
        assert beyond["data"] == [] and beyond["TotalNum"] == 3 and beyond["HasMore"] is False
        filtered = list_rows(alice, table["id"], limit=1, filter_criterion=where("price", 3, "9"))
        assert filtered["TotalNum"] == 2 and filtered["HasMore"] is True

    @pytest.mark.parametrize(
        "body, code, fragment",
        [
            (
                {"filter_criterion": {"conditions": [{"left": "1=1 --", "operation": 1, "right": "x"}]}},
                106000028,
                "left",
            ),
            (
                {
                    "filter_criterion": {
                        "conditions": [{"left": "quantity", "operation": 1, "right": "1 OR 1=1"}]
                    }
                },
                106000030,
                "must be an integer",
            ),
            (
                {"filter_criterion": {"conditions": [{"left": "item", "operation": 7, "right": "x"}]}},
                106000031,
                "JSON array",
            ),
            (
                {"filter_criterion": {"conditions": [{"left": "quantity", "operation": 11, "right": "1"}]}},
                106000031,
                "text fields only",
            ),
            (
                {"filter_criterion": {"conditions": [{"left": "quantity", "operation": 1}]}},
                106000031,
                "IS_NULL",
            ),
            (
                {"order_by_list": [{"field": "price; DROP TABLE user", "direction": 1}]},
                106000028,
                "order_by_list[0].field",
            ),
        ],
    )
    def test_injection_attempts_and_bad_filters_are_refused(self, alice, body, code, fragment):
        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS)
        response = alice.post("/api/memory/database/list_records", {"database_id": table["id"], **body})
        assert_error(response, 400, code, fragment)
        assert len(stored_rows(table["id"])) == 3 and "user" in table_names()

    def test_a_value_that_looks_like_sql_is_only_a_value(self, alice):
        table = make_table(alice)
        sneaky = "x'); DROP TABLE user; --"
        assert add_rows(alice, table["id"], [{"item": sneaky}]).status_code == 200
        equal = {"conditions": [{"left": "item", "operation": 1, "right": sneaky}]}
        assert [r["item"] for r in list_rows(alice, table["id"], filter_criterion=equal)["data"]] == [sneaky]
        also = {"conditions": [{"left": "item", "operation": 1, "right": "' OR '1'='1"}]}
        assert list_rows(alice, table["id"], filter_criterion=also)["data"] == []
        assert "user" in table_names()

    def test_alter_and_delete_by_row_id(self, alice):
        table = make_table(alice)
        added = add_rows(alice, table["id"], ORDERS).json()["data"]
        cups, jug = added[0]["bstudio_id"], added[1]["bstudio_id"]
        response = alice.post(
            "/api/memory/database/update_records",
            {
                "database_id": table["id"],
                "record_data_alter": [{"bstudio_id": cups, "quantity": "7"}],
                "record_data_delete": [{"bstudio_id": jug}],
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"][0]["quantity"] == "7"
        assert sorted(r["f2"] for r in stored_rows(table["id"])) == [2, 7]
        missing = {"database_id": table["id"], "record_data_alter": [{"bstudio_id": "123", "quantity": "1"}]}
        assert_error(
            alice.post("/api/memory/database/update_records", missing), 404, 106000033, "record_data_alter[0]"
        )
        no_id = {"database_id": table["id"], "record_data_delete": [{"item": "Tamper"}]}
        assert_error(alice.post("/api/memory/database/update_records", no_id), 400, 106000030, "bstudio_id")
        assert len(stored_rows(table["id"])) == 2

    def test_batches_and_the_row_limit(self, alice, settings_override):
        table = make_table(alice)
        too_many = [{"item": str(i)} for i in range(101)]
        assert_error(add_rows(alice, table["id"], too_many), 400, 106000000, "record_data_add")
        settings_override(memory_max_rows=3)
        assert add_rows(alice, table["id"], ORDERS[:2]).status_code == 200
        assert_error(add_rows(alice, table["id"], ORDERS[:2]), 409, 106000032, "at most 3 rows")
        assert len(stored_rows(table["id"])) == 2

    def test_the_kept_row_count_follows_every_change(self, alice, settings_override):
        table = make_table(alice)

        def kept(table_type=1) -> int:
            found = MemoryRowCount.get_or_none(database=int(table["id"]), copy=table_type)
            return found.rows

        assert (kept(1), kept(2)) == (0, 0)
        added = add_rows(alice, table["id"], [{"item": str(i)} for i in range(5)]).json()["data"]
        assert kept() == len(stored_rows(table["id"])) == 5
        gone = [{"bstudio_id": row["bstudio_id"]} for row in added[:2]]
        body = {"database_id": table["id"], "record_data_delete": gone, "record_data_add": [{"item": "x"}]}
        assert alice.post("/api/memory/database/update_records", body).status_code == 200
        assert kept() == len(stored_rows(table["id"])) == 4
        settings_override(memory_max_rows=5)
        assert_error(add_rows(alice, table["id"], ORDERS[:2]), 409, 106000032, "holds 4 of at most 5 rows")
        assert kept() == len(stored_rows(table["id"])) == 4
        alice.post("/api/memory/database/table/reset", {"database_info_id": table["id"], "table_type": 1})
        assert (kept(1), kept(2)) == (0, 0) and stored_rows(table["id"]) == []
        alice.post("/api/memory/database/delete", {"id": table["id"]})
        assert not MemoryRowCount.select().where(MemoryRowCount.database == int(table["id"])).exists()

    def test_copies_are_apart_and_reset_empties_one(self, alice):
        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS, table_type=1)
        add_rows(alice, table["id"], ORDERS[:1], table_type=2)
        assert list_rows(alice, table["id"], table_type=2)["TotalNum"] == 1
        response = alice.post(
            "/api/memory/database/table/reset", {"database_info_id": table["id"], "table_type": 1}
        )
        assert response.status_code == 200, response.text
        assert stored_rows(table["id"], 1) == [] and len(stored_rows(table["id"], 2)) == 1

    def test_rows_of_each_end_user_in_a_per_user_table(self, client, alice):
        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS[:1])
        model = row_model(MemoryDatabase.get_by_id(int(table["id"])), 1)
        model.insert(
            id=1, created_at="2026-12-01 00:00:00", connector_uid="end-user-2", connector_id=1024, f1="Theirs"
        ).execute()
        assert [r["item"] for r in list_rows(alice, table["id"])["data"]] == ["Espresso cups"]
        everyone = list_rows(alice, table["id"], not_filter_by_user_id=True, not_filter_by_connector_id=True)
        assert sorted(r["item"] for r in everyone["data"]) == ["Espresso cups", "Theirs"]
        shared = make_table(alice, name="notes", fields=[{"name": "text", "type": 1}], rw_mode=3)
        model = row_model(MemoryDatabase.get_by_id(int(shared["id"])), 1)
        model.insert(
            id=2, created_at="2026-12-01 00:00:00", connector_uid="end-user-2", connector_id=1024, f1="Shared"
        ).execute()
        assert [r["text"] for r in list_rows(alice, shared["id"])["data"]] == ["Shared"]
        response = alice.post(
            "/api/memory/database/table/reset",
            {"table_id": table["id"], "table_type": 1, "connector_uid": "end-user-2", "connector_id": "1024"},
        )
        assert response.status_code == 200
        assert [r["f1"] for r in stored_rows(table["id"])] == ["Espresso cups"]


class TestBinding:
    def test_bind_list_switch_and_unbind(self, alice):
        from test_chat import new_agent

        bot_id = new_agent(alice)
        table = make_table(alice)
        binding = {"database_id": table["id"], "bot_id": bot_id}
        assert alice.post("/api/memory/database/bind_to_bot", binding).status_code == 200
        assert_error(alice.post("/api/memory/database/bind_to_bot", binding), 409, 100000011)
        info = alice.post("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}).json()[
            "data"
        ]
        [entry] = info["bot_info"]["database_list"]
        assert entry["table_id"] == table["id"] and entry["table_name"] == "orders"
        listed = alice.post("/api/memory/database/table/list_new", {"bot_id": bot_id}).json()["data"]
        assert [t["id"] for t in listed["bot_table_list"]] == [table["id"]]
        assert listed["bot_table_list"][0]["is_added_to_bot"] is True
        by_bot = alice.post(
            "/api/memory/database/list", {"space_id": space_of(alice), "table_type": 1, "bot_id": bot_id}
        ).json()["data"]
        assert [d["id"] for d in by_bot["database_info_list"]] == [table["id"]]
        switch = {**binding, "prompt_disable": True}
        assert alice.post("/api/memory/database/update_bot_switch", switch).status_code == 200
        info = alice.post("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}).json()[
            "data"
        ]
        assert info["bot_info"]["database_list"][0]["prompt_disabled"] is True
        assert alice.post("/api/memory/database/unbind_to_bot", binding).status_code == 200
        assert_error(alice.post("/api/memory/database/unbind_to_bot", binding), 409, 106000035)
        info = alice.post("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}).json()[
            "data"
        ]
        assert info["bot_info"]["database_list"] == []

    def test_deleting_a_table_unbinds_it(self, alice):
        from test_chat import new_agent

        bot_id = new_agent(alice)
        table = make_table(alice)
        alice.post("/api/memory/database/bind_to_bot", {"database_id": table["id"], "bot_id": bot_id})
        alice.post("/api/memory/database/delete", {"id": table["id"]})
        info = alice.post("/api/playground_api/draftbot/get_draft_bot_info", {"bot_id": bot_id}).json()[
            "data"
        ]
        assert info["bot_info"]["database_list"] == []

    def test_a_table_of_another_space_cannot_be_bound(self, client, alice):
        from test_chat import new_agent

        bob = register(client)
        bot_id = new_agent(alice)
        theirs = make_table(bob)
        assert_error(
            alice.post("/api/memory/database/bind_to_bot", {"database_id": theirs["id"], "bot_id": bot_id}),
            404,
            106000017,
        )
        update = {"bot_info": {"bot_id": bot_id, "database_list": [{"table_id": theirs["id"]}]}}
        assert_error(
            alice.post("/api/playground_api/draftbot/update_draft_bot_info", update),
            404,
            106000017,
            "database_list",
        )


class TestAgentsUseTables:
    """The offline model's `/call <tool> <json>` path drives the tools, as a model's call would."""

    @staticmethod
    def agent_with_table(account, **table):
        from test_chat import new_agent

        bot_id = new_agent(account, publish=False)
        info = make_table(account, **table)
        bound = account.post(
            "/api/memory/database/bind_to_bot", {"database_id": info["id"], "bot_id": bot_id}
        )
        assert bound.status_code == 200, bound.text
        published = account.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]})
        assert published.status_code == 200, published.text
        return bot_id, info

    @staticmethod
    def tool_result(account, bot_id, call: str, user_id="end-user-1") -> str:
        from test_chat import messages_of, open_chat

        events = open_chat(account, bot_id, f"/call {call}", user_id=user_id)
        completed = messages_of(events, "conversation.message.completed")
        return next(m for m in completed if m["type"] == "tool_response")["content"]

    def test_end_users_insert_and_read_only_their_own_rows(self, alice):
        bot_id, table = self.agent_with_table(alice)
        insert = '{"table": "orders", "rows": [{"item": "Cups", "quantity": "2"}, {"item": "Jug"}]}'
        result = json.loads(self.tool_result(alice, bot_id, f"insert_database_rows {insert}", user_id="ann"))
        assert result["inserted"] == 2
        everyone = list_rows(
            alice, table["id"], table_type=2, not_filter_by_user_id=True, not_filter_by_connector_id=True
        )
        assert sorted(r["item"] for r in everyone["data"]) == ["Cups", "Jug"]
        assert {(r["bstudio_connector_uid"], r["bstudio_connector_id"]) for r in everyone["data"]} == {
            ("ann", "1024")
        }
        assert stored_rows(table["id"], 1) == []  # the published agent writes the online copy
        query = '{"table": "orders", "where": [{"field": "quantity", "op": ">=", "value": "2"}]}'
        mine = json.loads(self.tool_result(alice, bot_id, f"query_database {query}", user_id="ann"))
        assert [r["item"] for r in mine["rows"]] == ["Cups"] and mine["total"] == 1
        theirs = json.loads(
            self.tool_result(alice, bot_id, 'query_database {"table": "orders"}', user_id="ben")
        )
        assert theirs == {"rows": [], "total": 0}
        wiped = json.loads(
            self.tool_result(alice, bot_id, 'delete_database_rows {"table": "orders"}', user_id="ben")
        )
        assert wiped == {"deleted": 0} and len(stored_rows(table["id"], 2)) == 2
        change = json.dumps(
            {
                "table": "orders",
                "where": [{"field": "item", "op": "=", "value": "Jug"}],
                "values": {"quantity": "3"},
            }
        )
        assert json.loads(
            self.tool_result(alice, bot_id, f"update_database_rows {change}", user_id="ann")
        ) == {"updated": 1}
        assert sorted(r["f2"] or 0 for r in stored_rows(table["id"], 2)) == [2, 3]

    def test_shared_tables_are_shared_and_read_only_ones_refuse_writes(self, alice):
        bot_id, table = self.agent_with_table(alice, rw_mode=3)
        self.tool_result(
            alice, bot_id, 'insert_database_rows {"table": "orders", "rows": [{"item": "Cups"}]}', "ann"
        )
        seen = json.loads(
            self.tool_result(alice, bot_id, 'query_database {"table": "orders"}', user_id="ben")
        )
        assert [r["item"] for r in seen["rows"]] == ["Cups"]
        alice.post("/api/memory/database/update", {"id": table["id"], "rw_mode": 2})
        refused = self.tool_result(
            alice, bot_id, 'insert_database_rows {"table": "orders", "rows": [{"item": "X"}]}'
        )
        assert "read-only" in refused and len(stored_rows(table["id"], 2)) == 1

    def test_the_playground_uses_the_draft_copy_as_the_developer(self, alice):
        from test_chat import web_chat

        bot_id, table = self.agent_with_table(alice)
        events = web_chat(
            alice, bot_id, '/call insert_database_rows {"table": "orders", "rows": [{"item": "Mugs"}]}'
        )
        assert any('"inserted":1' in (data.get("message") or {}).get("content", "") for _, data in events)
        [row] = list_rows(alice, table["id"], table_type=1)["data"]  # the console's own rows
        assert row["item"] == "Mugs" and row["bstudio_connector_uid"] == alice.user_id
        assert stored_rows(table["id"], 2) == []

    @pytest.mark.parametrize(
        "call, fragment",
        [
            ('query_database {"table": "users"}', "no table named 'users'"),
            ('query_database {"table": "orders", "where": [{"field": "1=1; --", "op": "="}]}', "no field"),
            (
                'query_database {"table": "orders", "where": [{"field": "item", "op": "OR 1=1"}]}',
                "where[0].op",
            ),
            ('insert_database_rows {"table": "orders", "rows": [{"quantity": "lots"}]}', "rows[0].quantity"),
            (
                "delete_database_rows "
                + json.dumps({"table": "orders", "where": [{"field": "quantity", "op": "in", "value": "x"}]}),
                "JSON array",
            ),
        ],
    )
    def test_bad_calls_are_answered_with_the_reason_and_change_nothing(self, alice, call, fragment):
        bot_id, table = self.agent_with_table(alice)
        self.tool_result(
            alice, bot_id, 'insert_database_rows {"table": "orders", "rows": [{"item": "Keep"}]}'
        )
        assert fragment in self.tool_result(alice, bot_id, call)
        assert [r["f1"] for r in stored_rows(table["id"], 2)] == ["Keep"]

    def test_a_table_hidden_from_the_model_is_not_offered(self, alice):
        bot_id, table = self.agent_with_table(alice)
        alice.post(
            "/api/memory/database/update_bot_switch",
            {"bot_id": bot_id, "database_id": table["id"], "prompt_disable": True},
        )
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]})
        from test_chat import final_chat, open_chat

        events = open_chat(alice, bot_id, '/call query_database {"table": "orders"}')
        assert final_chat(events)["status"] == "requires_action"  # no such tool here: handed back


CSV = b"item,quantity,price,colour\nCups,6,12.5,white\nJug,lots,8,blue\n,1,3,red\nTamper,2,30.25,black\n"


def wait_import(account, table_id, table_type=1) -> dict:
    import time

    for _ in range(300):
        response = account.post(
            "/api/memory/table_file/get_progress", {"database_id": table_id, "table_type": table_type}
        )
        assert response.status_code == 200, response.text
        state = response.json()["data"]
        if state["status"] in (2, 9):
            return state
        time.sleep(0.02)
    raise AssertionError(f"the import did not finish: {state}")


class TestImportAndExport:
    def test_schema_preview_and_validation(self, alice):
        from test_knowledge import upload

        file_id = upload(alice, "orders.csv", CSV)
        body = {"source_file": {"tos_uri": f"file:{file_id}"}}
        schema = alice.post("/api/memory/table_schema/get", body).json()["data"]
        assert [(c["column_name"], c["column_type"]) for c in schema["table_meta"]] == [
            ("item", 1),
            ("quantity", 1),  # "lots" is not a number
            ("price", 4),
            ("colour", 1),
        ]
        assert schema["table_meta"][0]["contains_empty_value"] is True and schema["total_rows"] == 4
        assert schema["preview_data"][0] == {
            "item": "Cups",
            "quantity": "6",
            "price": "12.5",
            "colour": "white",
        }
        table = make_table(alice, fields=[*FIELDS, {"name": "note", "type": 1, "must_required": True}])
        result = alice.post("/api/memory/table_schema/validate", {"database_id": table["id"], **body}).json()
        assert result["data"]["schema_valid_result"] == {
            "colour": "not a field of table orders; its values are left out",
            "note": "required, and no column of the file fills it",
        }

    def test_an_import_inserts_what_fits_and_reports_the_rest(self, alice):
        from test_knowledge import upload

        table = make_table(alice)
        file_id = upload(alice, "orders.csv", CSV)
        response = alice.post(
            "/api/memory/table_file/submit", {"database_id": table["id"], "file_uri": f"file:{file_id}"}
        )
        assert response.status_code == 200, response.text
        state = wait_import(alice, table["id"])
        assert state["status"] == 2 and state["progress"] == 100 and state["file_name"] == "orders.csv"
        assert (state["total_rows"], state["inserted_rows"], state["rejected_count"]) == (4, 2, 2)
        assert state["rejected_rows"] == [
            {"row": 3, "reason": "line 3.quantity: must be an integer"},
            {"row": 4, "reason": "line 4.item: is required"},
        ]
        rows = sorted((r["f1"], r["f2"], r["f4"]) for r in stored_rows(table["id"]))
        assert rows == [("Cups", 6, 12.5), ("Tamper", 2, 30.25)]
        assert {r["connector_uid"] for r in stored_rows(table["id"])} == {alice.user_id}

    def test_an_xlsx_import_into_the_online_copy_and_the_row_limit(self, alice, settings_override):
        import io

        import openpyxl
        from test_knowledge import upload

        book = openpyxl.Workbook()
        sheet = book.active
        for row in [["ignored title"], ["item", "quantity"], ["A", 1], ["B", 2], ["C", 3]]:
            sheet.append(row)
        buffer = io.BytesIO()
        book.save(buffer)
        table = make_table(alice)
        settings_override(memory_max_rows=2)
        file_id = upload(alice, "orders.xlsx", buffer.getvalue())
        body = {
            "database_id": table["id"],
            "file_uri": f"file:{file_id}",
            "table_type": 2,
            "table_sheet": {"sheet_id": "0", "header_line_idx": "1", "start_line_idx": "2"},
        }
        assert alice.post("/api/memory/table_file/submit", body).status_code == 200
        state = wait_import(alice, table["id"], table_type=2)
        assert (state["inserted_rows"], state["rejected_count"]) == (2, 1)
        assert state["rejected_rows"] == [{"row": 5, "reason": "the table is full (2 rows)"}]
        assert (
            sorted(r["f1"] for r in stored_rows(table["id"], 2)) == ["A", "B"]
            and stored_rows(table["id"]) == []
        )

    def test_bad_imports_are_refused(self, alice, bob):
        from test_knowledge import upload

        table = make_table(alice)
        text = upload(alice, "notes.txt", b"hello")
        submit = lambda uri: alice.post(  # noqa: E731
            "/api/memory/table_file/submit", {"database_id": table["id"], "file_uri": uri}
        )
        assert_error(submit(f"file:{text}"), 400, 106000000, "file_uri: import a csv, xlsx or json file")
        theirs = upload(bob, "theirs.csv", CSV)
        assert_error(submit(f"file:{theirs}"), 404, 104000009, "file_uri")
        assert_error(
            alice.post("/api/memory/table_file/get_progress", {"database_id": table["id"]}), 409, 106000036
        )
        from models.memory import MemoryImport

        assert not MemoryImport.select().where(MemoryImport.database == int(table["id"])).exists()

    def test_an_interrupted_import_resumes_after_its_last_batch(self, alice):
        from test_knowledge import upload
        from test_recovery import dead_instance

        from models.memory import MemoryImport
        from services import recovery

        table = make_table(alice)
        file_id = upload(alice, "orders.csv", CSV)
        worker = dead_instance()
        job = MemoryImport.create(
            database=int(table["id"]),
            creator=int(alice.user_id),
            file=int(file_id),
            file_name="orders.csv",
            status=1,
            worker_id=worker.id,
            attempts=1,
            inserted_rows=1,  # the first row went in before the process died
        )
        done = recovery.reap()
        assert done["resumed_imports"] == [job.id]
        state = wait_import(alice, table["id"])
        assert state["status"] == 2 and state["inserted_rows"] == 2 and state["rejected_count"] == 2
        assert [r["f1"] for r in stored_rows(table["id"])] == ["Tamper"]  # the first row is not read again
        assert MemoryImport.get_by_id(job.id).attempts == 2

    def test_export_is_a_csv_of_every_row(self, alice):
        import csv
        import io

        table = make_table(alice)
        add_rows(alice, table["id"], ORDERS)
        response = alice.get(f"/api/memory/database/export?database_id={table['id']}&table_type=1")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert "orders_draft_" in response.headers["content-disposition"]
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert lines[0] == ["item", "quantity", "delivered_at", "price", "paid", *SYSTEM_NAMES]
        assert [line[0] for line in lines[1:]] == ["Espresso cups", "Milk jug", "Tamper"]
        assert lines[1][1:5] == ["6", "2026-11-30 10:00:00", "12.5", "true"]
