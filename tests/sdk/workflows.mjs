// @coze/api (the official Node SDK) against cozeplus: workflows run, streamed, resumed, polled.
// Usage: node tests/sdk/workflows.mjs <baseURL> <pat> <greeting_id> <asking_id> <chatflow_id>. Prints one JSON line.
import { CozeAPI } from '@coze/api';

const [baseURL, token, greetingId, askingId, chatflowId] = process.argv.slice(2);
const client = new CozeAPI({ baseURL, token, allowPersonalAccessTokenInBrowser: true });
const out = {};
try {
  const run = await client.workflows.runs.create({ workflow_id: greetingId, parameters: { name: 'Js' } });
  out.sync = JSON.parse(run.data);
  const started = await client.workflows.runs.create({ workflow_id: greetingId, parameters: { name: 'Later' }, is_async: true });
  let history;
  for (let tries = 0; tries < 200; tries += 1) {
    [history] = await client.workflows.runs.history(greetingId, started.execute_id);
    if (history.execute_status !== 'Running') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  out.async = [history.execute_status, JSON.parse(history.output)];
  const events = [];
  let interrupt;
  for await (const event of client.workflows.runs.stream({ workflow_id: askingId, parameters: { name: 'Js' } })) {
    events.push(event.event);
    if (event.event === 'Interrupt') interrupt = event.data.interrupt_data;
  }
  out.streamed = events;
  const resumed = [];
  for await (const event of client.workflows.runs.resume({
    workflow_id: askingId, event_id: interrupt.event_id, resume_data: '7', interrupt_type: interrupt.type,
  })) {
    resumed.push(event.event === 'Message' ? event.data.content : event.event);
  }
  out.resumed = resumed;
  const chatted = [];
  for await (const part of client.workflows.chat.stream({
    workflow_id: chatflowId,
    additional_messages: [{ role: 'user', content: 'Js', content_type: 'text' }],
  })) {
    if (part.event === 'conversation.message.completed') chatted.push(part.data.content);
  }
  out.chatted = chatted;
} catch (error) {
  out.unexpected_error = String(error && (error.stack || error));
}
try {
  await client.workflows.runs.create({ workflow_id: askingId, parameters: { name: 'Js' } });
  out.sync_interrupt = 'accepted';
} catch (error) {
  out.sync_interrupt = { code: error.code, status: error.status };
}
console.log(JSON.stringify(out));
