// Memory: a database table (create it, add rows, read them back), and an agent's variables (declare
// one, set an end user's value, read it); then delete both.
import { AgentApi, MemoryApi } from '@cozeplus/sdk';
import { personalSpace } from './common.js';

const space = await personalSpace();
const made = await MemoryApi.addDatabase({
  body: {
    space_id: space,
    table_name: `orders_${Math.floor(Date.now() / 1000)}`, // a space's table names are unique
    table_desc: 'made by examples/typescript/src/memory.ts',
    field_list: [
      { name: 'item', type: 1, must_required: true },
      { name: 'quantity', type: 2 },
    ],
  },
  throwOnError: true,
});
const tableId = made.data.data!.database_info.id;
console.log('created table', tableId);
// table_type 1 is the draft copy (the playground's rows), 2 the published agent's
await MemoryApi.updateDatabaseRecords({
  body: {
    database_id: tableId,
    table_type: 1,
    record_data_add: [
      { item: 'Espresso cups', quantity: '6' },
      { item: 'Milk jug', quantity: '1' },
    ],
  },
  throwOnError: true,
});
const rows = await MemoryApi.listDatabaseRecords({ body: { database_id: tableId, table_type: 1 }, throwOnError: true });
console.log('rows:', JSON.stringify(rows.data.data!.map((row) => ({ item: row.item, quantity: row.quantity }))));

const bot = await AgentApi.createBot({ body: { space_id: space, name: 'Example memory agent' }, throwOnError: true });
const botId = bot.data.data!.bot_id;
await AgentApi.updateDraftBotInfo({
  body: {
    bot_info: {
      bot_id: botId,
      variable_list: [{ key: 'city', description: 'Where the user lives', default_value: 'Paris' }],
    },
  },
  throwOnError: true,
});
await MemoryApi.openSetVariables({
  body: { bot_id: botId, connector_uid: 'example-user', data: [{ keyword: 'city', value: 'Lyon' }] },
  throwOnError: true,
});
const values = await MemoryApi.openGetVariables({
  query: { bot_id: botId, connector_uid: 'example-user' },
  throwOnError: true,
});
console.log(
  'variables of example-user:',
  JSON.stringify(values.data.data!.items.map((v) => ({ keyword: v.keyword, value: v.value }))),
);

await MemoryApi.deleteDatabase({ body: { id: tableId }, throwOnError: true });
await AgentApi.deleteBot({ body: { bot_id: botId }, throwOnError: true });
console.log(`deleted table ${tableId} and agent ${botId}`);
