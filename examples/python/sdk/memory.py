"""Memory: a database table (create it, add rows, read them back), and an agent's variables
(declare one, set an end user's value, read it); then delete both."""

import time

import cozeplus_sdk as sdk
from common import client, personal_space

with client() as api:
    space = personal_space(api)
    memory = sdk.MemoryApi(api)
    table = memory.add_database(
        sdk.AddDatabaseRequest.from_dict(
            {
                "space_id": space,
                "table_name": f"orders_{int(time.time())}",  # a space's table names are unique
                "table_desc": "made by examples/python/sdk/memory.py",
                "field_list": [
                    {"name": "item", "type": 1, "must_required": True},
                    {"name": "quantity", "type": 2},
                ],
            }
        )
    ).data.database_info
    print("created table", table.id)
    # table_type 1 is the draft copy (the playground's rows), 2 the published agent's
    rows = [{"item": "Espresso cups", "quantity": "6"}, {"item": "Milk jug", "quantity": "1"}]
    memory.update_database_records(
        sdk.UpdateDatabaseRecordsRequest.from_dict(
            {"database_id": table.id, "table_type": 1, "record_data_add": rows}
        )
    )
    listed = memory.list_database_records(
        sdk.ListDatabaseRecordsRequest.from_dict({"database_id": table.id, "table_type": 1})
    )
    # a row's own columns are the model's additional properties (bstudio_* are the system's)
    print(
        "rows:",
        [{name: row.additional_properties[name] for name in ("item", "quantity")} for row in listed.data],
    )

    agents = sdk.AgentApi(api)
    bot_id = agents.create_bot(
        sdk.CreateBotRequest.from_dict({"space_id": space, "name": "Example memory agent"})
    ).data.bot_id
    variable = {"key": "city", "description": "Where the user lives", "default_value": "Paris"}
    agents.update_draft_bot_info(
        sdk.UpdateDraftBotInfoRequest.from_dict({"bot_info": {"bot_id": bot_id, "variable_list": [variable]}})
    )
    memory.open_set_variables(
        sdk.OpenSetVariablesRequest.from_dict(
            {
                "bot_id": bot_id,
                "connector_uid": "example-user",
                "data": [{"keyword": "city", "value": "Lyon"}],
            }
        )
    )
    values = memory.open_get_variables(connector_uid="example-user", bot_id=bot_id).data.items
    print("variables of example-user:", [{"keyword": v.keyword, "value": v.value} for v in values])

    memory.delete_database(sdk.DeleteDatabaseRequest.from_dict({"id": table.id}))
    agents.delete_bot(sdk.BotIdRequest.from_dict({"bot_id": bot_id}))
    print(f"deleted table {table.id} and agent {bot_id}")
