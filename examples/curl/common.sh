# Sourced by the examples: where the server is, the token, and `api`, which sends one request and
# stops the script on an error envelope. Needs curl and jq.
set -euo pipefail
BASE="${COZEPLUS_BASE_URL:-http://127.0.0.1:8888}"
: "${COZEPLUS_TOKEN:?set COZEPLUS_TOKEN to a personal access token (or a session token)}"

# api METHOD PATH [JSON]: prints the answer's body; exits when its code is not 0
api() {
  local answer
  answer=$(curl -sS -X "$1" "$BASE$2" -H "Authorization: Bearer $COZEPLUS_TOKEN" \
    -H 'Content-Type: application/json' ${3:+-d "$3"})
  if [ "$(jq -r .code <<<"$answer")" != 0 ]; then
    echo "$1 $2 refused: $answer" >&2
    exit 1
  fi
  printf '%s\n' "$answer"
}

# the caller's personal space
space_id() { api GET /v1/workspaces | jq -r '.data.workspaces[] | select(.workspace_type == "personal") | .id'; }
