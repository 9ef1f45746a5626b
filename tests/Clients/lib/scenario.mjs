// Runs one named scenario of a client script and prints exactly one JSON line on stdout, the only thing the C# side
// reads: {"ok":true,"scenario":…,…result} or {"ok":false,"error":…}. Usage: node <client>.mjs <bridge base url> <scenario>
// (the base url ends in /v1); the gateway API key comes from BRIDGE_API_KEY.
import { z } from 'zod';

export const model = 'gpt-5.5';

/** The distinctive tool every client offers: the simulator calls it when the user text says RUN_TOOL (or names it). */
export const toolName = 'exec_command';
export const toolPrompt = `RUN_TOOL: use the ${toolName} tool to run \`echo sim-tool-ran\`, then tell me what it printed.`;
export const toolResult = 'sim-tool-ran';

/** The structured output every client asks for (sent upstream as text.format json_schema). */
export const Weather = z.object({ city: z.string(), temperature_c: z.number().int(), sunny: z.boolean() });
export const structuredPrompt = 'Report the weather in Paris as JSON.';

export function settings() {
  const [baseUrl, scenario] = process.argv.slice(2);
  const apiKey = process.env.BRIDGE_API_KEY;
  if (!baseUrl || !scenario || !apiKey) throw new Error('usage: BRIDGE_API_KEY=… node <client>.mjs <base url ending in /v1> <scenario>');
  return { baseUrl, scenario, apiKey };
}

export async function runScenario(scenarios) {
  let name = '?';
  try {
    const { baseUrl, scenario, apiKey } = settings();
    name = scenario;
    const run = scenarios[scenario];
    if (!run) throw new Error(`unknown scenario '${scenario}'; known: ${Object.keys(scenarios).join(', ')}`);
    const result = await run({ baseUrl, apiKey });
    print({ ok: true, scenario: name, ...result });
  } catch (error) {
    print({ ok: false, scenario: name, error: describe(error) });
    process.exitCode = 1;
  }
  // Keep-alive sockets or SDK timers must not hold the process: the answer is printed.
  setTimeout(() => process.exit(), 200).unref();
}

/** What went wrong, with the HTTP status and OpenAI error code when the SDK saw one. */
export function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const status = error.status ?? error.statusCode;
  const code = error.code ?? error.error?.code;
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  return `${error.name}${status ? ` ${status}` : ''}${code ? ` ${code}` : ''}: ${error.message}${cause}`;
}

/** An expected failure, reported instead of thrown: {status, code, message}. */
export async function outcome(call) {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, status: error.status ?? null, code: error.code ?? error.error?.code ?? null, message: describe(error) };
  }
}

function print(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}
