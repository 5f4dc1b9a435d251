// Reference encodings from HF tokenizers (Rust, Node binding) for differential checks:
//   NODE_PATH=build/bench-hf/node_modules node bench/hf_tokenizers_encode.js TOKENIZER.json TEXTS.json IDS.json
// TEXTS: JSON array of strings -> IDS: array of id arrays (no special tokens added), the
// format of `dsv4 tokenize --input/--out`; IDS.json.dec gets HF's decode of those ids.
// Compare with: dsv4 tokenize --tokenizer TOKENIZER.json --input TEXTS.json --out OURS.json
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');

(async () => {
  const [tokPath, textsPath, outPath] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokPath);
  const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
  const ids = [];
  for (const s of texts) ids.push(Array.from((await tok.encode(s, null, { addSpecialTokens: false })).getIds()));
  fs.writeFileSync(outPath, JSON.stringify(ids));
  const dec = [];
  for (const x of ids) dec.push(await tok.decode(x, false));
  fs.writeFileSync(outPath + '.dec', JSON.stringify(dec));
})().catch((e) => { console.error('hf_tokenizers_encode:', e.message); process.exit(1); });
