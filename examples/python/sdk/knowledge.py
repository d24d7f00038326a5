"""Knowledge: create a knowledge base, add a document, wait until it is processed, search it,
delete."""

import time

import cozeplus_sdk as sdk
from common import client, personal_space

HANDBOOK = "Returns are accepted within 30 days with the receipt.\n\nShipping takes three working days."

with client() as api:
    knowledge = sdk.KnowledgeApi(api)
    dataset_id = knowledge.create_dataset(
        sdk.CreateDatasetRequest.from_dict(
            {
                "space_id": personal_space(api),
                "name": "Example handbook",
                "description": "made by examples/python/sdk/knowledge.py",
                "format_type": 0,
            }
        )
    ).data.dataset_id
    print("created knowledge base", dataset_id)
    documents = knowledge.create_documents(
        sdk.CreateDocumentsRequest.from_dict(
            {
                "dataset_id": dataset_id,
                "document_bases": [{"name": "returns", "source_info": {"custom_content": HANDBOOK}}],
            }
        )
    )
    document_id = documents.data.document_infos[0].document_id

    # processing runs in the background: status 0 processing, 1 done, 9 failed
    for _ in range(60):
        progress = knowledge.document_progress(
            sdk.DocumentProgressRequest.from_dict({"document_ids": [document_id]})
        )
        status = progress.data.data[0].status
        if status != 0:
            break
        time.sleep(0.5)
    print(f"document {document_id} processed (status {status})")

    found = knowledge.retrieve(
        sdk.RetrieveRequest.from_dict(
            {"dataset_ids": [dataset_id], "query": "How long do I have to return an item?"}
        )
    )
    print("best match:", found.data.slices[0].content)

    knowledge.delete_dataset(sdk.DeleteDatasetRequest.from_dict({"dataset_id": dataset_id}))
    print("deleted knowledge base", dataset_id)
