#!/usr/bin/env bash
# Workflows: create one, save its canvas (Start -> a text node -> End), publish, run it, read the
# run's record, delete.
. "$(dirname "$0")/common.sh"
CANVAS="$(dirname "$0")/../data/greeting-canvas.json"

SPACE=$(space_id)
WORKFLOW=$(api POST /api/workflow_api/create "$(jq -n --arg space "$SPACE" \
  '{space_id: $space, name: "example_greeting", desc: "made by examples/curl/workflow.sh", flow_mode: 0}')" |
  jq -r .data.workflow_id)
echo "created workflow $WORKFLOW"
# the canvas travels as a JSON string
api POST /api/workflow_api/save "$(jq -n --arg id "$WORKFLOW" --rawfile canvas "$CANVAS" \
  '{workflow_id: $id, schema: $canvas}')" >/dev/null
api POST /api/workflow_api/publish "{\"workflow_id\": \"$WORKFLOW\", \"force\": true}" >/dev/null
echo "saved and published"

RUN=$(api POST /v1/workflow/run "{\"workflow_id\": \"$WORKFLOW\", \"parameters\": {\"name\": \"Ada\"}}")
echo "output: $(jq -r .data <<<"$RUN")"
EXECUTE=$(jq -r .execute_id <<<"$RUN")
echo "run $EXECUTE: $(api GET "/v1/workflows/$WORKFLOW/run_histories/$EXECUTE" | jq -r '.data[0].execute_status')"

api POST /api/workflow_api/delete "{\"workflow_id\": \"$WORKFLOW\"}" >/dev/null
echo "deleted workflow $WORKFLOW"
