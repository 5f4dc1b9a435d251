// Load generator for bench/serve.sh: C concurrent clients, each sending streaming /v1/completions
// requests (greedy, ignore_eos, fixed max_tokens) until R requests are done. Loopback only; plain fetch.
// usage: node serve_load.mjs URL CONCURRENCY REQUESTS MAX_TOKENS PROMPT_WORDS
const [url, conc, total, maxTokens, promptWords] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error('URL must be http://127.0.0.1:PORT');
const C = Number(conc), R = Number(total), M = Number(maxTokens), W = Number(promptWords);

async function one(i) {
  const t0 = performance.now();
  const prompt = Array.from({ length: W }, (_, k) => `w${(i * 31 + k) % 97}`).join(' ');
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt, max_tokens: M, temperature: 0, ignore_eos: true, stream: true,
                           stream_options: { include_usage: true } }),
    signal: AbortSignal.timeout(300_000),
  });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  let ttft = null, usage = null, buf = '';
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let e;
    while ((e = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, e);
      buf = buf.slice(e + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const j = JSON.parse(ev.slice(6));
      if (ttft === null && j.choices?.[0]?.text) ttft = performance.now() - t0;
      if (j.usage) usage = j.usage;
    }
  }
  return { ttft, total: performance.now() - t0, usage };
}

// Node loads its HTTP client on the first fetch (~0.3 s): do that before timing anything.
await (await fetch(`${url}/health`)).text();

const results = [];
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: C }, async () => {
  while (next < R) results.push(await one(next++));
}));
const wall = (performance.now() - t0) / 1000;
const tokens = results.reduce((a, r) => a + r.usage.completion_tokens, 0);
const ttfts = results.map((r) => r.ttft ?? r.total).sort((a, b) => a - b);
const decodeRates = results.map((r) => (r.usage.completion_tokens - 1) / ((r.total - (r.ttft ?? r.total)) / 1000 || Infinity));
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
console.log(JSON.stringify({
  concurrency: C, requests: R, max_tokens: M, prompt_tokens: results[0].usage.prompt_tokens,
  wall_s: +wall.toFixed(3), requests_per_s: +(R / wall).toFixed(2), tokens_per_s: +(tokens / wall).toFixed(1),
  per_stream_decode_tokens_per_s: +decodeRates.sort((a, b) => a - b)[Math.floor(decodeRates.length / 2)].toFixed(1),
  ttft_ms_p50: +ttfts[Math.floor(ttfts.length / 2)].toFixed(1), ttft_ms_mean: +mean(ttfts).toFixed(1),
}));
