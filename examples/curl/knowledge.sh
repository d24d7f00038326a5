#!/usr/bin/env bash
# Knowledge: create a knowledge base, add a document, wait until it is processed, search it, delete.
. "$(dirname "$0")/common.sh"

SPACE=$(space_id)
DATASET=$(api POST /api/knowledge/create "$(jq -n --arg space "$SPACE" \
  '{space_id: $space, name: "Example handbook", description: "made by examples/curl/knowledge.sh", format_type: 0}')" |
  jq -r .data.dataset_id)
echo "created knowledge base $DATASET"
DOCUMENT=$(api POST /api/knowledge/document/create "$(jq -n --arg id "$DATASET" '{dataset_id: $id, document_bases: [
  {name: "returns", source_info: {custom_content: "Returns are accepted within 30 days with the receipt.\n\nShipping takes three working days."}}]}')" |
  jq -r '.data.document_infos[0].document_id')

# processing runs in the background: status 0 processing, 1 done, 9 failed
for _ in $(seq 60); do
  STATUS=$(api POST /api/knowledge/document/progress/get "{\"document_ids\": [\"$DOCUMENT\"]}" | jq -r '.data.data[0].status')
  [ "$STATUS" != 0 ] && break
  sleep 0.5
done
echo "document $DOCUMENT processed (status $STATUS)"

echo "best match: $(api POST /api/knowledge/retrieve "{\"dataset_ids\": [\"$DATASET\"], \"query\": \"How long do I have to return an item?\"}" |
  jq -r '.data.slices[0].content')"

api POST /api/knowledge/delete "{\"dataset_id\": \"$DATASET\"}" >/dev/null
echo "deleted knowledge base $DATASET"
