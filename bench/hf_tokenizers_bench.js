// HF tokenizers (Rust, via the @anush008/tokenizers Node binding) on the same corpus as
// tokenizer_bench: node hf_tokenizers_bench.js TOKENIZER.json CORPUS.json
// Encodes document by document, without special tokens, and prints the same JSON line.
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');

(async () => {
  const [tokPath, corpusPath] = process.argv.slice(2);
  const docs = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokPath);
  const t1 = process.hrtime.bigint();
  // First round of distinct documents timed on its own, as in tokenizer_bench.
  let distinct = docs.length;
  for (let i = 1; i < docs.length; i++) if (docs[i] === docs[0]) { distinct = i; break; }
  let tokens = 0, firstBytes = 0, firstSecs = 0;
  const c1 = process.cpuUsage();  // all threads of the process (the encode runs on a libuv worker)
  for (let i = 0; i < docs.length; i++) {
    const e = await tok.encode(docs[i], null, { addSpecialTokens: false });
    tokens += e.getIds().length;
    if (i + 1 === distinct) {
      firstSecs = Number(process.hrtime.bigint() - t1) / 1e9;
      for (let k = 0; k < distinct; k++) firstBytes += Buffer.byteLength(docs[k], 'utf8');
    }
  }
  const t2 = process.hrtime.bigint();
  const c2 = process.cpuUsage(c1);
  const cpu = (c2.user + c2.system) / 1e6;
  const load = Number(t1 - t0) / 1e9, secs = Number(t2 - t1) / 1e9;
  console.log(JSON.stringify({
    impl: 'hf-tokenizers', docs: docs.length, bytes, tokens, load_s: +load.toFixed(3), encode_s: +secs.toFixed(3),
    mb_per_s: +(bytes / secs / 1e6).toFixed(2), tokens_per_s: Math.round(tokens / secs),
    first_round_mb_per_s: +(firstBytes / firstSecs / 1e6).toFixed(2),
    cpu_s: +cpu.toFixed(3), mb_per_cpu_s: +(bytes / cpu / 1e6).toFixed(2),
  }));
})().catch((e) => { console.error('hf_tokenizers_bench:', e.message); process.exit(1); });
