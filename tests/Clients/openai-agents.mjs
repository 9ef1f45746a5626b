// The OpenAI Agents SDK (@openai/agents) against the bridge: its default OpenAI client points at the bridge and it
// speaks the Responses API. Tracing is off (it would export to the provider).
import { Agent, OpenAIConversationsSession, run, setDefaultOpenAIClient, setOpenAIAPI, setOpenAIResponsesTransport, setTracingDisabled, tool, user } from '@openai/agents';
import OpenAI from 'openai';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { model, runScenario, structuredPrompt, toolName, toolPrompt, toolResult, Weather } from './lib/scenario.mjs';

setTracingDisabled(true);
setOpenAIAPI('responses');

const texts = ['My name is Alice.', 'What is my name?', 'Thanks, goodbye.'];
const execCommand = tool({
  name: toolName,
  description: 'Runs a shell command and returns what it printed.',
  parameters: z.object({ cmd: z.string() }),
  execute: async () => toolResult,
});

function agent({ baseUrl, apiKey }, extra = {}) {
  setDefaultOpenAIClient(new OpenAI({ baseURL: baseUrl, apiKey, maxRetries: 0, timeout: 60_000 }));
  return new Agent({ name: 'Assistant', instructions: 'You are a helpful assistant.', model, ...extra });
}

/** Every model call of a run: its response id and the text it produced. */
const turnsOf = (result) => result.rawResponses.map((response) => ({
  id: response.responseId,
  text: response.output.filter((i) => i.type === 'message').flatMap((i) => i.content).map((c) => c.text ?? '').join(''),
}));

const scenarios = {
  async create(options) {
    const result = await run(agent(options), 'Say hello in exactly 3 words.');
    return { turns: turnsOf(result), finalOutput: result.finalOutput };
  },

  async stream(options) {
    const result = await run(agent(options), 'Count from 1 to 5.', { stream: true });
    let deltas = '';
    for await (const delta of result.toTextStream()) deltas += delta;
    await result.completed;
    return { turns: turnsOf(result), finalOutput: result.finalOutput, deltas };
  },

  // One run, two model calls: the call, then (after the SDK ran the tool) the answer. Within a run the SDK resends
  // the whole turn's items on the second call, without previous_response_id.
  async tool(options) {
    const result = await run(agent(options, { tools: [execCommand] }), toolPrompt);
    const calls = result.newItems.filter((i) => i.type === 'tool_call_item').map((i) => ({ name: i.rawItem.name, arguments: i.rawItem.arguments }));
    const outputs = result.newItems.filter((i) => i.type === 'tool_call_output_item').map((i) => i.output);
    return { turns: turnsOf(result), finalOutput: result.finalOutput, calls, toolResults: outputs };
  },

  // Server-managed state: each run continues from the last one's response id and sends only its new input.
  async chain(options) {
    const assistant = agent(options);
    const turns = [];
    let previousResponseId;
    for (const text of texts) {
      const result = await run(assistant, text, { previousResponseId });
      turns.push(...turnsOf(result));
      previousResponseId = result.lastResponseId;
    }
    return { turns };
  },

  // Client-managed state: each run gets the previous run's whole history plus the new message.
  async history(options) {
    const assistant = agent(options);
    const turns = [];
    let history = [];
    for (const text of texts) {
      const result = await run(assistant, [...history, user(text)]);
      turns.push(...turnsOf(result));
      history = result.history;
    }
    return { turns };
  },

  // The SDK's conversation session: the items live in the Conversations API. Each run lists them, sends them all with
  // the new message (as client-managed history), then adds its new items. Then the session's own item operations.
  async 'conversation-session'(options) {
    const assistant = agent(options);
    const session = new OpenAIConversationsSession({ client: new OpenAI({ baseURL: options.baseUrl, apiKey: options.apiKey, maxRetries: 0 }) });
    const turns = [];
    for (const text of texts) turns.push(...turnsOf(await run(assistant, text, { session })));
    const summary = (item) => ({ role: item.role ?? item.type, text: (Array.isArray(item.content) ? item.content : []).map((c) => c.text ?? '').join('') });
    const items = (await session.getItems()).map(summary);
    const lastTwo = (await session.getItems(2)).map(summary);
    const conversationId = await session.getSessionId();
    const popped = summary(await session.popItem());
    const afterPop = (await session.getItems()).length;
    await session.clearSession();
    return { turns, conversationId, items, lastTwo, popped, afterPop };
  },

  // The conversation named on each run (conversationId: the create's `conversation`): the SDK sends only the new
  // message, and the bridge adds each response's input and output to the conversation. Then an item is added through the
  // Conversations API (the items change under the conversation's last response), and one more run goes on.
  async 'conversation-id'(options) {
    const assistant = agent(options);
    const client = new OpenAI({ baseURL: options.baseUrl, apiKey: options.apiKey, maxRetries: 0 });
    const { id: conversationId } = await client.conversations.create({});
    const turns = [];
    for (const text of texts) turns.push(...turnsOf(await run(assistant, text, { conversationId })));
    await client.conversations.items.create(conversationId, { items: [{ type: 'message', role: 'user', content: 'I live in Paris.' }] });
    turns.push(...turnsOf(await run(assistant, 'Where do I live?', { conversationId })));
    const summary = (item) => ({ role: item.role ?? item.type, text: (Array.isArray(item.content) ? item.content : []).map((c) => c.text ?? '').join('') });
    const items = [];
    for await (const item of client.conversations.items.list(conversationId, { order: 'asc' })) items.push(summary(item));
    return { turns, conversationId, items };
  },

  async structured(options) {
    const result = await run(agent(options, { outputType: Weather }), structuredPrompt);
    return { turns: turnsOf(result), parsed: result.finalOutput };
  },
};

// Every scenario again over the SDK's websocket transport (Responses websocket mode: response.create frames on
// GET /v1/responses): `ws-<name>`.
for (const [name, scenario] of Object.entries({ ...scenarios })) {
  scenarios[`ws-${name}`] = async (options) => {
    // The transport needs a global WebSocket (Node 20 has none); this one counts the sockets the SDK opens.
    let webSocketsOpened = 0;
    globalThis.WebSocket = class extends WebSocket {
      constructor(...args) {
        super(...args);
        webSocketsOpened++;
      }
    };
    setOpenAIResponsesTransport('websocket');
    return { ...(await scenario(options)), webSocketsOpened };
  };
}

await runScenario(scenarios);
