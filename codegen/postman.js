#!/usr/bin/env node
// openapi.yaml -> postman/collection.json (openapi-to-postmanv2), then: deterministic ids, a
// runnable order (log in first, log out last), request data that chains ids between requests,
// and a test script on every request that checks its status and the {code, msg, data} envelope.
// Usage: node codegen/postman.js [--out FILE]. Imports nothing from the app.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
// The converter fakes example values with Math.random: seed it so generation is reproducible.
let seed = 20241;
Math.random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const converter = require('openapi-to-postmanv2');

const ROOT = path.resolve(__dirname, '..');
const SPEC_PATH = path.join(ROOT, 'openapi.yaml');
const outIndex = process.argv.indexOf('--out');
const OUT = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(ROOT, 'postman', 'collection.json');

// Per operation: what to send and what to remember. Variables: baseUrl, adminEmail, adminPassword
// (given by the environment), bearerToken, spaceId, patId, avatarKey (set by earlier requests).
// The run leaves a server as it found it: the admin only does the super-admin requests (a model
// it creates and deletes, the knowledge config saved back as it was read) and logs out; the rest
// is done by a user the run registers, in that user's personal space, deleting what it makes.
const ADMIN_LOGIN_BODY = { email: '{{adminEmail}}', password: '{{adminPassword}}' };
const REMEMBER_TOKEN = ["pm.collectionVariables.set('bearerToken', body.data.token);"];
// A pre-request script that polls until a remembered document is processed (status not 0 or 4).
function waitForDocument(variable = 'documentId') {
  return [
    "const poll = (tries) => pm.sendRequest({",
    "  url: pm.variables.get('baseUrl') + '/api/knowledge/document/progress/get', method: 'POST',",
    "  header: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + pm.variables.get('bearerToken') },",
    `  body: { mode: 'raw', raw: JSON.stringify({ document_ids: [pm.variables.get('${variable}')] }) },`,
    "}, (error, response) => {",
    "  const status = error ? 0 : response.json().data.data[0].status;",
    "  if ((status === 0 || status === 4) && tries > 0) setTimeout(() => poll(tries - 1), 200);",
    "});",
    "poll(100);",
  ];
}
// A pre-request script that polls until the remembered test run has ended (executeStatus not 1).
function waitForRun() {
  return [
    "const poll = (tries) => pm.sendRequest({",
    "  url: pm.variables.get('baseUrl') + '/api/workflow_api/get_process?workflow_id=' + pm.variables.get('workflowId') + '&execute_id=' + pm.variables.get('executeId'),",
    "  header: { Authorization: 'Bearer ' + pm.variables.get('bearerToken') },",
    "}, (error, response) => {",
    "  const status = error ? 1 : response.json().data.executeStatus;",
    "  if (status === 1 && tries > 0) setTimeout(() => poll(tries - 1), 100);",
    "});",
    "poll(100);",
  ];
}
const OVERRIDES = {
  email_login_seed: { body: ADMIN_LOGIN_BODY, remember: REMEMBER_TOKEN, auth: 'none' },
  email_register: {
    prerequest: ["pm.collectionVariables.set('userEmail', `postman-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`);"],
    body: { email: '{{userEmail}}', password: '{{userPassword}}', name: 'Postman User' },
    remember: [...REMEMBER_TOKEN, "pm.collectionVariables.set('userId', body.data.user_id);"],
    auth: 'none',
  },
  email_login: { body: { email: '{{userEmail}}', password: '{{userPassword}}' }, remember: REMEMBER_TOKEN, auth: 'none' },
  // administrators' user management (run as the admin, before its logout): a colleague made, disabled, its password reset
  admin_list_users: { body: { keyword: 'example.com', limit: 20 } },
  admin_create_user: {
    prerequest: ["pm.collectionVariables.set('colleagueEmail', `colleague-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`);"],
    body: { email: '{{colleagueEmail}}', password: 'Colleague-pass-1', name: 'Postman colleague' },
    remember: ["pm.collectionVariables.set('colleagueId', body.data.user.user_id);"],
  },
  admin_update_user_status: { body: { user_id: '{{colleagueId}}', is_disabled: 1 } },
  admin_reset_password: { body: { email: '{{colleagueEmail}}', new_password: 'Colleague-pass-2' } },
  audit_list: { body: { operation: 'admin_create_user', size: 20 } },
  // roles (as the admin): the catalogue, a custom role given to the colleague and taken back, then deleted
  list_permission_templates: { body: { domain: 'space' } },
  list_roles: { body: { page: 1, page_size: 20 } },
  create_role: {
    prerequest: ["pm.collectionVariables.set('roleCode', `postman_${Date.now()}_${Math.floor(Math.random() * 1e6)}`);"],
    body: { role_code: '{{roleCode}}', role_name: 'Postman publisher', role_domain: 'space', permissions: [{ domain: 'space', resources: [{ resource: 'agent', actions: [{ action: 'publish' }] }] }] },
    remember: ["pm.collectionVariables.set('roleId', body.data.id);"],
  },
  update_role: { body: { id: '{{roleId}}', description: 'Edited by the Postman collection' } },
  get_role: { query: { id: '{{roleId}}' } },
  assign_roles: { body: { user_id: '{{colleagueId}}', role_ids: ['{{roleId}}'] } },
  get_user_roles: { query: { user_id: '{{colleagueId}}' } },
  unassign_roles: { body: { user_id: '{{colleagueId}}', role_ids: ['{{roleId}}'] } },
  delete_role: { body: { id: '{{roleId}}' } },
  // organisations (as the admin): an organization, a department and an employee with a login, then removed
  create_corporation: { body: { name: 'Postman Group', corp_type: 1 }, remember: ["pm.collectionVariables.set('corpId', body.data.id);"] },
  get_corporation: { pathVariables: { id: '{{corpId}}' } },
  update_corporation: { pathVariables: { id: '{{corpId}}' }, body: { name: 'Postman Group Holdings', sort: 1 } },
  list_corporations: { body: { keyword: 'Postman', page: 1, page_size: 20 } },
  create_department: {
    body: { name: 'Postman Engineering', corp_id: '{{corpId}}', code: 'PM-ENG' },
    remember: ["pm.collectionVariables.set('departmentId', body.data.id);"],
  },
  get_department: { pathVariables: { id: '{{departmentId}}' } },
  update_department: { pathVariables: { id: '{{departmentId}}' }, body: { name: 'Postman Platform' } },
  list_departments: { body: { corp_id: '{{corpId}}', page: 1, page_size: 20 } },
  get_department_tree: { body: { corp_id: '{{corpId}}' } },
  sort_departments: { body: { parent_id: '{{corpId}}', department_ids: [{ id: '{{departmentId}}', sort: 1 }] } },
  move_department: { body: { id: '{{departmentId}}', parent_id: '{{corpId}}', sort: 0 } },
  create_employee: {
    prerequest: [
      "pm.collectionVariables.set('employeeEmail', `employee-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`);",
      "pm.collectionVariables.set('employeeMobile', `+86${Date.now() % 1e11}`);",
    ],
    body: { name: 'Postman Employee', mobile: '{{employeeMobile}}', email: '{{employeeEmail}}', department_ids: [{ department_id: '{{departmentId}}', job_title: 'Engineer', is_primary: true }], create_account: 1, password: 'Employee-pass-1' },
    remember: ["pm.collectionVariables.set('employeeId', body.data.id);"],
  },
  get_employee: { pathVariables: { id: '{{employeeId}}' } },
  update_employee: { pathVariables: { id: '{{employeeId}}' }, body: { nickname: 'Postie' } },
  list_employees: { body: { corp_id: '{{corpId}}', status: 1, page: 1, page_size: 20 } },
  change_employee_department: { pathVariables: { id: '{{employeeId}}' }, body: { departments: [{ department_id: '{{departmentId}}', job_title: 'Lead' }] } },
  resign_employee: { pathVariables: { id: '{{employeeId}}' }, body: { reason: 'End of the Postman run' } },
  restore_employee: { pathVariables: { id: '{{employeeId}}' }, body: { departments: [{ department_id: '{{departmentId}}' }] } },
  get_organization_tree: { body: { corp_id: '{{corpId}}', include_departments: true } },
  delete_employee: { pathVariables: { id: '{{employeeId}}' } },
  delete_department: { pathVariables: { id: '{{departmentId}}' } },
  delete_corporation: { pathVariables: { id: '{{corpId}}' } },
  update_profile: { body: { name: 'Postman User', description: 'Updated by the Postman collection' } },
  update_password: {
    body: { old_password: '{{userPassword}}', new_password: 'postman-password-2' },
    remember: ["pm.collectionVariables.set('userPassword', 'postman-password-2');"],
  },
  upload_avatar: {
    formdata: [{ key: 'avatar', type: 'file', src: 'postman/fixtures/avatar.png' }],
    remember: ["pm.collectionVariables.set('avatarKey', body.data.web_uri.split('/').pop());"],
  },
  get_avatar: { pathVariables: { avatar_key: '{{avatarKey}}' }, json: false, auth: 'none' },
  metrics: { json: false, auth: 'none' },
  list_spaces: { body: {}, remember: ["pm.collectionVariables.set('spaceId', body.data.bot_space_list[0].id);"] },
  get_space: { body: { space_id: '{{spaceId}}' } },
  create_pat: { body: { name: 'postman-token', duration_day: '1' }, remember: ["pm.collectionVariables.set('patId', body.data.personal_access_token.id);"] },
  list_pats: { query: { page: '1', size: '10' } },
  get_pat: { query: { id: '{{patId}}' } },
  update_pat: { body: { id: '{{patId}}', name: 'postman-token-renamed' } },
  delete_pat: { body: { id: '{{patId}}' } },
  account_info: { body: {} },
  healthz: { auth: 'none' },
  create_model: {
    body: { name: 'Postman model', model_name: 'gpt-4o-mini', base_url: 'https://api.openai.com/v1', api_key: 'sk-postman-example-key' },
    remember: ["pm.collectionVariables.set('modelId', body.data.model.id);"],
  },
  update_model: { body: { id: '{{modelId}}', is_enabled: false } },
  list_models: { body: { include_disabled: true } },
  delete_model: { body: { id: '{{modelId}}' } },
  get_knowledge_config: {
    remember: ["const { embedding_model_id, rerank_model_id, caption_model_id } = body.data;",
      "pm.collectionVariables.set('knowledgeConfig', JSON.stringify({ embedding_model_id, rerank_model_id, caption_model_id }));"],
  },
  save_knowledge_config: { raw: '{{knowledgeConfig}}' }, // saved back as it was read
  get_type_list: { body: { model: true } },
  create_bot: {
    body: { name: 'My agent', description: 'Test agent', bot_mode: 0, model_conf: { model_id: '1' } },
    remember: ["pm.collectionVariables.set('botId', body.data.bot_id);"],
  },
  get_display_info: { body: { bot_id: '{{botId}}' } },
  update_display_info: { body: { bot_id: '{{botId}}', display_info: { tab_display_info: { plugin_tab_status: 1 } } } },
  get_draft_bot_info: { body: { bot_id: '{{botId}}' } },
  update_draft_bot_info: {
    body: { bot_info: { bot_id: '{{botId}}', prompt_info: { prompt: 'You are a helpful assistant.' },
      variable_list: [{ key: 'city', description: 'Where the user lives', default_value: 'Paris' }] } },
  },
  duplicate_bot: { body: { bot_id: '{{botId}}' }, remember: ["pm.collectionVariables.set('copiedBotId', body.data.bot_id);"] },
  commit_check: { body: { bot_id: '{{botId}}', commit_version: '1' } },
  publish_bot: { body: { bot_id: '{{botId}}', connectors: { 1024: {}, 999: {} } } },
  list_publish_connectors: { body: { bot_id: '{{botId}}' } },
  list_draft_history: { body: { bot_id: '{{botId}}', page_index: 1, page_size: 10 } },
  delete_bot: { body: { bot_id: '{{botId}}' } },
  open_create_bot: {
    body: { space_id: '{{spaceId}}', name: 'SDK agent', prompt_info: { prompt: 'Be brief.' } },
    remember: ["pm.collectionVariables.set('openBotId', body.data.bot_id);"],
  },
  open_update_bot: { body: { bot_id: '{{openBotId}}', description: 'Updated through the Open API' } },
  open_publish_bot: { body: { bot_id: '{{openBotId}}', connector_ids: ['1024'] } },
  // the OpenAI facade, with the agent published through the Open API (run late: it must be published)
  list_agent_models: { json: false },
  chat_completions: { body: { model: '{{openBotId}}', messages: [{ role: 'user', content: 'Hello from Postman' }] }, json: false },
  get_online_info: { query: { bot_id: '{{openBotId}}' } },
  open_get_bot: { pathVariables: { bot_id: '{{openBotId}}' }, query: { is_published: 'true' } },
  open_list_bots: { query: { workspace_id: '{{spaceId}}', page_index: '1', page_size: '20' } },
  published_bots_list: { query: { space_id: '{{spaceId}}', page_index: '1', page_size: '20' } },
  list_workspaces: { query: { page_num: '1', page_size: '20' } },
  upload_file: {
    formdata: [{ key: 'file', type: 'file', src: 'postman/fixtures/avatar.png' }],
    remember: ["pm.collectionVariables.set('fileId', body.data.id);"],
  },
  retrieve_file: { query: { file_id: '{{fileId}}' } },
  bot_upload_file: { body: { file_head: { file_type: 'txt', biz_type: 1 }, data: 'aGVsbG8=' } },
  download_file: { pathVariables: { file_id: '{{fileId}}' }, query: {}, json: false },
  upsert_prompt_resource: {
    body: { prompt: { space_id: '{{spaceId}}', name: 'Support persona', prompt_text: 'You are polite.' } },
    remember: ["pm.collectionVariables.set('promptId', body.data.id);"],
  },
  get_prompt_resource_info: { query: { prompt_resource_id: '{{promptId}}' } },
  delete_prompt_resource: { body: { prompt_resource_id: '{{promptId}}' } },
  get_official_prompt_list: { body: { keyword: 'support' } },
  create_update_shortcut_command: {
    body: { object_id: '{{openBotId}}', shortcuts: { command_name: 'Summarise', shortcut_command: '/summary', template_query: 'Summarise: {{text}}' } },
    remember: ["pm.collectionVariables.set('commandId', body.data.shortcuts.command_id);"],
  },
  list_shortcut_commands: { body: { object_id: '{{openBotId}}' } },
  delete_shortcut_command: { body: { object_id: '{{openBotId}}', command_id: '{{commandId}}' } },
  get_draft_intelligence_list: { body: { space_id: '{{spaceId}}', order_by: 0, size: 20 } },
  get_recently_edit_intelligence: { body: { size: 10 } },
  library_resource_list: { body: { space_id: '{{spaceId}}', res_type_filter: [6], size: 20 } },
  apply_upload_action: { query: { Action: 'ApplyImageUpload', FileExtension: '.png' } },
  apply_upload_action_post: {
    query: { Action: 'ApplyImageUpload', FileExtension: '.png' },
    body: {},
    remember: [
      "pm.collectionVariables.set('storeUri', body.data.Result.UploadAddress.StoreInfos[0].StoreUri);",
      "pm.collectionVariables.set('uploadSession', body.data.Result.UploadAddress.SessionKey);",
    ],
  },
  upload_to_store: {
    auth: 'none',
    pathVariables: { store_uri: '{{storeUri}}' },
    headers: { Authorization: '{{uploadSession}}', 'Content-Type': 'application/octet-stream' },
    file: 'postman/fixtures/avatar.png',
  },
  // conversations and chats (the agents above are openBotId, published to the API, and botId)
  get_message_list: {
    body: { bot_id: '{{botId}}', scene: 4, cursor: '0', count: 10 },
    remember: ["pm.collectionVariables.set('webConversationId', body.data.conversation_id);"],
  },
  create_section: { body: { conversation_id: '{{webConversationId}}', scene: 4 } },
  create_conversation: {
    body: { bot_id: '{{openBotId}}', meta_data: { source: 'postman' } },
    remember: ["pm.collectionVariables.set('conversationId', body.data.id);"],
  },
  retrieve_conversation: { query: { conversation_id: '{{conversationId}}' } },
  list_conversations: { query: { bot_id: '{{openBotId}}', page_num: '1', page_size: '20' } },
  update_conversation: { pathVariables: { conversation_id: '{{conversationId}}' }, body: { name: 'Postman run' } },
  clear_conversation: { pathVariables: { conversation_id: '{{conversationId}}' } },
  create_message: {
    query: { conversation_id: '{{conversationId}}' },
    body: { role: 'user', content: 'Remember that I prefer trains.', content_type: 'text' },
    remember: ["pm.collectionVariables.set('messageId', body.data.id);"],
  },
  list_messages: { query: { conversation_id: '{{conversationId}}' }, body: { order: 'desc', limit: 20 } },
  retrieve_message: { query: { conversation_id: '{{conversationId}}', message_id: '{{messageId}}' } },
  modify_message: {
    query: { conversation_id: '{{conversationId}}', message_id: '{{messageId}}' },
    body: { content: 'Remember that I prefer night trains.' },
    envelope: 'message',
  },
  delete_open_message: { query: { conversation_id: '{{conversationId}}', message_id: '{{messageId}}' } },
  chat: {
    query: {},
    // a slow offline answer, so that the chat is still running when cancel_chat comes
    body: { bot_id: '{{openBotId}}', user_id: 'postman', stream: false, additional_messages: [{ role: 'user', content: '/slow 400\nHello from Postman', content_type: 'text' }] },
    remember: [
      "pm.collectionVariables.set('chatId', body.data.id);",
      "pm.collectionVariables.set('chatConversationId', body.data.conversation_id);",
    ],
  },
  retrieve_chat: { query: { conversation_id: '{{chatConversationId}}', chat_id: '{{chatId}}' } },
  get_chat: { query: { conversation_id: '{{chatConversationId}}', chat_id: '{{chatId}}' } },
  list_chat_messages: { query: { conversation_id: '{{chatConversationId}}', chat_id: '{{chatId}}' } },
  cancel_chat: { body: { conversation_id: '{{chatConversationId}}', chat_id: '{{chatId}}' } },
  submit_tool_outputs: {
    // first a chat whose model calls a tool the server cannot run: it waits for our output
    prerequest: [
      "pm.sendRequest({",
      "  url: pm.variables.get('baseUrl') + '/v3/chat', method: 'POST',",
      "  header: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + pm.variables.get('bearerToken') },",
      "  body: { mode: 'raw', raw: JSON.stringify({ bot_id: pm.variables.get('openBotId'), user_id: 'postman', stream: true,",
      "    additional_messages: [{ role: 'user', content: '/call weather {\"city\": \"Paris\"}', content_type: 'text' }] }) },",
      "}, (error, response) => {",
      "  const line = response.text().split('\\n').find((l) => l.startsWith('data:') && l.includes('requires_action'));",
      "  const chat = JSON.parse(line.slice(5));",
      "  pm.collectionVariables.set('toolChatId', chat.id);",
      "  pm.collectionVariables.set('toolConversationId', chat.conversation_id);",
      "  pm.collectionVariables.set('toolCallId', chat.required_action.submit_tool_outputs.tool_calls[0].id);",
      "});",
    ],
    query: { conversation_id: '{{toolConversationId}}', chat_id: '{{toolChatId}}' },
    body: { tool_outputs: [{ tool_call_id: '{{toolCallId}}', output: 'sunny, 21 C' }], stream: false },
  },
  agent_chat: {
    body: { query: 'Hello', conversation_id: '0', bot_id: '{{botId}}' },
    json: false,
    remember: [
      "const events = pm.response.text().split('\\n').filter((l) => l.startsWith('data:{')).map((l) => JSON.parse(l.slice(5)));",
      "const answer = events.find((e) => e.message && e.message.type === 'answer');",
      "pm.test('agent_chat: the answer streamed', () => pm.expect(answer).to.be.an('object'));",
      "pm.collectionVariables.set('webConversationId', answer.conversation_id);",
      "pm.collectionVariables.set('questionId', answer.message.reply_id);",
      "pm.collectionVariables.set('answerId', answer.message.message_id);",
    ],
  },
  break_message: {
    body: { conversation_id: '{{webConversationId}}', query_message_id: '{{questionId}}', answer_message_id: '{{answerId}}', broken_pos: 5 },
  },
  delete_message: { body: { conversation_id: '{{webConversationId}}', message_id: '{{questionId}}' } },
  clear_message: { body: { conversation_id: '{{webConversationId}}', scene: 4 } },
  delete_conversation: { pathVariables: { conversation_id: '{{conversationId}}' } },
  // knowledge: a base with one pasted document; edits wait until its processing is done
  create_dataset: {
    body: { name: 'Postman knowledge {{$timestamp}}', space_id: '{{spaceId}}', format_type: 0, description: 'Made by Postman' },
    remember: ["pm.collectionVariables.set('datasetId', body.data.dataset_id);"],
  },
  update_dataset: { body: { dataset_id: '{{datasetId}}', description: 'Updated by Postman' } },
  list_datasets: { body: { space_id: '{{spaceId}}', page: 1, size: 20 } },
  dataset_detail: { body: { dataset_ids: ['{{datasetId}}'] } },
  create_documents: {
    body: { dataset_id: '{{datasetId}}', document_bases: [{ name: 'refunds.md', source_info: { custom_content: '# Refunds\n\nRefunds take five working days.' } }] },
    remember: ["pm.collectionVariables.set('documentId', body.data.document_infos[0].document_id);"],
  },
  list_documents: { body: { dataset_id: '{{datasetId}}', page: 1, size: 20 } },
  document_progress: { body: { document_ids: ['{{documentId}}'] } },
  update_document: { body: { document_id: '{{documentId}}', document_name: 'Refund policy' } },
  resegment_documents: {
    prerequest: waitForDocument(),
    body: { dataset_id: '{{datasetId}}', document_ids: ['{{documentId}}'], chunk_strategy: { chunk_type: 1, separator: '\n', max_tokens: 500 } },
  },
  list_slices: { body: { document_id: '{{documentId}}', page_size: 20 } },
  create_slice: {
    prerequest: waitForDocument(),
    body: { document_id: '{{documentId}}', raw_text: 'Refunds go back to the original card.', sequence: 1 },
    remember: ["pm.collectionVariables.set('sliceId', body.data.slice_id);"],
  },
  update_slice: { body: { slice_id: '{{sliceId}}', raw_text: 'Refunds go back to the card used to pay.' } },
  retrieve: { body: { dataset_ids: ['{{datasetId}}'], query: 'How long do refunds take?', search_strategy: 20, top_k: 3 } },
  // the Open API: an image knowledge base with one captioned picture
  open_create_dataset: {
    body: { name: 'Postman images {{$timestamp}}', space_id: '{{spaceId}}', format_type: 2, description: 'Made by Postman' },
    remember: ["pm.collectionVariables.set('openDatasetId', body.data.dataset_id);"],
  },
  open_list_datasets: { query: { space_id: '{{spaceId}}', name: '', format_type: '', page_num: '1', page_size: '10' } },
  open_update_dataset: { pathVariables: { dataset_id: '{{openDatasetId}}' }, body: { name: 'Postman images renamed {{$timestamp}}', description: 'Pictures' } },
  open_create_documents: {
    headers: { 'Agw-Js-Conv': 'str' },
    body: { dataset_id: '{{openDatasetId}}', format_type: 2, document_bases: [{ name: 'dot.png', caption: 'A black dot', source_info: { file_base64: 'iVBORw0KGgoAAAAAAAAAAAAAAAAAAAAA', file_type: 'png' } }] },
    envelope: 'document_infos',
    remember: ["pm.collectionVariables.set('openDocumentId', body.document_infos[0].document_id);"],
  },
  open_list_documents: { headers: { 'Agw-Js-Conv': 'str' }, body: { dataset_id: '{{openDatasetId}}', page: 1, size: 10 }, envelope: 'document_infos' },
  open_list_documents_get: { query: { dataset_id: '{{openDatasetId}}', page: '1', page_size: '10' }, envelope: 'document_infos' },
  open_update_document: { headers: { 'Agw-Js-Conv': 'str' }, body: { document_id: '{{openDocumentId}}', document_name: 'black-dot.png' } },
  open_dataset_process: { pathVariables: { dataset_id: '{{openDatasetId}}' }, body: { document_ids: ['{{openDocumentId}}'] } },
  open_list_images: { pathVariables: { dataset_id: '{{openDatasetId}}' }, query: { keyword: '', has_caption: '', page_num: '1', page_size: '10' } },
  open_update_image: {
    prerequest: waitForDocument('openDocumentId'),
    pathVariables: { dataset_id: '{{openDatasetId}}', document_id: '{{openDocumentId}}' },
    body: { caption: 'A black dot on white' },
  },
  open_delete_documents: { headers: { 'Agw-Js-Conv': 'str' }, body: { document_ids: ['{{openDocumentId}}'] } },
  open_delete_dataset: { pathVariables: { dataset_id: '{{openDatasetId}}' } },
  // memory: a table bound to the console agent, with a row added, listed and the draft copy reset
  add_database: {
    body: { space_id: '{{spaceId}}', table_name: 'postman_orders_{{$timestamp}}', table_desc: 'Made by Postman',
      field_list: [{ name: 'item', type: 1, must_required: true }, { name: 'quantity', type: 2 }] },
    remember: ["pm.collectionVariables.set('databaseId', body.data.database_info.id);"],
  },
  update_database: { body: { id: '{{databaseId}}', table_desc: 'Updated by Postman' } },
  get_database: { body: { id: '{{databaseId}}', need_sys_fields: true } },
  list_databases: { body: { space_id: '{{spaceId}}', table_type: 1, offset: 0, limit: 20 } },
  bind_database: { body: { database_id: '{{databaseId}}', bot_id: '{{botId}}' } },
  update_database_bot_switch: { body: { database_id: '{{databaseId}}', bot_id: '{{botId}}', prompt_disable: false } },
  list_bot_tables: { body: { bot_id: '{{botId}}', table_type: 1 } },
  unbind_database: { body: { database_id: '{{databaseId}}', bot_id: '{{botId}}' } },
  get_online_database_id: { body: { id: '{{databaseId}}' } },
  list_database_records: { body: { database_id: '{{databaseId}}', table_type: 1, limit: 20, offset: 0 } },
  update_database_records: { body: { database_id: '{{databaseId}}', table_type: 1, record_data_add: [{ item: 'Espresso cups', quantity: '6' }] } },
  reset_database_table: { body: { database_info_id: '{{databaseId}}', table_type: 1 } },
  get_table_schema: { body: { source_file: { tos_uri: 'file:{{csvFileId}}' } } },
  validate_table_schema: { body: { database_id: '{{databaseId}}', source_file: { tos_uri: 'file:{{csvFileId}}' } } },
  submit_table_import: { body: { database_id: '{{databaseId}}', file_uri: 'file:{{csvFileId}}', table_type: 1 } },
  get_import_progress: {
    prerequest: [
      "const poll = (tries) => pm.sendRequest({",
      "  url: pm.variables.get('baseUrl') + '/api/memory/table_file/get_progress', method: 'POST',",
      "  header: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + pm.variables.get('bearerToken') },",
      "  body: { mode: 'raw', raw: JSON.stringify({ database_id: pm.variables.get('databaseId'), table_type: 1 }) },",
      "}, (error, response) => {",
      "  const status = error ? 0 : response.json().data.status;",
      "  if ((status === 0 || status === 1) && tries > 0) setTimeout(() => poll(tries - 1), 200);",
      "});",
      "poll(100);",
    ],
    body: { database_id: '{{databaseId}}', table_type: 1 },
  },
  export_database: { query: { database_id: '{{databaseId}}', table_type: '1' }, json: false },
  delete_database: { body: { id: '{{databaseId}}' } },
  get_variable_meta: { body: { ConnectorID: '{{botId}}', ConnectorType: 1 } },
  get_variable_values: { body: { bot_id: '{{botId}}', keywords: ['city'] } },
  set_variable_values: { body: { bot_id: '{{botId}}', data: [{ keyword: 'city', value: 'Lyon' }] } },
  delete_variable_values: { body: { bot_id: '{{botId}}', keywords: ['city'] } },
  open_get_variables: { query: { bot_id: '{{botId}}', connector_uid: 'postman-end-user', keywords: 'city' } },
  open_set_variables: { body: { bot_id: '{{botId}}', connector_uid: 'postman-end-user', data: [{ keyword: 'city', value: 'Lyon' }] } },
  // a plugin registered from a manifest and a document, its tool debugged (the service's host
  // does not resolve, so the call fails and says why), then deleted
  register_plugin: {
    body: {
      space_id: '{{spaceId}}',
      ai_plugin: JSON.stringify({ schema_version: 'v1', name_for_human: 'Postman tools', name_for_model: 'postman_tools',
        description_for_human: 'Made by Postman', description_for_model: 'Notes', auth: { type: 'none' } }),
      openapi: "openapi: 3.0.1\ninfo: {title: Postman tools, version: v1}\nservers: [{url: 'https://tools.invalid'}]\n" +
        "paths:\n  /notes:\n    post:\n      operationId: add_note\n      requestBody: {content: {application/json: {schema: {type: object, properties: {text: {type: string}}}}}}\n" +
        "      responses: {'200': {description: ok}}\n",
    },
    remember: ["pm.collectionVariables.set('pluginId', body.data.plugin_id);"],
  },
  get_plugin_info: { body: { plugin_id: '{{pluginId}}' }, envelope: 'meta_info' },
  get_plugin_apis: {
    body: { plugin_id: '{{pluginId}}', page: 1, size: 20 },
    envelope: 'api_info',
    remember: ["pm.collectionVariables.set('pluginToolId', body.api_info[0].api_id);"],
  },
  get_dev_plugin_list: { body: { space_id: '{{spaceId}}', page: 1, size: 20 }, envelope: 'plugin_list' },
  debug_api: { body: { plugin_id: '{{pluginId}}', api_id: '{{pluginToolId}}', parameters: '{"text": "hello"}', operation: 1 }, envelope: 'success' },
  del_plugin: { body: { plugin_id: '{{pluginId}}' }, envelope: 'msg' },
  workflow_create: {
    body: { space_id: '{{spaceId}}', name: 'postman_flow', desc: 'Made by Postman', flow_mode: 0 },
    remember: ["pm.collectionVariables.set('workflowId', body.data.workflow_id);"],
  },
  workflow_save: {
    body: { workflow_id: '{{workflowId}}', submit_commit_id: '', schema: JSON.stringify({ nodes: [{ id: '100001', type: '1', data: { nodeMeta: { title: 'Start' }, outputs: [] } }, { id: '900001', type: '2', data: { nodeMeta: { title: 'End' }, inputs: { terminatePlan: 'returnVariables', inputParameters: [] } } }], edges: [{ sourceNodeID: '100001', targetNodeID: '900001' }] }) },
  },
  workflow_canvas: { body: { workflow_id: '{{workflowId}}' } },
  workflow_validate_tree: { body: { workflow_id: '{{workflowId}}' } },
  workflow_publish: { body: { workflow_id: '{{workflowId}}', workflow_version: 'v1.0.0', version_description: 'From Postman', force: true } },
  workflow_copy: { body: { workflow_id: '{{workflowId}}' }, remember: ["pm.collectionVariables.set('copiedWorkflowId', body.data.workflow_id);"] },
  workflow_update_meta: { body: { workflow_id: '{{workflowId}}', desc: 'Updated by Postman' } },
  workflow_list: { body: { space_id: '{{spaceId}}', page: 1, size: 20 } },
  workflow_delete: { body: { workflow_id: '{{workflowId}}' } },
  webhook_create: { body: { space_id: '{{spaceId}}', url: 'http://127.0.0.3:9/hook', events: ['agent.published'], description: 'From Postman' }, remember: ["pm.collectionVariables.set('webhookId', body.data.id);"] },
  webhook_update: { body: { id: '{{webhookId}}', description: 'Updated by Postman' } },
  webhook_list: { body: { space_id: '{{spaceId}}' } },
  webhook_test: { body: { id: '{{webhookId}}' } },
  webhook_deliveries: { body: { id: '{{webhookId}}' }, remember: ["pm.collectionVariables.set('webhookDeliveryId', body.data.deliveries[0].id);"] },
  webhook_redeliver: { body: { delivery_id: '{{webhookDeliveryId}}' } },
  webhook_delete: { body: { id: '{{webhookId}}' } },
  // a team space: another user joins, becomes an admin, then owns it; we leave it, and its new owner deletes it
  create_space: {
    body: { name: 'Postman team', description: 'Made by the Postman collection', space_type: 2 },
    remember: ["pm.collectionVariables.set('teamSpaceId', body.data.id);"],
  },
  update_space: { body: { space_id: '{{teamSpaceId}}', name: 'Postman team (renamed)' } },
  add_space_members: {
    prerequest: [
      "pm.sendRequest({",
      "  url: pm.variables.get('baseUrl') + '/api/passport/web/email/register/v2/', method: 'POST',",
      "  header: { 'Content-Type': 'application/json' },",
      "  body: { mode: 'raw', raw: JSON.stringify({ email: `teammate-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`, password: 'Teammate-pass-1' }) },",
      "}, (error, response) => {",
      "  pm.collectionVariables.set('teamMemberId', response.json().data.user_id);",
      "  pm.collectionVariables.set('teamMemberToken', response.json().data.token);",
      "});",
    ],
    body: { space_id: '{{teamSpaceId}}', user_ids: ['{{teamMemberId}}'], role_type: 3 },
  },
  list_space_members: { body: { space_id: '{{teamSpaceId}}' } },
  update_space_member_role: { body: { space_id: '{{teamSpaceId}}', user_id: '{{teamMemberId}}', role_type: 2 } },
  transfer_space: { body: { space_id: '{{teamSpaceId}}', user_id: '{{teamMemberId}}' } },
  remove_space_member: { body: { space_id: '{{teamSpaceId}}', user_id: '{{userId}}' } },
  delete_space: { body: { space_id: '{{teamSpaceId}}' }, auth: 'none', headers: { Authorization: 'Bearer {{teamMemberToken}}' } },
  // a generic webhook channel on the published agent; its callback is signed as an integration signs it
  channel_create: {
    body: { bot_id: '{{openBotId}}', type: 'webhook', name: 'Postman integration', config: { secret: 'postman-channel-secret-0123' } },
    remember: ["pm.collectionVariables.set('channelId', body.data.id);"],
  },
  channel_get: { body: { id: '{{channelId}}' } },
  channel_update: { body: { id: '{{channelId}}', config: { answer_timeout_seconds: 30 } } },
  channel_list: { body: { space_id: '{{spaceId}}' } },
  channel_status: { body: { id: '{{channelId}}' } },
  channel_test: { body: { id: '{{channelId}}' } },
  channel_messages: { body: { id: '{{channelId}}' } },
  // the URL check is WeChat's and WeCom's: a webhook channel refuses it
  channel_verify: { auth: 'none', pathVariables: { channel_id: '{{channelId}}' }, refused: { status: 400, code: 107000000 } },
  channel_callback: {
    auth: 'none',
    pathVariables: { channel_id: '{{channelId}}' },
    raw: JSON.stringify({ user_id: 'postman', text: 'Hello from Postman', message_id: 'postman-1' }),
    headers: { 'Content-Type': 'application/json', 'X-Cozeplus-Signature': '{{channelSignature}}' },
    prerequest: [
      'const stamp = Math.floor(Date.now() / 1000);',
      "const digest = CryptoJS.HmacSHA256(`${stamp}.${pm.request.body.raw}`, 'postman-channel-secret-0123').toString();",
      "pm.collectionVariables.set('channelSignature', `t=${stamp},v1=${digest}`);",
    ],
  },
  channel_delete: { body: { id: '{{channelId}}' } },
  workflow_batch_delete: { body: { workflow_id_list: ['{{copiedWorkflowId}}'], space_id: '{{spaceId}}' } },
  workflow_history_schema: { body: { workflow_id: '{{workflowId}}', space_id: '{{spaceId}}', type: 0 } },
  workflow_references: { body: { workflow_id: '{{workflowId}}' } },
  workflow_node_type: { body: { workflow_id: '{{workflowId}}' } },
  workflow_node_template_list: { body: {} },
  workflow_released: { body: { space_id: '{{spaceId}}' } },
  workflow_detail: { body: { workflow_ids: ['{{workflowId}}'] } },
  workflow_node_debug: { body: { workflow_id: '{{workflowId}}', node_id: '2', input: {} }, refused: { status: 400, code: 720702001 } },
  workflow_test_run: { body: { workflow_id: '{{workflowId}}', input: {} }, remember: ["pm.collectionVariables.set('executeId', body.data.execute_id);"] },
  workflow_get_process: { query: { workflow_id: '{{workflowId}}', execute_id: '{{executeId}}' }, prerequest: waitForRun() },
  workflow_test_resume: { body: { workflow_id: '{{workflowId}}', execute_id: '{{executeId}}', event_id: '1', data: 'x' }, refused: { status: 409, code: 720702021 } },
  workflow_cancel: { body: { execute_id: '{{executeId}}' }, refused: { status: 409, code: 720702021 } },
  workflow_node_execute_history: { query: { workflow_id: '{{workflowId}}', execute_id: '{{executeId}}', node_id: '100001' } },
  open_workflow_run: { body: { workflow_id: '{{workflowId}}', parameters: {} }, envelope: 'execute_id', remember: ["pm.collectionVariables.set('openExecuteId', body.execute_id);"] },
  open_workflow_stream_run: { body: { workflow_id: '{{workflowId}}', parameters: {} }, json: false },
  open_workflow_stream_resume: { body: { workflow_id: '{{workflowId}}', event_id: '{{openExecuteId}}/1', resume_data: 'x' }, refused: { status: 409, code: 720702021 } },
  open_workflow_run_history: { query: { workflow_id: '{{workflowId}}', execute_id: '{{openExecuteId}}' } },
  open_workflow_run_histories: { pathVariables: { workflow_id: '{{workflowId}}', execute_id: '{{openExecuteId}}' } },
  open_get_workflow: { pathVariables: { workflow_id: '{{workflowId}}' }, query: { include_input_output: 'true' } },
  open_list_workflows: { query: { workspace_id: '{{spaceId}}' } },
  open_list_workflow_versions: { pathVariables: { workflow_id: '{{workflowId}}' }, query: {} },
  open_workflow_chat: { body: { workflow_id: '{{workflowId}}', additional_messages: [{ role: 'user', content: 'Hello', content_type: 'text' }] }, json: false },
  convert_to_openapi: {
    body: { space_id: '{{spaceId}}', plugin_name: 'Converted notes', data: "curl -X POST https://tools.invalid/notes -H 'Content-Type: application/json' -d '{\"text\": \"hi\"}'" },
    envelope: 'openapi',
  },
  get_bot_default_params: { body: { bot_id: '{{botId}}', plugin_id: '{{pluginId}}', api_name: 'add_note' }, envelope: 'request_params' },
  update_bot_default_params: {
    body: { bot_id: '{{botId}}', plugin_id: '{{pluginId}}', api_name: 'add_note', request_params: [{ name: 'text', type: 1, location: 3, local_default: 'from Postman' }] },
    envelope: 'msg',
  },
  delete_bot_default_params: { body: { bot_id: '{{botId}}', plugin_id: '{{pluginId}}', api_name: 'add_note' }, envelope: 'msg' },
  get_oauth_status: { body: { plugin_id: '{{pluginId}}' }, envelope: 'is_oauth' },
  revoke_auth_token: { body: { plugin_id: '{{pluginId}}' }, envelope: 'msg' },
  get_queried_oauth_plugins: { body: { bot_id: '{{botId}}' }, envelope: 'oauth_plugin_list' },
  get_oauth_schema: { envelope: 'oauth_schema' },
  // the authorization server's redirect back: without an authorization started here, its state
  // is unknown, and the collection shows the refusal
  oauth_callback: { query: { code: 'example-code', state: 'not-a-state-this-server-gave-out' }, auth: 'none', refused: { status: 400, code: 109000013 } },
  update_plugin: {
    body: {
      plugin_id: '{{pluginId}}',
      ai_plugin: JSON.stringify({ schema_version: 'v1', name_for_human: 'Postman tools', name_for_model: 'postman_tools',
        description_for_human: 'Updated by Postman', description_for_model: 'Notes', auth: { type: 'none' } }),
      openapi: "openapi: 3.0.1\ninfo: {title: Postman tools, version: v1}\nservers: [{url: 'https://tools.invalid'}]\n" +
        "paths:\n  /notes:\n    post:\n      operationId: add_note\n      summary: Keep a note\n" +
        "      requestBody: {content: {application/json: {schema: {type: object, properties: {text: {type: string}}}}}}\n" +
        "      responses: {'200': {description: ok}}\n",
    },
  },
  register_plugin_meta: {
    body: { space_id: '{{spaceId}}', name: 'Postman form plugin', desc: 'Made by Postman', url: 'https://tools.invalid', icon: { uri: '' }, auth_type: 0 },
    envelope: 'plugin_id',
    remember: ["pm.collectionVariables.set('formPluginId', body.plugin_id);"],
  },
  update_plugin_meta: { body: { plugin_id: '{{formPluginId}}', desc: 'Updated by Postman' }, envelope: 'edit_version' },
  create_api: {
    body: { plugin_id: '{{formPluginId}}', name: 'get_note', desc: 'A note by its id', path: '/notes/{id}', method: 1,
      request_params: [{ name: 'id', type: 1, location: 1, is_required: true }] },
    envelope: 'api_id',
    remember: ["pm.collectionVariables.set('formToolId', body.api_id);"],
  },
  update_api: { body: { plugin_id: '{{formPluginId}}', api_id: '{{formToolId}}', desc: 'A note, by its id' }, envelope: 'edit_version' },
  delete_api: { body: { plugin_id: '{{formPluginId}}', api_id: '{{formToolId}}' }, envelope: 'edit_version' },
  batch_create_api: {
    body: {
      plugin_id: '{{formPluginId}}',
      openapi: "openapi: 3.0.1\ninfo: {title: more, version: v1}\nservers: [{url: 'https://tools.invalid'}]\n" +
        "paths:\n  /tags:\n    get:\n      operationId: list_tags\n      responses: {'200': {description: ok}}\n",
      replace_same_paths: false,
    },
    envelope: 'paths_created',
  },
  check_and_lock_plugin_edit: { body: { plugin_id: '{{formPluginId}}' } },
  unlock_plugin_edit: { body: { plugin_id: '{{formPluginId}}' }, envelope: 'released' },
  publish_plugin: { body: { plugin_id: '{{formPluginId}}', version_desc: 'Published by Postman' }, envelope: 'version_ts' },
  get_plugin_next_version: { body: { plugin_id: '{{formPluginId}}' }, envelope: 'next_version_name' },
  get_playground_plugin_list: { body: { space_id: '{{spaceId}}', page: 1, size: 20 } },
  // a project (app) with a variable, an end user's value of it, then deleted
  draft_project_create: {
    body: { space_id: '{{spaceId}}', name: 'Postman app', description: 'Made by Postman' },
    remember: ["pm.collectionVariables.set('projectId', body.data.project_id);"],
  },
  draft_project_update: { body: { project_id: '{{projectId}}', description: 'Updated by Postman' } },
  get_draft_intelligence_info: { body: { intelligence_id: '{{projectId}}', intelligence_type: 2 } },
  update_project_variables: {
    body: { ProjectID: '{{projectId}}', VariableList: [{ Keyword: 'region', DefaultValue: 'EU', Channel: 5, Enable: true }] },
    envelope: 'msg',
  },
  get_project_variables: { query: { ProjectID: '{{projectId}}' }, envelope: 'VariableList' },
  draft_project_delete: { body: { project_id: '{{projectId}}' } },
  delete_slices: { body: { slice_ids: ['{{sliceId}}'] } },
  delete_documents: { body: { document_ids: ['{{documentId}}'] } },
  delete_dataset: { body: { dataset_id: '{{datasetId}}' } },
};
// Requests that run an operation a second time, on other data: [name, operation, override].
const EXTRA = [
  ['delete_copied_bot', 'delete_bot', { body: { bot_id: '{{copiedBotId}}' } }],
  ['delete_open_bot', 'delete_bot', { body: { bot_id: '{{openBotId}}' } }],
  ['del_form_plugin', 'del_plugin', { body: { plugin_id: '{{formPluginId}}' }, envelope: 'msg' }],
  ['upload_orders_csv', 'upload_file', {
    formdata: [{ key: 'file', type: 'file', src: 'postman/fixtures/orders.csv' }],
    remember: ["pm.collectionVariables.set('csvFileId', body.data.id);"],
  }],
];
// Run order: the admin's requests and logout; the user's registration and login; everything else
// by tag; the deletions and the user's logout last.
const FIRST = ['email_login_seed', 'get_knowledge_config', 'save_knowledge_config', 'create_model', 'list_local_models',
  'update_model', 'list_models', 'delete_model', 'admin_list_users', 'admin_create_user', 'admin_update_user_status',
  'admin_reset_password', 'list_permission_templates', 'list_roles', 'create_role', 'update_role', 'get_role',
  'assign_roles', 'get_user_roles', 'unassign_roles', 'delete_role', 'create_corporation', 'get_corporation',
  'update_corporation', 'list_corporations', 'create_department', 'get_department', 'update_department',
  'list_departments', 'get_department_tree', 'sort_departments', 'move_department', 'create_employee', 'get_employee',
  'update_employee', 'list_employees', 'change_employee_department', 'resign_employee', 'restore_employee',
  'get_organization_tree', 'delete_employee', 'delete_department', 'delete_corporation', 'audit_list', 'logout_post', 'email_register', 'email_login'];
