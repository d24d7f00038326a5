// @coze/api (the official Node SDK) against cozeplus: streaming chat, createAndPoll, chat
// messages, conversations and their messages, cancel; a bad token.
// Usage: node tests/sdk/chat.mjs <baseURL> <pat> <published bot id>. Prints one JSON line.
import { ChatEventType, CozeAPI, RoleType } from '@coze/api';

const [baseURL, token, botId] = process.argv.slice(2);
const client = new CozeAPI({ baseURL, token, allowPersonalAccessTokenInBrowser: true });
const question = (text) => [{ role: RoleType.User, content: text, content_type: 'text' }];
const out = { events: [] };
try {
  let joined = '';
  for await (const part of client.chat.stream({ bot_id: botId, user_id: 'js-user', additional_messages: question('Hello from JS') })) {
    out.events.push(part.event);
    if (part.event === ChatEventType.CONVERSATION_MESSAGE_DELTA) joined += part.data.content;
    if (part.event === ChatEventType.CONVERSATION_MESSAGE_COMPLETED && part.data.type === 'answer') out.completed = part.data.content;
  }
  out.joined = joined;

  const polled = await client.chat.createAndPoll({ bot_id: botId, user_id: 'js-user', additional_messages: question('/echo polled by js') });
  out.polled_status = polled.chat.status;
  out.polled_answer = polled.messages.find((m) => m.type === 'answer').content;
  const chatMessages = await client.chat.messages.list(polled.chat.conversation_id, polled.chat.id);
  out.chat_messages = chatMessages.map((m) => m.type);

  const conversation = await client.conversations.create({ bot_id: botId, meta_data: { via: 'js' } });
  const listed = await client.conversations.list({ bot_id: botId, page_num: 1, page_size: 50 });
  out.conversation_listed = listed.conversations.some((c) => c.id === conversation.id);
  out.conversation_retrieved = (await client.conversations.retrieve(conversation.id)).id === conversation.id;
  const section = await client.conversations.clear(conversation.id);
  out.cleared_section = section.conversation_id === conversation.id && section.id !== conversation.last_section_id;
  const first = await client.conversations.messages.create(conversation.id, { role: RoleType.User, content: 'js 1', content_type: 'text' });
  await client.conversations.messages.create(conversation.id, { role: RoleType.User, content: 'js 2', content_type: 'text' });
  const page = await client.conversations.messages.list(conversation.id, { limit: 10 });
  out.messages = page.data.map((m) => m.content);
  out.message_retrieved = (await client.conversations.messages.retrieve(conversation.id, first.id)).content;
  out.message_updated = (await client.conversations.messages.update(conversation.id, first.id, { content: 'js 1 edited' })).content;
  await client.conversations.messages.delete(conversation.id, first.id);
  const after = await client.conversations.messages.list(conversation.id, { limit: 10 });
  out.message_deleted = !after.data.some((m) => m.id === first.id);

  const running = await client.chat.create({ bot_id: botId, user_id: 'js-user', additional_messages: question('/slow 100\nslowly please') });
  out.cancelled = (await client.chat.cancel(running.conversation_id, running.id)).status;
} catch (error) {
  out.unexpected_error = String(error && (error.stack || error));
}
try {
  await new CozeAPI({ baseURL, token: 'pat_' + '2'.repeat(64) }).chat.create({ bot_id: botId, user_id: 'x', additional_messages: question('hi') });
  out.bad_token = 'accepted';
} catch (error) {
  out.bad_token = { name: error.constructor.name, code: error.code, status: error.status };
}
console.log(JSON.stringify(out));
