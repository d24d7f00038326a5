"""Workflow nodes that call the platform through HTTP runs: Plugin (the tool called as the run's
owner), HTTP request (through the guard), LLM and intent detection on the offline model,
Knowledge retrieval and Sub-workflow; others' plugins, knowledge bases and workflows are not
reachable from a canvas."""

from __future__ import annotations

import json

from test_knowledge import dataset_of_texts
from test_memory import make_table, stored_rows
from test_plugins import made, tools_of
from test_plugins import service as service  # noqa: F401  (a fixture)
from test_workflow_canvas import literal, ref
from test_workflow_engine import edge, end_returning, node, start
from test_workflow_runs import published, save
from test_workflows import create

from models.memory import DRAFT, ONLINE, MemoryDatabase


def setting(**values) -> list[dict]:
    return [
        {"name": k, "input": literal(v, "list" if isinstance(v, list) else "string")}
        for k, v in values.items()
    ]


def llm_node(node_id: str, prompt: str, model: str = "0") -> dict:
    """An LLM node asked `prompt` about the Start node's `q` (a model the server lacks means its
    default chat model, the offline one in tests, which obeys /echo)."""
    return node(
        node_id,
        "3",
        {
            "inputParameters": [{"name": "q", "input": ref("100001", "q")}],
            "llmParam": setting(modelType=model, prompt=prompt, systemPrompt=""),
        },
        [{"name": "output", "type": "string"}],
    )


def one_node(middle: dict, **ends) -> dict:
    return {
        "nodes": [start(("q", "string")), middle, end_returning(**ends)],
        "edges": [edge("100001", middle["id"]), edge(middle["id"], "900001")],
    }


def run(account, workflow_id, **parameters) -> dict:
    response = account.post("/v1/workflow/run", {"workflow_id": workflow_id, "parameters": parameters})
    return response.json()


def test_a_plugin_node_calls_the_tool(alice, bob, service):
    plugin_id = made(alice, service.url)
    tool = tools_of(alice, plugin_id)["get_forecast"]
    call = node(
        "2",
        "4",
        {
            "apiParam": setting(apiID=tool["api_id"], pluginID=plugin_id, apiName="get_forecast"),
            "inputParameters": [
                {"name": "city", "input": ref("100001", "q")},
                {"name": "days", "input": literal(2, "integer")},
            ],
        },
        [{"name": "city", "type": "string"}, {"name": "high", "type": "float"}],
    )
    schema = one_node(call, city=ref("2", "city"), high=ref("2", "high", "float"))
    workflow_id = published(alice, schema, "forecaster")
    answer = run(alice, workflow_id, q="Oslo")
    assert json.loads(answer["data"]) == {"city": "Oslo", "high": 21.5}, answer
    assert (
        service.received[-1]["path"] == "/api/forecast/Oslo"
        and ("days", "2") in service.received[-1]["query"]
    )
    stolen = published(bob, schema, "stolen")  # bob's canvas naming alice's plugin
    refused = run(bob, stolen, q="Oslo")
    assert refused["code"] == 720701013 and "plugin" in refused["msg"] and "not found" in refused["msg"]


def test_an_http_node_goes_through_the_guard(alice, service):
    request = node(
        "2",
        "45",
        {
            "apiInfo": {"method": "POST", "url": service.url + "/notes"},
            "headers": [{"name": "X-Trace", "input": literal("t-1")}],
            "body": {"bodyType": "JSON", "bodyData": {"json": '{"text": "{{block_output_100001.q}}"}'}},
            "auth": {
                "authOpen": True,
                "authType": "BEARER_AUTH",
                "authData": {"bearerTokenData": [{"name": "token", "input": literal("s3cret")}]},
            },
        },
        [{"name": "body", "type": "string"}, {"name": "statusCode", "type": "integer"}],
    )
    workflow_id = published(
        alice, one_node(request, body=ref("2", "body"), status=ref("2", "statusCode", "integer")), "poster"
    )
    out = json.loads(run(alice, workflow_id, q="hello")["data"])
    assert out["status"] == 200 and json.loads(out["body"]) == {"saved": {"text": "hello"}}
    sent = service.received[-1]
    assert sent["headers"]["authorization"] == "Bearer s3cret" and sent["headers"]["x-trace"] == "t-1"
    inward = json.loads(json.dumps(one_node(request, body=ref("2", "body"))))
    inward["nodes"][1]["data"]["inputs"]["apiInfo"]["url"] = "http://127.0.0.1:9/secret"
    refused = run(alice, published(alice, inward, "inward"), q="x")
    assert refused["code"] == 720701013 and "127.0.0.1" in refused["msg"]


