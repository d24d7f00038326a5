// Plugins: register one from an OpenAPI document, list its tools, call a tool, delete the plugin.
import { PluginApi } from '@cozeplus/sdk';
import { readFileSync } from 'node:fs';
import { dataDir, personalSpace } from './common.js';

const toolUrl = process.env.EXAMPLE_TOOL_URL ?? 'https://httpbin.org';
const registered = await PluginApi.registerPlugin({
  body: {
    space_id: await personalSpace(),
    ai_plugin: readFileSync(dataDir + 'lookup-tool.manifest.json', 'utf8'),
    openapi: readFileSync(dataDir + 'lookup-tool.openapi.yaml', 'utf8').replaceAll('TOOL_URL', toolUrl),
  },
  throwOnError: true,
});
const pluginId = registered.data.data!.plugin_id;
console.log('registered plugin', pluginId);

const tools = (await PluginApi.getPluginApis({ body: { plugin_id: pluginId }, throwOnError: true })).data.api_info;
console.log('tools:', tools.map((tool) => tool.name).join(', '));
const tool = tools.find((candidate) => candidate.name === 'lookup_city')!;

// operation 1 calls the tool with these arguments (a JSON string) and reports what it answered
const result = await PluginApi.debugApi({
  body: { plugin_id: pluginId, api_id: tool.api_id, operation: 1, parameters: JSON.stringify({ city: 'Lyon' }) },
  throwOnError: true,
});
console.log('tool answered:', JSON.stringify(JSON.parse(result.data.raw_resp).args));

await PluginApi.delPlugin({ body: { plugin_id: pluginId }, throwOnError: true });
console.log('deleted plugin', pluginId);
