// @coze/api (the official Node SDK) against cozeplus: an end user's variables, set and read.
// Usage: node tests/sdk/memory.mjs <baseURL> <pat> <bot_id>. Prints one JSON line with what it saw.
import { CozeAPI } from '@coze/api';

const [baseURL, token, botId] = process.argv.slice(2);
const client = new CozeAPI({ baseURL, token, allowPersonalAccessTokenInBrowser: true });
const out = {};
try {
  await client.variables.update({ bot_id: botId, connector_uid: 'js-user', data: [{ keyword: 'city', value: 'Porto' }] });
  const read = await client.variables.retrieve({ bot_id: botId, connector_uid: 'js-user', keywords: ['city', 'diet'] });
  out.items = read.items.map((i) => [i.keyword, i.value, i.create_time > 0]);
  const other = await client.variables.retrieve({ bot_id: botId, connector_uid: 'someone-else' });
  out.other_city = other.items.find((i) => i.keyword === 'city').value;
} catch (error) {
  out.unexpected_error = String(error && (error.stack || error));
}
try {
  await client.variables.update({ bot_id: botId, connector_uid: 'js-user', data: [{ keyword: 'nope', value: 'x' }] });
  out.unknown = 'accepted';
} catch (error) {
  out.unknown = { code: error.code, status: error.status };
}
console.log(JSON.stringify(out));