// Chat turns of the console, then the deletions that need them, run after everything else.
const TAIL = ['list_agent_models', 'chat_completions', 'agent_chat', 'break_message', 'delete_message', 'clear_message', 'delete_conversation',
  'delete_slices', 'delete_documents', 'delete_dataset', 'open_delete_documents', 'open_delete_dataset',
  // the import needs the csv the upload folder sends (upload_orders_csv)
  'get_table_schema', 'validate_table_schema', 'submit_table_import', 'get_import_progress', 'export_database',
  'delete_database', 'update_project_variables', 'get_project_variables', 'draft_project_delete', 'del_plugin', 'del_form_plugin', 'workflow_delete', 'workflow_batch_delete', 'webhook_delete', 'channel_delete', 'remove_space_member', 'delete_space'];
const LAST = ['delete_bot', 'delete_copied_bot', 'delete_open_bot', 'logout'];

function loadSpec() {
  // The converter parses YAML itself; we need the operations too, so parse with its own yaml dep.
  const yaml = require(require.resolve('js-yaml', { paths: [path.dirname(require.resolve('openapi-to-postmanv2'))] }));
  return yaml.load(fs.readFileSync(SPEC_PATH, 'utf8'));
}

function operationsByRoute(spec) {
  const routes = {};
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op && op.operationId) {
        const key = `${method.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`;
        routes[key] = { ...op, method: method.toUpperCase(), path: p };
      }
    }
  }
  return routes;
}

