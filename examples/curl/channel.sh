#!/usr/bin/env bash
# Channels: publish an agent to a generic webhook channel, send it a message the way an outside
# system would (signed with the channel's secret), read the answer and the channel's log, unbind.
. "$(dirname "$0")/common.sh"

SPACE=$(space_id)
BOT=$(api POST /v1/bot/create "{\"space_id\": \"$SPACE\", \"name\": \"Example channel agent\"}" | jq -r .data.bot_id)
api POST /v1/bot/publish "{\"bot_id\": \"$BOT\", \"connector_ids\": [\"1024\"]}" >/dev/null
echo "types: $(api GET /api/channel/types | jq -r '[.data.types[].type] | join(", ")')"

# reply_mode "sync" (the default) answers in the callback's response
MADE=$(api POST /api/channel/create "{\"bot_id\": \"$BOT\", \"type\": \"webhook\", \"config\": {}}")
CHANNEL=$(jq -r .data.id <<<"$MADE")
SECRET=$(jq -r .data.secrets.secret <<<"$MADE") # shown once, at creation
echo "bound channel $CHANNEL"

# what the outside system sends: X-Cozeplus-Signature t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")
BODY='{"user_id": "crm-42", "text": "Hello from a webhook", "message_id": "m-1"}'
STAMP=$(date +%s)
SIGNATURE=$(printf '%s.%s' "$STAMP" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
REPLY=$(curl -sS "$BASE/api/channel/callback/$CHANNEL" -H 'Content-Type: application/json' \
  -H "X-Cozeplus-Signature: t=$STAMP,v1=$SIGNATURE" -d "$BODY")
echo "answer: $(jq -r .data.answer <<<"$REPLY")"
echo "messages logged: $(api POST /api/channel/messages "{\"id\": \"$CHANNEL\"}" | jq -r .data.total)"

api POST /api/channel/delete "{\"id\": \"$CHANNEL\"}" >/dev/null
api POST /api/draftbot/delete "{\"bot_id\": \"$BOT\"}" >/dev/null
echo "unbound channel $CHANNEL and deleted agent $BOT"
