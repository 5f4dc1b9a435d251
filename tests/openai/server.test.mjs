// dsv4 serve driven by the official openai package: chat (whole and streamed), thinking on and off,
// a tool-call round trip, /v1/models, /v1/completions and the error cases with their status codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BASE_URL, API_KEY, OVERLOAD_URL, MODEL, client, chatParams, collectChat, expectApiError } from './common.mjs';

const ai = client();

test('models list', async () => {
  const page = await ai.models.list();
  const ids = page.data.map((m) => m.id);
  assert.deepEqual(ids, [MODEL]);
  assert.equal(page.data[0].object, 'model');
});

test('chat completion (thinking off)', async () => {
  const r = await ai.chat.completions.create(chatParams('Hello, who are you?'));
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  const m = r.choices[0].message;
  assert.equal(m.role, 'assistant');
  assert.equal(typeof m.content, 'string');
  assert.ok(!m.reasoning_content, 'no reasoning in chat mode');
  assert.ok(['stop', 'length', 'tool_calls'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 16);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

for (const thinking of [false, true]) {
  test(`streamed deltas concatenate to the non-streamed text (greedy, thinking ${thinking ? 'on' : 'off'})`, async () => {
    const params = chatParams('Write a short poem about the sea.', { maxTokens: 32, thinking });
    const whole = await ai.chat.completions.create(params);
    const s = await collectChat(
      await ai.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }),
    );
    const m = whole.choices[0].message;
    assert.equal(s.content, m.content ?? '');
    assert.equal(s.reasoning, m.reasoning_content ?? '');
    if (thinking) assert.equal(typeof m.reasoning_content, 'string', 'reasoning_content present in thinking mode');
    assert.equal(s.finish, whole.choices[0].finish_reason);
    assert.deepEqual(s.usage, whole.usage);
    assert.equal(s.ids.size, 1, 'one id for the whole stream');
  });
}

test('thinking on and off render different prompts', async () => {
  const on = await ai.chat.completions.create(chatParams('Is 17 prime?', { maxTokens: 2, thinking: true }));
  const off = await ai.chat.completions.create(chatParams('Is 17 prime?', { maxTokens: 2, thinking: false }));
  // The prompts end with "<｜Assistant｜><think>" vs "<｜Assistant｜></think>": one token each in the tiny vocabulary.
  assert.equal(on.usage.prompt_tokens, off.usage.prompt_tokens);
  const viaEffort = await ai.chat.completions.create({
    ...chatParams('Is 17 prime?', { maxTokens: 2 }),
    thinking: undefined,
    reasoning_effort: 'none',
  });
  assert.deepEqual(viaEffort.choices[0].message.content, off.choices[0].message.content);
});

test('tool-call round trip', async () => {
  const tools = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather of a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ];
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const first = await ai.chat.completions.create({ ...chatParams(''), messages, tools });
  const plain = await ai.chat.completions.create({ ...chatParams(''), messages });
  assert.ok(first.usage.prompt_tokens > plain.usage.prompt_tokens, 'the tool schemas are in the prompt');
  // The random-weight model does not call tools by itself: answer as if it had called one.
  const call =
    first.choices[0].message.tool_calls?.[0] ??
    { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } };
  const second = await ai.chat.completions.create({
    ...chatParams(''),
    tools,
    messages: [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21, "sky": "sunny"}' },
    ],
  });
  assert.equal(second.choices[0].message.role, 'assistant');
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens);
  const streamed = await collectChat(
    await ai.chat.completions.create({
      ...chatParams(''),
      tools,
      stream: true,
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21, "sky": "sunny"}' },
      ],
    }),
  );
  assert.equal(streamed.content, second.choices[0].message.content ?? '');
});

test('legacy completions, whole and streamed', async () => {
  const params = { model: MODEL, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 };
  const whole = await ai.completions.create(params);
  assert.equal(whole.object, 'text_completion');
  let text = '';
  for await (const c of await ai.completions.create({ ...params, stream: true })) text += c.choices[0]?.text ?? '';
  assert.equal(text, whole.choices[0].text);
});