def test_llm_and_intent_nodes_on_the_offline_model(alice):
    think = llm_node("2", "/echo You said: {{q}}", model="1737521813")
    intent = node(
        "3",
        "22",
        {
            "inputParameters": [{"name": "query", "input": ref("100001", "q")}],
            "intents": [{"name": "weather"}, {"name": "news"}],
        },
        [{"name": "classificationId", "type": "integer"}],
    )
    say = lambda node_id, word: node(  # noqa: E731
        node_id,
        "15",
        {"method": "concat", "concatParams": [{"name": "concatResult", "input": literal(word)}]},
        [{"name": "output", "type": "string"}],
    )
    schema = {
        "nodes": [
            start(("q", "string")),
            think,
            intent,
            say("4", "it is about the weather"),
            say("5", "about something else"),
            node(
                "6",
                "32",
                {"mergeGroups": [{"name": "Group1", "variables": [ref("4", "output"), ref("5", "output")]}]},
                [{"name": "Group1", "type": "string"}],
            ),
            end_returning(echo=ref("2", "output"), topic=ref("6", "Group1")),
        ],
        "edges": [
            edge("100001", "2"),
            edge("2", "3"),
            edge("3", "4", "branch_0"),
            edge("3", "5", "default"),
            edge("3", "5", "branch_1"),
            edge("4", "6"),
            edge("5", "6"),
            edge("6", "900001"),
        ],
    }
    workflow_id = published(alice, schema, "thinker")
    assert json.loads(run(alice, workflow_id, q="weather in Oslo")["data"]) == {
        "echo": "You said: weather in Oslo",
        "topic": "it is about the weather",
    }
    assert json.loads(run(alice, workflow_id, q="tell me a joke")["data"])["topic"] == "about something else"


def test_a_knowledge_node_retrieves(alice, bob):
    dataset_id = dataset_of_texts(
        alice, moon="The moon is made of rock.", cats="Cats sleep sixteen hours a day."
    )
    search = node(
        "2",
        "6",
        {
            "datasetParam": setting(datasetList=[dataset_id])
            + [{"name": "topK", "input": literal(1, "integer")}],
            "inputParameters": [{"name": "Query", "input": ref("100001", "q")}],
        },
        [{"name": "outputList", "type": "list"}],
    )
    schema = one_node(search, found=ref("2", "outputList", "list"))
    out = json.loads(run(alice, published(alice, schema, "searcher"), q="how long do cats sleep")["data"])
    assert len(out["found"]) == 1 and "sixteen hours" in out["found"][0]["output"]
    refused = run(bob, published(bob, schema, "searcher"), q="cats")
    assert refused["code"] == 720701013 and "not found" in refused["msg"]


def test_a_sub_workflow_runs_with_the_nodes_inputs(alice, bob):
    child_schema = {
        "nodes": [
            start(("name", "string")),
            node(
                "2",
                "15",
                {
                    "method": "concat",
                    "concatParams": [{"name": "concatResult", "input": literal("hi {{n}}")}],
                    "inputParameters": [{"name": "n", "input": ref("100001", "name")}],
                },
                [{"name": "output", "type": "string"}],
            ),
            end_returning(greeting=ref("2", "output")),
        ],
        "edges": [edge("100001", "2"), edge("2", "900001")],
    }
    child = published(alice, child_schema, "child")
    call = node(
        "2",
        "9",
        {
            "workflowId": child,
            "workflowVersion": "",
            "inputParameters": [{"name": "name", "input": ref("100001", "q")}],
        },
        [{"name": "greeting", "type": "string"}],
    )
    parent = published(alice, one_node(call, said=ref("2", "greeting")), "parent")
    assert json.loads(run(alice, parent, q="Ada")["data"]) == {"said": "hi Ada"}
    itself = create(alice, "itself")
    loop_call = json.loads(json.dumps(one_node(call, said=ref("2", "greeting"))))
    loop_call["nodes"][1]["data"]["inputs"]["workflowId"] = itself
    loop_call["nodes"][1]["data"]["inputs"]["inputParameters"][0]["name"] = "q"  # it calls itself
    save(alice, itself, loop_call)
    assert alice.post("/api/workflow_api/publish", {"workflow_id": itself, "force": True}).json()["code"] == 0
    assert "nested more than 5" in run(alice, itself, q="x")["msg"]
    refused = run(bob, published(bob, one_node(call, said=ref("2", "greeting")), "borrow"), q="Ada")
    assert refused["code"] == 720701013 and "not found" in refused["msg"]


