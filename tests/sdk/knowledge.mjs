// @coze/api (the official Node SDK) against cozeplus: datasets, documents, progress, images.
// Usage: node tests/sdk/knowledge.mjs <baseURL> <pat>. Prints one JSON line with what it saw.
import { CozeAPI } from '@coze/api';

const [baseURL, token] = process.argv.slice(2);
const client = new CozeAPI({ baseURL, token, allowPersonalAccessTokenInBrowser: true });
const out = {};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
try {
  const space = (await client.workspaces.list({ page_num: 1, page_size: 20 })).workspaces[0];
  const { dataset_id } = await client.datasets.create({ name: `JS manuals ${Date.now()}`, space_id: space.id, format_type: 0, description: 'made by @coze/api' });
  out.dataset_id = dataset_id;
  const created = await client.datasets.documents.create({
    dataset_id,
    document_bases: [{ name: 'care.txt', source_info: { file_base64: Buffer.from('Descale the kettle every month.').toString('base64'), file_type: 'txt' } }],
    chunk_strategy: { chunk_type: 0 },
  });
  const documentId = created[0].document_id;
  out.created_name = created[0].name;
  let progress;
  for (let tries = 0; tries < 100; tries += 1) {
    progress = (await client.datasets.process(dataset_id, { document_ids: [documentId] })).data;
    if (progress[0].status !== 0) break;
    await sleep(100);
  }
  out.progress_status = progress[0].status;
  const listed = await client.datasets.documents.list({ dataset_id, page: 1, page_size: 10 });
  out.listed = listed.document_infos.map((d) => [d.name, d.slice_count]);
  await client.datasets.documents.update({ document_id: documentId, document_name: 'kettle-care.txt' });
  out.renamed = (await client.datasets.documents.list({ dataset_id })).document_infos[0].name;
  const datasets = await client.datasets.list({ space_id: space.id, name: 'JS manuals', page_size: 50 });
  out.dataset_listed = datasets.dataset_list.some((d) => d.dataset_id === dataset_id && d.doc_count === 1);
  await client.datasets.update(dataset_id, { name: 'JS manuals renamed', description: 'updated' });
  await client.datasets.documents.delete({ document_ids: [documentId] });
  out.after_delete = (await client.datasets.documents.list({ dataset_id })).total;
  const images = await client.datasets.images.list(dataset_id, { page_num: 1, page_size: 10 });
  out.images_total = images.total_count;
  await client.datasets.delete(dataset_id);
  const left = await client.datasets.list({ space_id: space.id, page_size: 50 });
  out.deleted = !left.dataset_list.some((d) => d.dataset_id === dataset_id);
} catch (error) {
  out.unexpected_error = String(error && (error.stack || error));
}
console.log(JSON.stringify(out));