test('seeded sampling is reproducible', async () => {
  const p = { ...chatParams('Pick a random word.'), temperature: 0.9, top_p: 0.95, seed: 1234 };
  const a = await ai.chat.completions.create(p);
  const b = await ai.chat.completions.create(p);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test('stop sequences', async () => {
  const whole = await ai.completions.create({ model: MODEL, prompt: 'The sea', max_tokens: 24, temperature: 0 });
  const text = whole.choices[0].text;
  if (text.length < 4) return;
  const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
  const cut = await ai.completions.create({ model: MODEL, prompt: 'The sea', max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('errors: bad fields name the field (400)', async () => {
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), temperature: 'hot' }), 400, 'temperature');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), max_tokens: 0 }), 400, 'max_tokens');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), n: 2 }), 400, 'n');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), bogus_option: 1 }), 400, 'bogus_option');
  await expectApiError(
    assert,
    ai.chat.completions.create({ ...chatParams('hi'), messages: [{ role: 'wizard', content: 'x' }] }),
    400,
    'messages[0].role',
  );
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), messages: 'hello' }), 400, 'messages');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), tools: 'nope' }), 400, 'tools');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), stop: [1] }), 400, 'stop[0]');
  await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), logprobs: true }), 400, 'logprobs');
  await expectApiError(assert, ai.completions.create({ model: MODEL, prompt: 5 }), 400, 'prompt');
});

test('errors: context overflow (400 context_length_exceeded)', async () => {
  let e = await expectApiError(assert, ai.chat.completions.create({ ...chatParams('hi'), max_tokens: 1_000_000 }), 400, 'max_tokens');
  assert.equal(e.code, 'context_length_exceeded');
  e = await expectApiError(assert, ai.chat.completions.create(chatParams('word '.repeat(3000))), 400, 'messages');
  assert.equal(e.code, 'context_length_exceeded');
});

test('errors: API key (401)', async () => {
  await expectApiError(assert, client({ apiKey: 'wrong-key' }).models.list(), 401);
  await expectApiError(assert, client({ apiKey: 'wrong-key' }).chat.completions.create(chatParams('hi')), 401);
  const r = await fetch(`${BASE_URL}/models`);
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, 'invalid_api_key');
});

test('errors: malformed JSON, body too large, unknown route', async () => {
  const headers = { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' };
  let r = await fetch(`${BASE_URL}/chat/completions`, { method: 'POST', headers, body: '{"messages": [' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, 'invalid_json');
  r = await fetch(`${BASE_URL}/chat/completions`, { method: 'POST', headers, body: 'x'.repeat(5 << 20) }).catch((e) => e);
  if (r instanceof Response) assert.equal(r.status, 413);  // or the server closed the connection: also refused
  r = await fetch(`${BASE_URL}/no/such/route`, { headers });
  assert.equal(r.status, 404);
  assert.ok((await r.json()).error);
});

test('errors: overload (503), never a hang', { skip: !OVERLOAD_URL && 'DSV4_OVERLOAD_URL not set' }, async () => {
  const ov = new OpenAI({ baseURL: OVERLOAD_URL, apiKey: 'none', maxRetries: 0, timeout: 30_000 });
  // One slot, no queue: of several simultaneous requests at least one is refused, and all are answered.
  const reqs = Array.from({ length: 6 }, (_, i) =>
    ov.completions.create({ model: MODEL, prompt: `overload ${i}`, max_tokens: 200, temperature: 0, ignore_eos: true }).then(
      () => 200,
      (e) => e.status,
    ),
  );
  const statuses = await Promise.all(reqs);
  assert.ok(statuses.includes(503), `statuses: ${statuses}`);
  assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses: ${statuses}`);
});

test('client abort cancels the request', async () => {
  const controller = new AbortController();
  const stream = await ai.completions.create(
    { model: MODEL, prompt: 'abort me', max_tokens: 500, temperature: 0, stream: true, ignore_eos: true },
    { signal: controller.signal },
  );
  let n = 0;
  try {
    for await (const _ of stream) if (++n === 2) controller.abort();
  } catch (e) {
    assert.ok(e.name === 'AbortError' || e instanceof OpenAI.APIUserAbortError, String(e));
  }
  // The server notices at its next write and frees the slot.
  const metrics = async () => (await (await fetch(BASE_URL.replace(/\/v1$/, '/metrics'))).text());
  let cancelled = 0;
  for (let i = 0; i < 100 && cancelled < 1; i++) {
    const m = (await metrics()).match(/^dsv4_requests_cancelled_total (\d+)/m);
    cancelled = m ? Number(m[1]) : 0;
    if (cancelled < 1) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(cancelled >= 1, 'cancelled counter');
});