def field_input(field_id, value) -> list[dict]:
    return [{"name": "fieldID", "input": literal(str(field_id))}, {"name": "fieldValue", "input": value}]


def where(left: str, operation: str, right: dict) -> list[dict]:
    return [
        {"name": "left", "input": literal(left)},
        {"name": "operation", "input": literal(operation)},
        {"name": "right", "input": right},
    ]


def test_database_nodes_add_query_update_and_delete_rows(alice, bob):
    table = make_table(alice, "workflow_orders")
    database = MemoryDatabase.get_by_id(int(table["id"]))
    ids = {f["name"]: f["id"] for f in database.fields}
    on_table = {"databaseInfoList": [{"databaseInfoID": table["id"]}]}
    add = node(
        "2",
        "46",
        {
            **on_table,
            "insertParam": {
                "fieldInfo": [
                    field_input(ids["item"], ref("100001", "q")),
                    field_input(ids["quantity"], literal(3, "integer")),
                ]
            },
        },
        [{"name": "rowNum", "type": "integer"}],
    )
    change = node(
        "3",
        "42",
        {
            **on_table,
            "updateParam": {
                "condition": {"conditionList": [where("item", "EQUAL", ref("100001", "q"))], "logic": "AND"},
                "fieldInfo": [field_input(ids["quantity"], literal(5, "integer"))],
            },
        },
        [{"name": "rowNum", "type": "integer"}],
    )
    look = node(
        "4",
        "43",
        {
            **on_table,
            "selectParam": {
                "condition": {
                    "conditionList": [where("quantity", "GREATER_THAN", literal(4, "integer"))],
                    "logic": "AND",
                },
                "fieldList": [{"fieldID": ids["item"]}, {"fieldID": ids["quantity"]}],
                "orderByList": [{"fieldID": ids["item"], "isAsc": True}],
                "limit": 10,
            },
        },
        [{"name": "outputList", "type": "list"}, {"name": "rowNum", "type": "integer"}],
    )
    drop = node(
        "5",
        "44",
        {
            **on_table,
            "deleteParam": {
                "condition": {"conditionList": [where("item", "EQUAL", literal("gone"))], "logic": "AND"}
            },
        },
        [{"name": "rowNum", "type": "integer"}],
    )
    schema = {
        "nodes": [
            start(("q", "string")),
            add,
            change,
            look,
            drop,
            end_returning(
                added=ref("2", "rowNum", "integer"),
                changed=ref("3", "rowNum", "integer"),
                found=ref("4", "outputList", "list"),
                deleted=ref("5", "rowNum", "integer"),
            ),
        ],
        "edges": [edge("100001", "2"), edge("2", "3"), edge("3", "4"), edge("4", "5"), edge("5", "900001")],
    }
    workflow_id = published(alice, schema, "orders_flow")
    first = json.loads(run(alice, workflow_id, q="tea")["data"])
    assert first == {"added": 1, "changed": 1, "found": [{"item": "tea", "quantity": "5"}], "deleted": 0}
    second = json.loads(run(alice, workflow_id, q="gone")["data"])
    assert second["deleted"] == 1 and [r["item"] for r in second["found"]] == [
        "gone",
        "tea",
    ]  # found, then deleted
    online = stored_rows(table["id"], ONLINE)
    assert [(r[f"f{ids['item']}"], r[f"f{ids['quantity']}"]) for r in online] == [("tea", 5)]
    assert stored_rows(table["id"], DRAFT) == []  # a published run works on the online copy
    refused = run(bob, published(bob, schema, "orders_flow"), q="x")
    assert refused["code"] == 720701013 and "not found" in refused["msg"]
    assert len(stored_rows(table["id"], ONLINE)) == 1


def test_an_agents_workflows_are_tools_and_a_published_agent_keeps_its_versions(alice):
    from test_chat import messages_of, new_agent, open_chat
    from test_workflow_runs import greeting

    workflow_id = published(alice, greeting(), "greeter")
    bot_id = new_agent(alice, workflow_info_list=[{"workflow_id": workflow_id, "name": "greeter"}])
    events = open_chat(alice, bot_id, '/call greeter {"name": "Ada"}')
    completed = messages_of(events, "conversation.message.completed")
    assert [m["type"] for m in completed[:2]] == ["function_call", "tool_response"]
    assert json.loads(completed[1]["content"]) == {"greeting": "Hello, Ada!"}
    changed = greeting()
    changed["nodes"][1]["data"]["inputs"]["concatParams"][0]["input"] = literal("Goodbye, {{who}}!")
    save(alice, workflow_id, changed)
    assert (
        alice.post("/api/workflow_api/publish", {"workflow_id": workflow_id, "force": True}).json()["code"]
        == 0
    )
    events = open_chat(alice, bot_id, '/call greeter {"name": "Ada"}')
    said = messages_of(events, "conversation.message.completed")[1]["content"]
    assert json.loads(said) == {"greeting": "Hello, Ada!"}  # the version the agent was published with
    assert (
        alice.post("/v1/bot/publish", json={"bot_id": bot_id, "connector_ids": ["1024"]}).json()["code"] == 0
    )
    events = open_chat(alice, bot_id, '/call greeter {"name": "Ada"}')
    assert json.loads(messages_of(events, "conversation.message.completed")[1]["content"]) == {
        "greeting": "Goodbye, Ada!"
    }


