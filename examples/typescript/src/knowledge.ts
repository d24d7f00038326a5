// Knowledge: create a knowledge base, add a document, wait until it is processed, search it, delete.
import { KnowledgeApi } from '@cozeplus/sdk';
import { setTimeout as sleep } from 'node:timers/promises';
import { personalSpace } from './common.js';

const handbook = 'Returns are accepted within 30 days with the receipt.\n\nShipping takes three working days.';

const created = await KnowledgeApi.createDataset({
  body: {
    space_id: await personalSpace(),
    name: 'Example handbook',
    description: 'made by examples/typescript/src/knowledge.ts',
    format_type: 0,
  },
  throwOnError: true,
});
const datasetId = created.data.data!.dataset_id;
console.log('created knowledge base', datasetId);
const documents = await KnowledgeApi.createDocuments({
  body: { dataset_id: datasetId, document_bases: [{ name: 'returns', source_info: { custom_content: handbook } }] },
  throwOnError: true,
});
const documentId = documents.data.data!.document_infos[0].document_id;

// processing runs in the background: status 0 processing, 1 done, 9 failed
let status = 0;
for (let attempt = 0; attempt < 60 && status === 0; attempt++) {
  const progress = await KnowledgeApi.documentProgress({ body: { document_ids: [documentId] }, throwOnError: true });
  status = progress.data.data!.data[0].status;
  if (status === 0) await sleep(500);
}
console.log(`document ${documentId} processed (status ${status})`);

const found = await KnowledgeApi.retrieve({
  body: { dataset_ids: [datasetId], query: 'How long do I have to return an item?' },
  throwOnError: true,
});
console.log('best match:', found.data.data!.slices[0].content);

await KnowledgeApi.deleteDataset({ body: { dataset_id: datasetId }, throwOnError: true });
console.log('deleted knowledge base', datasetId);
