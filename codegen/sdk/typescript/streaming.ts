// Streamed chats. /v3/chat answers JSON (stream: false) or Server-Sent Events (stream: true), and
// the generated ChatApi.chat reads JSON, so streamChat goes through the client's SSE reader,
// keeping each event's name beside its data.
import { client } from './client.gen.js';
import type { ChatData } from './types.gen.js';

export { client };

export interface StreamedEvent {
  /** conversation.chat.created, conversation.message.delta, ..., done */
  event: string;
  /** the event's JSON (a chat or a message), or the text "[DONE]" */
  data: any;
}

export async function* streamChat(options: {
  body: ChatData['body'];
  query?: ChatData['query'];
  signal?: AbortSignal;
}): AsyncGenerator<StreamedEvent> {
  let name = 'message';
  const { stream } = await client.sse.post({
    url: '/v3/chat',
    body: { ...options.body, stream: true },
    query: options.query,
    signal: options.signal,
    security: [{ scheme: 'bearer', type: 'http' }],
    headers: { 'Content-Type': 'application/json' },
    sseMaxRetryAttempts: 0, // a chat is not resumed by posting it again
    onSseEvent: (event) => {
      name = event.event ?? 'message';
    },
  });
  for await (const data of stream) yield { event: name, data };
}
