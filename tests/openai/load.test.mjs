// Load: 64 concurrent streaming chat requests against the tiny model. Every response completes, none is
// lost or mixed up, and each greedy output equals the output of the same request sent alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, chatParams, collectChat } from './common.mjs';

const N = Number(process.env.DSV4_LOAD_REQUESTS ?? 64);
const MAX_TOKENS = Number(process.env.DSV4_LOAD_MAX_TOKENS ?? 12);
const ai = client();

// The whole test (with the one-by-one reference run) is bounded at 120 s so that sanitizer builds pass;
// the concurrent phase itself must take well under a minute.
test(`${N} concurrent streaming requests`, { timeout: 120_000 }, async () => {
  const prompts = Array.from({ length: N }, (_, i) => `Request ${i}: say something about the number ${i * 7 + 3}.`);
  const params = (p) => chatParams(p, { maxTokens: MAX_TOKENS });

  // Alone, one at a time.
  const alone = [];
  for (const p of prompts) alone.push((await ai.chat.completions.create(params(p))).choices[0].message.content ?? '');

  // All at once, streamed.
  const t0 = performance.now();
  const results = await Promise.all(
    prompts.map(async (p) => collectChat(await ai.chat.completions.create({ ...params(p), stream: true, stream_options: { include_usage: true } }))),
  );
  const seconds = (performance.now() - t0) / 1000;

  const ids = new Set();
  let tokens = 0;
  results.forEach((r, i) => {
    assert.ok(r.finish === 'stop' || r.finish === 'length', `request ${i} completed (finish ${r.finish})`);
    assert.ok(r.usage, `request ${i} has usage`);
    tokens += r.usage.completion_tokens;
    assert.equal(r.ids.size, 1, `request ${i}: one id`);
    ids.add([...r.ids][0]);
    assert.equal(r.content, alone[i], `request ${i}: batched output equals the output alone`);
  });
  assert.equal(ids.size, N, 'every response has its own id');
  assert.ok(seconds < 45, `the ${N} concurrent requests took ${seconds.toFixed(1)} s`);
  console.log(
    `load: ${N} concurrent streams, ${MAX_TOKENS} max tokens: ${seconds.toFixed(2)} s, ` +
      `${(N / seconds).toFixed(1)} requests/s, ${(tokens / seconds).toFixed(1)} tokens/s`,
  );
});
