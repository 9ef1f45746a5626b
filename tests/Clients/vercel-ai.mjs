// The Vercel AI SDK (ai + @ai-sdk/openai) against the bridge, through its Responses model openai.responses(...).
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, Output, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { model, runScenario, structuredPrompt, toolName, toolPrompt, toolResult, Weather } from './lib/scenario.mjs';

const responses = ({ baseUrl, apiKey }) => createOpenAI({ baseURL: baseUrl, apiKey }).responses(model);
const turn = (result) => ({ id: result.response.id, text: result.text, finishReason: result.finishReason });
const texts = ['My name is Alice.', 'What is my name?', 'Thanks, goodbye.'];
// THINK_FIRST: the simulator reasons before it answers, as a reasoning model does.
const thinkingTexts = texts.map((text) => `THINK_FIRST ${text}`);

const tools = {
  [toolName]: tool({
    description: 'Runs a shell command and returns what it printed.',
    inputSchema: z.object({ cmd: z.string() }),
    execute: async () => toolResult,
  }),
};

await runScenario({
  async create(options) {
    const result = await generateText({ model: responses(options), prompt: 'Say hello in exactly 3 words.', maxRetries: 0 });
    return { turns: [turn(result)] };
  },

  async stream(options) {
    const result = streamText({ model: responses(options), prompt: 'Count from 1 to 5.', maxRetries: 0 });
    let deltas = '';
    for await (const delta of result.textStream) deltas += delta;
    const response = await result.response;
    return { turns: [{ id: response.id, text: await result.text, finishReason: await result.finishReason }], deltas };
  },

  // The SDK runs the tool loop itself: the call, the tool's output, the answer — each step a request with the full
  // conversation (store:false, so reasoning travels as encrypted content rather than item references).
  async tool(options) {
    return toolTurns(options, { store: false });
  },

  // The same with the SDK's default store:true: the reasoning goes back as an item_reference (the function call in full).
  async 'tool-stored'(options) {
    return toolTurns(options, {});
  },

  async chain(options) {
    const turns = [];
    let previousResponseId;
    for (const prompt of texts) {
      const result = await generateText({
        model: responses(options), prompt, maxRetries: 0, providerOptions: { openai: { previousResponseId } },
      });
      turns.push(turn(result));
      previousResponseId = result.providerMetadata?.openai?.responseId ?? result.response.id;
    }
    return { turns };
  },

  // The chat-app way: the whole message list every turn, the SDK's own response messages appended (store:false, so
  // they come back as full items).
  async history(options) {
    return historyTurns(options, { store: false });
  },

  // The same with the SDK's default store:true and a model that reasons before it answers: the SDK sends each earlier
  // reasoning item and answer back as item_reference items ({"type":"item_reference","id":"rs_…"/"msg_…"}).
  async 'history-stored'(options) {
    return historyTurns(options, {}, thinkingTexts);
  },

  async structured(options) {
    const result = await generateText({
      model: responses(options), prompt: structuredPrompt, output: Output.object({ schema: Weather }), maxRetries: 0,
    });
    return { turns: [turn(result)], parsed: result.output };
  },
});

async function historyTurns(options, openai, prompts = texts) {
  const turns = [];
  const messages = [];
  for (const content of prompts) {
    messages.push({ role: 'user', content });
    const result = await generateText({ model: responses(options), messages, maxRetries: 0, providerOptions: { openai } });
    turns.push(turn(result));
    messages.push(...result.response.messages);
  }
  return { turns };
}

async function toolTurns(options, openai) {
  const result = await generateText({
    model: responses(options), prompt: toolPrompt, tools, stopWhen: stepCountIs(4), maxRetries: 0, providerOptions: { openai },
  });
  return {
    turns: result.steps.map((step) => ({ id: step.response.id, text: step.text, finishReason: step.finishReason })),
    calls: result.steps.flatMap((step) => step.toolCalls.map((c) => ({ name: c.toolName, arguments: JSON.stringify(c.input) }))),
    toolResults: result.steps.flatMap((step) => step.toolResults.map((r) => r.output)),
  };
}