function expectedStatus(op) {
  return Number(Object.keys(op.responses).find((code) => /^2\d\d$/.test(code)) || 200);
}

function testScript(op, override) {
  if (override.refused) {  // a request that can only be refused here: its refusal's shape is checked
    const { status: refusedStatus, code } = override.refused;
    return [{ listen: 'test', script: { type: 'text/javascript', exec: [
      `pm.test('${op.operationId}: HTTP ${refusedStatus}', () => pm.response.to.have.status(${refusedStatus}));`,
      'const body = pm.response.json();',
      `pm.test('${op.operationId}: refused with code ${code}', () => {`,
      `  pm.expect(body).to.have.property('code', ${code});`,
      "  pm.expect(body.msg).to.be.a('string');",
      '});',
    ] } }];
  }
  const status = expectedStatus(op);
  const lines = [`pm.test('${op.operationId}: HTTP ${status}', () => pm.response.to.have.status(${status}));`];
  if (override.json !== false) {
    lines.push(
      'const body = pm.response.json();',
      `pm.test('${op.operationId}: envelope with code 0', () => {`,
      "  pm.expect(body).to.have.property('code', 0);",
      "  pm.expect(body.msg).to.be.a('string');",
      `  pm.expect(body).to.have.property('${override.envelope || 'data'}');`,
      '});',
      "pm.test('request id echoed', () => pm.expect(pm.response.headers.get('X-Request-Id')).to.be.a('string'));",
      ...(override.remember || []),
    );
  } else {
    lines.push("pm.test('non-empty body', () => pm.expect(pm.response.stream.length).to.be.above(0));",
      ...(override.remember || []));
  }
  const events = [{ listen: 'test', script: { type: 'text/javascript', exec: lines } }];
  if (override.prerequest) events.unshift({ listen: 'prerequest', script: { type: 'text/javascript', exec: override.prerequest } });
  return events;
}

