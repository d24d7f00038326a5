#!/usr/bin/env bash
# Plugins: register one from an OpenAPI document, list its tools, call a tool, delete the plugin.
. "$(dirname "$0")/common.sh"
DATA="$(dirname "$0")/../data"
TOOL_URL="${EXAMPLE_TOOL_URL:-https://httpbin.org}"

SPACE=$(space_id)
PLUGIN=$(api POST /api/plugin_api/register "$(jq -n --arg space "$SPACE" \
  --rawfile manifest "$DATA/lookup-tool.manifest.json" \
  --arg openapi "$(sed "s|TOOL_URL|$TOOL_URL|" "$DATA/lookup-tool.openapi.yaml")" \
  '{space_id: $space, ai_plugin: $manifest, openapi: $openapi}')" | jq -r .data.plugin_id)
echo "registered plugin $PLUGIN"

TOOLS=$(api POST /api/plugin_api/get_plugin_apis "{\"plugin_id\": \"$PLUGIN\"}")
echo "tools: $(jq -r '[.api_info[].name] | join(", ")' <<<"$TOOLS")"
TOOL=$(jq -r '.api_info[] | select(.name == "lookup_city") | .api_id' <<<"$TOOLS")

# operation 1 calls the tool with these arguments (a JSON string) and reports what it answered
RESULT=$(api POST /api/plugin_api/debug_api "$(jq -n --arg plugin "$PLUGIN" --arg tool "$TOOL" \
  '{plugin_id: $plugin, api_id: $tool, operation: 1, parameters: ({city: "Lyon"} | tojson)}')")
echo "tool answered: $(jq -r .raw_resp <<<"$RESULT" | jq -c .args)"

api POST /api/plugin_api/del_plugin "{\"plugin_id\": \"$PLUGIN\"}" >/dev/null
echo "deleted plugin $PLUGIN"
