// Workflows: create one, save its canvas (Start -> a text node -> End), publish, run it, read the
// run's record, delete.
import { WorkflowApi, WorkflowRunApi } from '@cozeplus/sdk';
import { readFileSync } from 'node:fs';
import { dataDir, personalSpace } from './common.js';

const created = await WorkflowApi.workflowCreate({
  body: {
    space_id: await personalSpace(),
    name: 'example_greeting',
    desc: 'made by examples/typescript/src/workflow.ts',
    flow_mode: 0,
  },
  throwOnError: true,
});
const workflowId = created.data.data!.workflow_id;
console.log('created workflow', workflowId);
const canvas = readFileSync(dataDir + 'greeting-canvas.json', 'utf8'); // travels as a JSON string
await WorkflowApi.workflowSave({ body: { workflow_id: workflowId, schema: canvas }, throwOnError: true });
await WorkflowApi.workflowPublish({ body: { workflow_id: workflowId, force: true }, throwOnError: true });
console.log('saved and published');

const run = await WorkflowRunApi.openWorkflowRun({
  body: { workflow_id: workflowId, parameters: { name: 'Ada' } },
  throwOnError: true,
});
console.log('output:', run.data.data);
const executeId = run.data.execute_id!;
const record = await WorkflowRunApi.openWorkflowRunHistories({
  path: { workflow_id: workflowId, execute_id: executeId },
  throwOnError: true,
});
console.log(`run ${executeId}: ${record.data.data![0].execute_status}`);

await WorkflowApi.workflowDelete({ body: { workflow_id: workflowId }, throwOnError: true });
console.log('deleted workflow', workflowId);