def test_knowledge_writing_and_deleting_nodes(alice, bob):
    from test_knowledge import make_dataset, wait_done

    from models.knowledge import Document

    dataset_id = make_dataset(alice, "Written")
    write = node(
        "2",
        "27",
        {
            "datasetParam": setting(datasetList=[dataset_id]),
            "inputParameters": [{"name": "knowledge", "input": ref("100001", "q")}],
            "strategyParam": {
                "chunkStrategy": {"chunkType": "custom", "separator": "\n", "maxToken": 200, "overlap": 0.1}
            },
        },
        [{"name": "documentId", "type": "string"}],
    )
    out = json.loads(
        run(
            alice,
            published(alice, one_node(write, doc=ref("2", "documentId")), "writer"),
            q="Owls hunt at night.",
        )["data"]
    )
    [state] = wait_done(alice, [out["doc"]])
    assert state["status"] == 1
    document = Document.get_by_id(int(out["doc"]))
    assert document.dataset_id == int(dataset_id) and document.chunk_strategy["max_tokens"] == 200
    refused = run(bob, published(bob, one_node(write, doc=ref("2", "documentId")), "writer"), q="x")
    assert refused["code"] == 720701013 and "not found" in refused["msg"]
    drop = node(
        "2",
        "60",
        {"inputParameters": [{"name": "documentID", "input": ref("100001", "q")}]},
        [{"name": "isSuccess", "type": "boolean"}],
    )
    deleter = one_node(drop, ok=ref("2", "isSuccess", "boolean"))
    assert "not found" in run(bob, published(bob, deleter, "deleter"), q=out["doc"])["msg"]
    assert Document.get_or_none(Document.id == int(out["doc"])) is not None
    assert json.loads(run(alice, published(alice, deleter, "deleter"), q=out["doc"])["data"]) == {"ok": True}
    assert Document.get_or_none(Document.id == int(out["doc"])) is None


def test_the_sql_node_runs_one_statement_on_the_bound_table_only(alice, bob):
    table = make_table(alice, "sql_orders")
    other = make_table(alice, "secret_orders")
    on_table = {"databaseInfoList": [{"databaseInfoID": table["id"]}]}

    def sql_flow(name: str, statement: str) -> str:
        sql = node(
            "2",
            "12",
            {**on_table, "sql": statement, "inputParameters": [{"name": "q", "input": ref("100001", "q")}]},
            [{"name": "outputList", "type": "list"}, {"name": "rowNum", "type": "integer"}],
        )
        return published(
            alice, one_node(sql, rows=ref("2", "outputList", "list"), n=ref("2", "rowNum", "integer")), name
        )

    insert = sql_flow(
        "sql_insert", "INSERT INTO sql_orders (item, quantity) VALUES ({{q}}, 2), ('50% off', 7)"
    )
    assert json.loads(run(alice, insert, q="tea")["data"]) == {"rows": [], "n": 2}
    select = sql_flow(
        "sql_select",
        "SELECT item, quantity * 10 AS tens FROM sql_orders "
        "WHERE item LIKE '%off%' OR item = '{{q}}' ORDER BY item",
    )
    assert json.loads(run(alice, select, q="tea")["data"])["rows"] == [
        {"item": "50% off", "tens": 70},
        {"item": "tea", "tens": 20},
    ]
    update = sql_flow("sql_update", "UPDATE sql_orders SET quantity = quantity + 1 WHERE item = {{q}}")
    assert json.loads(run(alice, update, q="tea")["data"])["n"] == 1
    delete = sql_flow("sql_delete", "DELETE FROM sql_orders WHERE quantity > 5")
    assert json.loads(run(alice, delete, q="x")["data"])["n"] == 1
    online = stored_rows(table["id"], ONLINE)
    field = {f["name"]: f["id"] for f in MemoryDatabase.get_by_id(int(table["id"])).fields}
    assert [(r[f"f{field['item']}"], r[f"f{field['quantity']}"]) for r in online] == [("tea", 3)]
    assert online[0]["connector_uid"] == alice.user_id  # inserted rows are the run owner's
    injected = json.loads(run(alice, select, q="x' OR '1'='1")["data"])["rows"]
    assert injected == []  # the quote is part of a value, never SQL: "tea" does not leak out
    for bad, said in [
        ("SELECT * FROM secret_orders", "only the bound table"),
        ("SELECT * FROM sql_orders; DELETE FROM sql_orders", "one SELECT"),
        ("SELECT load_extension('x')", "unknown function"),
        ("SELECT nope FROM sql_orders", "no field 'nope'"),
        ("PRAGMA table_info(sql_orders)", "one SELECT"),
        ("SELECT * FROM sqlite_master", "only the bound table"),
    ]:
        answer = run(alice, sql_flow(f"bad_{abs(hash(bad)) % 10**6}", bad), q="x")
        assert answer["code"] == 720701013 and said in answer["msg"], (bad, answer)
    assert len(stored_rows(table["id"], ONLINE)) == 1 and stored_rows(other["id"], ONLINE) == []


