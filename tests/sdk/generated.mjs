// The generated TypeScript SDK (build/sdks/typescript, made by codegen/sdks.py) against a live
// server: log in, create an agent, publish it, stream a chat, list, delete, and a refusal.
// Usage: node tests/sdk/generated.mjs BASE_URL EMAIL PASSWORD. Prints one JSON line of findings.
import { AgentApi, ChatApi, PassportApi, SpaceApi, client, streamChat } from '../../build/sdks/typescript/dist/index.js';

const [baseUrl, email, password] = process.argv.slice(2);
const seen = {};
try {
  client.setConfig({ baseUrl });
  const login = await PassportApi.emailLogin({ body: { email, password }, throwOnError: true });
  const token = login.data.data.token;
  client.setConfig({ baseUrl, auth: () => token });

  const spaces = await SpaceApi.listWorkspaces({ throwOnError: true });
  const spaceId = spaces.data.data.workspaces[0].id;
  const created = await AgentApi.openCreateBot({
    body: { space_id: spaceId, name: 'TypeScript SDK agent' },
    throwOnError: true,
  });
  const botId = created.data.data.bot_id;
  seen.created = { bot_id: botId, name: created.data.data.name };
  const published = await AgentApi.openPublishBot({
    body: { bot_id: botId, connector_ids: ['1024'] },
    throwOnError: true,
  });
  seen.published_version = published.data.data.version;

  const events = [];
  let answer = '';
  let completed = null;
  for await (const { event, data } of streamChat({
    body: {
      bot_id: botId,
      user_id: 'ts-sdk',
      additional_messages: [{ role: 'user', content: 'Hello from the TypeScript SDK', content_type: 'text' }],
    },
  })) {
    events.push(event);
    if (event === 'conversation.message.delta') answer += data.content;
    if (event === 'conversation.message.completed' && data.type === 'answer') completed = data.content;
    if (event === 'conversation.chat.completed') seen.chat = { id: data.id, conversation_id: data.conversation_id, status: data.status, usage: data.usage };
  }
  seen.events = events;
  seen.answer = answer;
  seen.completed = completed;

  const retrieved = await ChatApi.retrieveChat({
    query: { conversation_id: seen.chat.conversation_id, chat_id: seen.chat.id },
    throwOnError: true,
  });
  seen.retrieved_status = retrieved.data.data.status;

  const listed = await AgentApi.openListBots({ query: { workspace_id: spaceId }, throwOnError: true });
  seen.listed = listed.data.data.items.map((item) => item.id);
  const deleted = await AgentApi.deleteBot({ body: { bot_id: botId }, throwOnError: true });
  seen.delete_code = deleted.data.code;
  const gone = await AgentApi.openGetBot({ path: { bot_id: botId } });
  seen.after_delete = { status: gone.response.status, code: gone.error?.code };

  const refused = await AgentApi.openCreateBot({ body: { space_id: '123', name: 'Nowhere' } });
  seen.refused = { status: refused.response.status, code: refused.error?.code, msg: refused.error?.msg };
} catch (error) {
  seen.unexpected_error = String(error?.stack ?? JSON.stringify(error));
}
console.log(JSON.stringify(seen));
