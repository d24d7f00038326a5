// @hey-api/openapi-ts: the fetch client, types, and one class per tag (ChatApi, AgentApi...);
// the suffix keeps the classes apart from the schemas of the same name (Chat, Space).
export default {
  input: process.env.COZEPLUS_SPEC,
  output: { path: 'src', importFileExtension: '.js' },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    { name: '@hey-api/sdk', operations: { strategy: 'byTags', containerName: (tag) => `${tag}Api` } },
  ],
};
