// Shared by the openai-package tests: the clients for the servers run.sh started (loopback only).
import OpenAI from 'openai';

export const BASE_URL = process.env.DSV4_BASE_URL;            // main server, needs DSV4_API_KEY
export const API_KEY = process.env.DSV4_API_KEY;
export const OVERLOAD_URL = process.env.DSV4_OVERLOAD_URL;    // one batch slot, no queue
export const MODEL = process.env.DSV4_MODEL_ID ?? 'dsv4-tiny-a';

if (!BASE_URL || !/^http:\/\/127\.0\.0\.1:\d+\/v1$/.test(BASE_URL))
  throw new Error('DSV4_BASE_URL must be http://127.0.0.1:PORT/v1 (run the tests through run.sh)');

export function client(opts = {}) {
  return new OpenAI({ baseURL: BASE_URL, apiKey: API_KEY, maxRetries: 0, timeout: 60_000, ...opts });
}

// Greedy, short, thinking off unless asked.
export function chatParams(content, { maxTokens = 16, thinking = false, ...rest } = {}) {
  return {
    model: MODEL,
    messages: [{ role: 'user', content }],
    max_tokens: maxTokens,
    temperature: 0,
    thinking: { type: thinking ? 'enabled' : 'disabled' },
    ...rest,
  };
}

// Consumes a chat stream: concatenated content / reasoning, tool-call deltas, finish reason, usage.
export async function collectChat(stream) {
  const out = { content: '', reasoning: '', toolCalls: [], finish: null, usage: null, chunks: 0, ids: new Set() };
  for await (const chunk of stream) {
    out.chunks++;
    out.ids.add(chunk.id);
    if (chunk.usage) out.usage = chunk.usage;
    const ch = chunk.choices[0];
    if (!ch) continue;
    if (ch.finish_reason) out.finish = ch.finish_reason;
    const d = ch.delta ?? {};
    if (typeof d.content === 'string') out.content += d.content;
    if (typeof d.reasoning_content === 'string') out.reasoning += d.reasoning_content;
    for (const tc of d.tool_calls ?? []) out.toolCalls.push(tc);
  }
  return out;
}

// Expects `promise` to reject with an OpenAI APIError of `status` (and `param` when given).
export async function expectApiError(assert, promise, status, param) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected an error with status ${status}`);
  assert.equal(err.status, status, `status: ${err?.message}`);
  assert.ok(err.error && typeof err.error.message === 'string', 'OpenAI-style error body');
  assert.ok('type' in err.error && 'param' in err.error && 'code' in err.error, 'error has type/param/code');
  if (param !== undefined) assert.equal(err.param, param, `param: ${err.message}`);
  return err;
}
