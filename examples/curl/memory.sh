#!/usr/bin/env bash
# Memory: a database table (create it, add rows, read them back), and an agent's variables (declare
# one, set an end user's value, read it); then delete both.
. "$(dirname "$0")/common.sh"

SPACE=$(space_id)
TABLE=$(api POST /api/memory/database/add "$(jq -n --arg space "$SPACE" '{space_id: $space,
  table_name: "orders_\(now | floor)", table_desc: "made by examples/curl/memory.sh",
  field_list: [{name: "item", type: 1, must_required: true}, {name: "quantity", type: 2}]}')" |
  jq -r .data.database_info.id)
echo "created table $TABLE"
# table_type 1 is the draft copy (the playground's rows), 2 the published agent's
api POST /api/memory/database/update_records "{\"database_id\": \"$TABLE\", \"table_type\": 1,
  \"record_data_add\": [{\"item\": \"Espresso cups\", \"quantity\": \"6\"}, {\"item\": \"Milk jug\", \"quantity\": \"1\"}]}" >/dev/null
echo "rows: $(api POST /api/memory/database/list_records "{\"database_id\": \"$TABLE\", \"table_type\": 1}" |
  jq -c '[.data[] | {item, quantity}]')"

BOT=$(api POST /api/draftbot/create "{\"space_id\": \"$SPACE\", \"name\": \"Example memory agent\"}" | jq -r .data.bot_id)
api POST /api/playground_api/draftbot/update_draft_bot_info "{\"bot_info\": {\"bot_id\": \"$BOT\",
  \"variable_list\": [{\"key\": \"city\", \"description\": \"Where the user lives\", \"default_value\": \"Paris\"}]}}" >/dev/null
api PUT /v1/variables "{\"bot_id\": \"$BOT\", \"connector_uid\": \"example-user\",
  \"data\": [{\"keyword\": \"city\", \"value\": \"Lyon\"}]}" >/dev/null
echo "variables of example-user: $(api GET "/v1/variables?bot_id=$BOT&connector_uid=example-user" |
  jq -c '[.data.items[] | {keyword, value}]')"

api POST /api/memory/database/delete "{\"id\": \"$TABLE\"}" >/dev/null
api POST /api/draftbot/delete "{\"bot_id\": \"$BOT\"}" >/dev/null
echo "deleted table $TABLE and agent $BOT"
