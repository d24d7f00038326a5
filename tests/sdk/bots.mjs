// @coze/api (the official Node SDK) against cozeplus: users, workspaces, bots; a bad token.
// Usage: node tests/sdk/bots.mjs <baseURL> <pat>. Prints one JSON line with what it saw.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CozeAPI } from '@coze/api';

const [baseURL, token] = process.argv.slice(2);
const client = new CozeAPI({ baseURL, token, allowPersonalAccessTokenInBrowser: true });
const out = {};
try {
  const me = await client.users.me();
  out.me = me.user_id;
  const workspaces = await client.workspaces.list({ page_num: 1, page_size: 20 });
  const space = workspaces.workspaces[0];
  out.workspace_type = space.workspace_type;
  const bot = await client.bots.create({
    space_id: space.id, name: 'JS agent', description: 'made by @coze/api',
    prompt_info: { prompt: 'Answer in one sentence.' },
    onboarding_info: { prologue: 'Hello from JS', suggested_questions: ['What now?'] },
  });
  out.bot_id = bot.bot_id;
  await client.bots.update({ bot_id: bot.bot_id, description: 'updated by @coze/api' });
  const published = await client.bots.publish({ bot_id: bot.bot_id, connector_ids: ['1024'] });
  out.published_version = published.version;
  const online = await client.bots.retrieve({ bot_id: bot.bot_id });
  out.online_description = online.description;
  out.online_prologue = online.onboarding_info.prologue;
  const draft = await client.bots.retrieveNew(bot.bot_id, { is_published: false });
  out.draft_prompt = draft.prompt_info.prompt;
  const listed = await client.bots.listNew({ workspace_id: space.id, page_size: 50 });
  out.listed = listed.items.map((b) => b.id);
  const v1 = await client.bots.list({ space_id: space.id, page_size: 50 });
  out.v1_listed = v1.space_bots.map((b) => b.bot_id);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coze-js-')), 'hello.txt');
  fs.writeFileSync(file, 'hello from @coze/api\n');
  const uploaded = await client.files.upload({ file: fs.createReadStream(file) });
  out.file_name = uploaded.file_name;
  out.file_retrieved = (await client.files.retrieve(uploaded.id)).id === uploaded.id;
} catch (error) {
  out.unexpected_error = String(error && (error.stack || error));
}
try {
  await new CozeAPI({ baseURL, token: 'pat_' + '0'.repeat(64) }).workspaces.list({});
  out.bad_token = 'accepted';
} catch (error) {
  out.bad_token = { name: error.constructor.name, code: error.code, status: error.status };
}
console.log(JSON.stringify(out));