function applyOverride(request, override) {
  if (override.auth === 'none') request.auth = { type: 'noauth' };
  else delete request.auth; // inherit the collection's bearer {{bearerToken}}
  if (override.body !== undefined || override.raw !== undefined) {
    const raw = override.raw !== undefined ? override.raw : JSON.stringify(override.body, null, 2);
    request.body = { mode: 'raw', raw, options: { raw: { language: 'json' } } };
  }
  if (override.formdata) {
    request.body = { mode: 'formdata', formdata: override.formdata };
    request.header = (request.header || []).filter((h) => h.key.toLowerCase() !== 'content-type');
  }
  if (override.file) {
    request.body = { mode: 'file', file: { src: override.file } };
  }
  if (override.query) {
    request.url.query = Object.entries(override.query).map(([key, value]) => ({ key, value }));
  }
  if (override.pathVariables) {
    request.url.variable = Object.entries(override.pathVariables).map(([key, value]) => ({ key, value }));
  }
  request.header = (request.header || []).filter((h) => h.key !== 'Authorization');
  for (const header of request.header) {
    // a fresh key per send: the converter's one example value would make every create a replay
    if (header.key.toLowerCase() === 'idempotency-key') header.value = '{{$guid}}';
  }
  for (const [key, value] of Object.entries(override.headers || {})) {
    request.header = request.header.filter((h) => h.key.toLowerCase() !== key.toLowerCase());
    request.header.push({ key, value });
  }
}

