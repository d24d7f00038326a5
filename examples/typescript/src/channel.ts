// Channels: publish an agent to a generic webhook channel, send it a message the way an outside
// system would (signed with the channel's secret), read the answer and the channel's log, unbind.
import { AgentApi, ChannelApi } from '@cozeplus/sdk';
import { createHmac } from 'node:crypto';
import { baseUrl, personalSpace } from './common.js';

const created = await AgentApi.openCreateBot({
  body: { space_id: await personalSpace(), name: 'Example channel agent' },
  throwOnError: true,
});
const botId = created.data.data!.bot_id;
await AgentApi.openPublishBot({ body: { bot_id: botId, connector_ids: ['1024'] }, throwOnError: true });
const types = await ChannelApi.channelTypes({ throwOnError: true });
console.log('types:', types.data.data!.types.map((t) => t.type).join(', '));

// reply_mode "sync" (the default) answers in the callback's response
const made = await ChannelApi.channelCreate({ body: { bot_id: botId, type: 'webhook', config: {} }, throwOnError: true });
const channelId = made.data.data!.id;
const secret = made.data.data!.secrets.secret; // shown once, at creation
console.log('bound channel', channelId);

// what the outside system sends (a plain POST, no SDK):
// X-Cozeplus-Signature t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")
const body = JSON.stringify({ user_id: 'crm-42', text: 'Hello from a webhook', message_id: 'm-1' });
const stamp = Math.floor(Date.now() / 1000);
const signature = createHmac('sha256', secret).update(`${stamp}.${body}`).digest('hex');
const reply = await fetch(`${baseUrl}/api/channel/callback/${channelId}`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', 'X-Cozeplus-Signature': `t=${stamp},v1=${signature}` },
  body,
});
console.log('answer:', (await reply.json()).data.answer);
const logged = await ChannelApi.channelMessages({ body: { id: channelId }, throwOnError: true });
console.log('messages logged:', logged.data.data!.total);

await ChannelApi.channelDelete({ body: { id: channelId }, throwOnError: true });
await AgentApi.deleteBot({ body: { bot_id: botId }, throwOnError: true });
console.log(`unbound channel ${channelId} and deleted agent ${botId}`);
