// The official openai npm SDK against the bridge: HTTP (create, stream, tools, both multi-turn styles, the response
// lifecycle, structured output) and its Responses websocket client.
import OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import { ResponsesWS } from 'openai/resources/responses/ws';
import {
  model, outcome, runScenario, structuredPrompt, toolName, Weather, toolPrompt, toolResult,
} from './lib/scenario.mjs';

const tools = [{
  type: 'function',
  name: toolName,
  description: 'Runs a shell command and returns what it printed.',
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false },
  strict: true,
}];

const turn = (response) => ({ id: response.id, status: response.status, text: response.output_text });
const client = ({ baseUrl, apiKey }) => new OpenAI({ baseURL: baseUrl, apiKey, maxRetries: 0, timeout: 60_000 });

await runScenario({
  async create(options) {
    const response = await client(options).responses.create({ model, input: 'Say hello in exactly 3 words.' });
    return { turns: [turn(response)], object: response.object };
  },

  async stream(options) {
    const stream = client(options).responses.stream({ model, input: 'Count from 1 to 5.' });
    const events = [];
    let deltas = '';
    for await (const event of stream) {
      events.push(event.type);
      if (event.type === 'response.output_text.delta') deltas += event.delta;
    }
    const final = await stream.finalResponse();
    return { turns: [turn(final)], events, deltas };
  },

  // The model calls the function, the client runs it and returns its output anchored on the call's response.
  async tool(options) {
    const openai = client(options);
    const call = await openai.responses.create({ model, input: toolPrompt, tools });
    const calls = call.output.filter((item) => item.type === 'function_call');
    if (calls.length === 0) throw new Error(`no function_call in ${JSON.stringify(call.output)}`);
    const answer = await openai.responses.create({
      model,
      tools,
      previous_response_id: call.id,
      input: calls.map((c) => ({ type: 'function_call_output', call_id: c.call_id, output: toolResult })),
    });
    return { turns: [turn(call), turn(answer)], calls: calls.map((c) => ({ name: c.name, arguments: c.arguments })) };
  },

  async chain(options) {
    const openai = client(options);
    const turns = [];
    let previous = null;
    for (const text of ['My name is Alice.', 'What is my name?', 'Thanks, goodbye.']) {
      const response = await openai.responses.create({ model, input: text, previous_response_id: previous });
      turns.push(turn(response));
      previous = response.id;
    }
    return { turns };
  },

  // Stateless: every turn resends the whole conversation, the previous outputs included, as the SDK docs show.
  async history(options) {
    const openai = client(options);
    const turns = [];
    const sent = [];
    const context = [];
    for (const text of ['My name is Alice.', 'What is my name?', 'Thanks, goodbye.']) {
      context.push({ role: 'user', content: text });
      sent.push(context.length);
      const response = await openai.responses.create({ model, input: context, store: false });
      turns.push(turn(response));
      context.push(...response.output);
    }
    return { turns, inputLengths: sent };
  },

  // retrieve, input_items, cancel (of a background response) and delete of stored responses.
  async lifecycle(options) {
    const openai = client(options);
    const created = await openai.responses.create({ model, input: 'Remember this response.', store: true });
    const retrieved = await outcome(() => openai.responses.retrieve(created.id));
    const items = await outcome(() => openai.responses.inputItems.list(created.id));
    const background = await openai.responses.create({ model, input: 'Work on this in the background.', store: true, background: true });
    const cancelled = await outcome(() => openai.responses.cancel(background.id));
    const deleted = await outcome(() => openai.responses.delete(created.id));
    const afterDelete = await outcome(() => openai.responses.retrieve(created.id));
    return {
      turns: [turn(created)],
      retrieved: retrieved.ok ? turn(retrieved.value) : retrieved,
      inputItems: items.ok ? items.value.data.map((i) => ({ type: i.type, role: i.role, text: i.content?.[0]?.text })) : items,
      background: { id: background.id, status: background.status, background: background.background },
      cancelled: cancelled.ok ? { id: cancelled.value.id, status: cancelled.value.status } : cancelled,
      deleted: deleted.ok ? { ok: true, value: deleted.value ?? null } : deleted,
      afterDelete: afterDelete.ok ? { ok: true, id: afterDelete.value.id } : afterDelete,
    };
  },

  // A streamed background response whose connection drops after a few events, resumed by id: with retrieve's
  // stream and starting_after (the events after the last one seen), then with the stream helper by response_id (a full
  // replay it filters itself), whose final response must be the same answer.
  async 'background-resume'(options) {
    const openai = client(options);
    const first = await openai.responses.create({ model, input: 'Count slowly in the background.', store: true, background: true, stream: true });
    const seen = [];
    for await (const event of first) {
      seen.push(event);
      if (seen.length === 5) break; // leaving the loop aborts the request
    }
    const id = seen[0].response.id;
    const last = seen.at(-1).sequence_number;
    const after = [];
    for await (const event of await openai.responses.retrieve(id, { stream: true, starting_after: last })) after.push(event);
    const helper = openai.responses.stream({ response_id: id, starting_after: last });
    const helped = [];
    for await (const event of helper) helped.push(event.sequence_number);
    const final = await helper.finalResponse();
    const deltas = (events) => events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    return {
      turns: [turn(final)],
      last,
      resumed: after.map((e) => ({ type: e.type, sequence: e.sequence_number })),
      deltas: deltas(seen) + deltas(after),
      helped,
    };
  },

  // The stream helper on a background create the provider cuts off mid-answer: the response is not over, so the stream
  // goes on with its new run (a second response.created, same id); the helper's final response is the new run's.
  async 'background-stream-cut'(options) {
    const stream = client(options).responses.stream({ model, input: 'Stream in the background, even if cut off.', store: true, background: true });
    const events = [];
    for await (const event of stream) events.push({ type: event.type, sequence: event.sequence_number, id: event.response?.id, delta: event.delta });
    const final = await stream.finalResponse();
    const newRun = events.slice(events.findLastIndex((e) => e.type === 'response.created'));
    return {
      turns: [turn(final)],
      events: events.map((e) => e.type),
      sequences: events.map((e) => e.sequence),
      createdIds: events.filter((e) => e.type === 'response.created').map((e) => e.id),
      newRunDeltas: newRun.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''),
    };
  },

  // A background response polled with retrieve until it is over, as the API's guide does, then continued by its id.
  async 'background-poll'(options) {
    const openai = client(options);
    const created = await openai.responses.create({ model, input: 'Answer in the background, even if cut off.', store: true, background: true });
    const statuses = [created.status];
    let polled = created;
    while (polled.status === 'queued' || polled.status === 'in_progress') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      polled = await openai.responses.retrieve(created.id);
      statuses.push(polled.status);
    }
    const next = await openai.responses.create({ model, input: 'Go on.', previous_response_id: created.id, store: true });
    return { turns: [turn(polled), turn(next)], createdId: created.id, statuses, finalStatus: polled.status, nextStatus: next.status };
  },

  // The SDK's parse helper: a zod schema sent as text.format json_schema, the answer parsed and validated by zod.
  async structured(options) {
    const response = await client(options).responses.parse({
      model, input: structuredPrompt, text: { format: zodTextFormat(Weather, 'weather') },
    });
    return { turns: [turn(response)], parsed: response.output_parsed };
  },

  // The SDK's Responses websocket client: one socket, three turns chained by previous_response_id.
  async websocket(options) {
    return websocketTurns(options, (text, previous) => ({ input: text, previous_response_id: previous ?? undefined }));
  },

  // The same socket, but every turn resends the whole conversation.
  async 'websocket-history'(options) {
    const context = [];
    return websocketTurns(options, (text, _previous, lastOutput) => {
      context.push(...lastOutput, { role: 'user', content: text });
      return { input: [...context] };
    });
  },
});