function stripIds(node) {
  if (Array.isArray(node)) return node.forEach(stripIds);
  if (node && typeof node === 'object') {
    delete node.id;
    Object.values(node).forEach(stripIds);
  }
}

function build(collection, spec) {
  const routes = operationsByRoute(spec);
  const items = [];
  for (const folder of collection.item) {
    for (const item of folder.item || []) {
      const route = `${item.request.method} /${item.request.url.path.join('/')}`;
      const op = routes[route];
      if (!op) throw new Error(`no operation in openapi.yaml for ${route}`);
      const override = OVERRIDES[op.operationId] || {};
      applyOverride(item.request, override);
      item.event = testScript(op, override);
      item.name = `${op.operationId}: ${item.name}`;
      items.push({ op, folder: folder.name, item });
    }
  }
  for (const [name, operationId, override] of EXTRA) {
    const original = items.find((i) => i.op.operationId === operationId);
    const item = JSON.parse(JSON.stringify(original.item));
    const op = { ...original.op, operationId: name };
    applyOverride(item.request, override);
    item.event = testScript(op, override);
    item.name = `${name}: ${original.item.name.split(': ').slice(1).join(': ')} (again)`;
    items.push({ op, folder: original.folder, item });
  }

  const rank = (id) => (FIRST.includes(id) ? FIRST.indexOf(id) - 100 : LAST.includes(id) ? 100 + LAST.indexOf(id)
    : TAIL.includes(id) ? 50 + TAIL.indexOf(id) : 0);
  items.sort((a, b) => rank(a.op.operationId) - rank(b.op.operationId)); // stable: tag order otherwise

  const folders = [];
  for (const { folder, item } of items) {
    let last = folders[folders.length - 1];
    if (!last || last.name !== folder) {
      const description = (collection.item.find((f) => f.name === folder) || {}).description;
      last = { name: folder, description, item: [] };
      folders.push(last);
    }
    last.item.push(item);
  }
  collection.item = folders;
  collection.auth = { type: 'bearer', bearer: [{ key: 'token', value: '{{bearerToken}}', type: 'string' }] };
  const defaults = { baseUrl: 'http://127.0.0.1:8888', adminEmail: 'admin@example.com', userPassword: 'postman-password-1' };
  collection.variable = ['baseUrl', 'adminEmail', 'adminPassword', 'userEmail', 'userPassword', 'knowledgeConfig', 'copiedBotId', 'databaseId', 'projectId', 'pluginId', 'pluginToolId', 'workflowId', 'copiedWorkflowId', 'executeId', 'openExecuteId', 'webhookId', 'webhookDeliveryId', 'channelId', 'channelSignature', 'userId', 'teamSpaceId', 'teamMemberId', 'teamMemberToken', 'colleagueEmail', 'colleagueId', 'roleCode', 'roleId', 'corpId', 'departmentId', 'employeeId', 'employeeEmail', 'employeeMobile', 'formPluginId', 'formToolId', 'csvFileId', 'bearerToken', 'spaceId', 'patId', 'avatarKey', 'modelId', 'botId', 'openBotId', 'fileId', 'promptId', 'commandId', 'storeUri', 'uploadSession',
    'webConversationId', 'conversationId', 'messageId', 'chatId', 'chatConversationId', 'toolChatId', 'toolConversationId',
    'toolCallId', 'questionId', 'answerId']
    .map((key) => ({ key, value: defaults[key] || '' }));
  stripIds(collection);
  const digest = crypto.createHash('sha256').update(JSON.stringify(collection.item)).digest('hex');
  collection.info._postman_id = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`;
  return collection;
}

converter.convert(
  { type: 'string', data: fs.readFileSync(SPEC_PATH, 'utf8') },
  { folderStrategy: 'Tags', requestParametersResolution: 'Example', exampleParametersResolution: 'Example' },
  (error, result) => {
    if (error || !result.result) {
      console.error('openapi-to-postmanv2 failed:', error || result.reason);
      process.exit(1);
    }
    const collection = build(result.output[0].data, loadSpec());
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, `${JSON.stringify(collection, null, 2)}\n`);
    console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
  },
);
