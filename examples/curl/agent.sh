#!/usr/bin/env bash
# Agents: create one, publish it to the API, chat with it (streamed), list, delete.
. "$(dirname "$0")/common.sh"

SPACE=$(space_id)
BOT=$(api POST /v1/bot/create "$(jq -n --arg space "$SPACE" \
  '{space_id: $space, name: "Example agent", description: "made by examples/curl/agent.sh",
    prompt_info: {prompt: "You are a concise assistant."}}')" | jq -r .data.bot_id)
echo "created agent $BOT"
api POST /v1/bot/publish "{\"bot_id\": \"$BOT\", \"connector_ids\": [\"1024\"]}" >/dev/null
echo "published"

# -N: print each Server-Sent Event as it arrives; the deltas join to the answer
echo -n "answer: "
curl -sS -N "$BASE/v3/chat" -H "Authorization: Bearer $COZEPLUS_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"bot_id\": \"$BOT\", \"user_id\": \"example-user\", \"stream\": true,
       \"additional_messages\": [{\"role\": \"user\", \"content\": \"Hello from curl\", \"content_type\": \"text\"}]}" |
  while IFS= read -r line; do
    case "$line" in
      event:*) EVENT=${line#event:} ;;
      data:*) [ "$EVENT" = conversation.message.delta ] && jq -j .content <<<"${line#data:}" ;;
    esac
  done
echo

echo "agents in the space: $(api GET "/v1/bots?workspace_id=$SPACE" | jq -r '[.data.items[].name] | join(", ")')"
api POST /api/draftbot/delete "{\"bot_id\": \"$BOT\"}" >/dev/null
echo "deleted agent $BOT"