def test_runs_read_and_assign_their_agents_variables(alice):
    from test_chat import new_agent

    from models.memory import VariableValue

    bot_id = new_agent(alice, variable_list=[{"key": "city", "default_value": "Paris"}])
    user_variable = {
        "type": "string",
        "value": {
            "type": "ref",
            "content": {"source": "global_variable_user", "path": ["city"], "blockID": "", "name": ""},
        },
    }
    reader = published(
        alice,
        {
            "nodes": [
                start(),
                end_returning(
                    city=user_variable,
                    me={
                        "type": "string",
                        "value": {
                            "type": "ref",
                            "content": {"source": "global_variable_system", "path": ["sys_uuid"]},
                        },
                    },
                ),
            ],
            "edges": [edge("100001", "900001")],
        },
        "reader",
    )
    answer = alice.post("/v1/workflow/run", {"workflow_id": reader, "bot_id": bot_id}).json()
    assert json.loads(answer["data"]) == {"city": "Paris", "me": alice.user_id}
    assign = node(
        "2",
        "40",
        {"inputParameters": [{"name": "city", "left": user_variable, "input": ref("100001", "q")}]},
        [{"name": "isSuccess", "type": "boolean"}],
    )
    writer = published(alice, one_node(assign, ok=ref("2", "isSuccess", "boolean")), "writer")
    body = {"workflow_id": writer, "bot_id": bot_id, "parameters": {"q": "Lyon"}}
    assert json.loads(alice.post("/v1/workflow/run", body).json()["data"]) == {"ok": True}
    stored = VariableValue.get(VariableValue.bot == int(bot_id), VariableValue.keyword == "city")
    assert (stored.value, stored.connector_uid) == ("Lyon", alice.user_id)
    again = alice.post("/v1/workflow/run", {"workflow_id": reader, "bot_id": bot_id}).json()
    assert json.loads(again["data"])["city"] == "Lyon"
    without = alice.post("/v1/workflow/run", {"workflow_id": writer, "parameters": {"q": "Rome"}}).json()
    assert (
        without["code"] == 4000 and "needs the run to have a bot_id" in without["msg"]
    )  # the request lacks it


def test_an_http_node_sends_form_bodies(alice, service):
    def posting(kind: str, data: dict) -> dict:
        request = node(
            "2",
            "45",
            {
                "apiInfo": {"method": "POST", "url": service.url + "/echo"},
                "body": {"bodyType": kind, "bodyData": data},
            },
            [{"name": "body", "type": "string"}],
        )
        return one_node(request, body=ref("2", "body"))

    fields = [{"name": "city", "input": ref("100001", "q")}, {"name": "days", "input": literal("3")}]
    form = published(alice, posting("FORM_DATA", {"formData": {"data": fields}}), "form_data")
    sent = json.loads(run(alice, form, q="Oslo")["data"])["body"]
    assert 'name="city"\r\n\r\nOslo\r\n' in sent and 'name="days"\r\n\r\n3\r\n' in sent
    assert service.received[-1]["headers"]["content-type"].startswith(
        "multipart/form-data; boundary=cozeplus-"
    )
    encoded = published(alice, posting("FORM_URLENCODED", {"formURLEncoded": fields}), "form_url")
    assert json.loads(run(alice, encoded, q="Oslo")["data"])["body"] == "city=Oslo&days=3"