async function websocketTurns(options, body) {
  const ws = new ResponsesWS(client(options));
  const queue = [];
  let wake = null;
  ws.on('event', (event) => { queue.push(event); wake?.(); });
  ws.on('error', (error) => { queue.push({ type: 'error', error: { message: error.message } }); wake?.(); });
  const next = async () => {
    const deadline = Date.now() + 60_000;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no websocket event within 60 s');
      await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 1000); });
    }
    return queue.shift();
  };
  const turns = [];
  const events = [];
  let previous = null;
  let lastOutput = [];
  try {
    for (const text of ['My name is Alice.', 'What is my name?', 'Thanks, goodbye.']) {
      ws.send({ type: 'response.create', model, store: false, ...body(text, previous, lastOutput) });
      for (;;) {
        const event = await next();
        events.push(event.type);
        if (event.type === 'error') throw new Error(`error frame: ${JSON.stringify(event.error ?? event)}`);
        if (event.type === 'response.failed') throw new Error(`response.failed: ${JSON.stringify(event.response?.error)}`);
        if (event.type === 'response.completed') {
          const response = event.response;
          const text = response.output.flatMap((i) => i.content ?? []).map((c) => c.text ?? '').join('');
          turns.push({ id: response.id, status: response.status, text });
          previous = response.id;
          lastOutput = response.output;
          break;
        }
      }
    }
  } finally {
    ws.close({ code: 1000, reason: 'done' });
  }
  return { turns, events };
}
