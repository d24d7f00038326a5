// Agents: create one, publish it to the API, chat with it (streamed), list, delete.
import { AgentApi, streamChat } from '@cozeplus/sdk';
import { personalSpace } from './common.js';

const space = await personalSpace();
const created = await AgentApi.openCreateBot({
  body: {
    space_id: space,
    name: 'Example agent',
    description: 'made by examples/typescript/src/agent.ts',
    prompt_info: { prompt: 'You are a concise assistant.' },
  },
  throwOnError: true,
});
const botId = created.data.data!.bot_id;
console.log('created agent', botId);
await AgentApi.openPublishBot({ body: { bot_id: botId, connector_ids: ['1024'] }, throwOnError: true });
console.log('published');

process.stdout.write('answer: ');
for await (const { event, data } of streamChat({
  body: {
    bot_id: botId,
    user_id: 'example-user',
    additional_messages: [{ role: 'user', content: 'Hello from TypeScript', content_type: 'text' }],
  },
})) {
  if (event === 'conversation.message.delta') process.stdout.write(data.content);
}
console.log();

const listed = await AgentApi.openListBots({ query: { workspace_id: space }, throwOnError: true });
console.log('agents in the space:', listed.data.data!.items.map((item) => item.name).join(', '));
await AgentApi.deleteBot({ body: { bot_id: botId }, throwOnError: true });
console.log('deleted agent', botId);
