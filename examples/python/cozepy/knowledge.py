"""Knowledge with cozepy: create a knowledge base, add a document, wait until it is processed,
list its documents, search it (a console call: cozepy has no retrieval), delete."""

import time

from common import coze, http, personal_space
from cozepy import DocumentBase, DocumentFormatType, DocumentSourceInfo, DocumentStatus

HANDBOOK = "Returns are accepted within 30 days with the receipt.\n\nShipping takes three working days."

dataset = coze.datasets.create(
    name="Example handbook",
    space_id=personal_space(),
    format_type=DocumentFormatType.DOCUMENT,
    description="made by examples/python/cozepy/knowledge.py",
)
print("created knowledge base", dataset.dataset_id)
[document] = coze.datasets.documents.create(
    dataset_id=dataset.dataset_id,
    document_bases=[
        DocumentBase(name="returns.txt", source_info=DocumentSourceInfo.build_local_file(HANDBOOK, "txt"))
    ],
)

for _ in range(60):  # processing runs in the background
    [progress] = coze.datasets.process(dataset_id=dataset.dataset_id, document_ids=[document.document_id])
    if progress.status != DocumentStatus.PROCESSING:
        break
    time.sleep(0.5)
print(f"document {document.document_id} processed (status {progress.status})")
names = [d.name for d in coze.datasets.documents.list(dataset_id=dataset.dataset_id).items]
print("documents:", ", ".join(names))

found = http(
    "/api/knowledge/retrieve",
    {"dataset_ids": [dataset.dataset_id], "query": "How long do I have to return an item?"},
)
print("best match:", found["slices"][0]["content"])

coze.datasets.delete(dataset_id=dataset.dataset_id)
print("deleted knowledge base", dataset.dataset_id)
