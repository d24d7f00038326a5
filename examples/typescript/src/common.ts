// What the examples share: the generated SDK's client pointed at COZEPLUS_BASE_URL with the token
// COZEPLUS_TOKEN, and the caller's personal space.
import { SpaceApi, client } from '@cozeplus/sdk';
import { fileURLToPath } from 'node:url';

const token = process.env.COZEPLUS_TOKEN;
if (!token) throw new Error('set COZEPLUS_TOKEN to a personal access token (or a session token)');
export const baseUrl = process.env.COZEPLUS_BASE_URL ?? 'http://127.0.0.1:8888';
client.setConfig({ baseUrl, auth: () => token });

export const dataDir = fileURLToPath(new URL('../../data/', import.meta.url));

export async function personalSpace(): Promise<string> {
  const spaces = await SpaceApi.listWorkspaces({ throwOnError: true });
  return spaces.data.data!.workspaces.find((space) => space.workspace_type === 'personal')!.id;
}
