// Dumps, for each class, the code points that Oniguruma (inside HF tokenizers) matches:
//   NODE_PATH=bench/node_modules node tools/unicode/onig_classes.js TOKENIZER.json onig.json
// (any tokenizer.json: its pre_tokenizer is replaced by a Split on the class).
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');
const base = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const classes = { L: '\\p{L}', M: '\\p{M}', N: '\\p{N}', P: '\\p{P}', S: '\\p{S}', s: '\\s', w: '\\w' };
let all = [];
for (let c = 0; c < 0x110000; c++) if (c < 0xd800 || c > 0xdfff) all.push(String.fromCodePoint(c));
const text = all.join('');
const out = {};
for (const [k, re] of Object.entries(classes)) {
  base.pre_tokenizer = { type: 'Split', pattern: { Regex: re }, behavior: 'Removed', invert: false };
  fs.writeFileSync('require('os').tmpdir() + '/dsv4_probe_tokenizer.json'', JSON.stringify(base));
  const t = Tokenizer.fromFile('require('os').tmpdir() + '/dsv4_probe_tokenizer.json'');
  const pieces = t.getPreTokenizer().preTokenizeString(text);
  const non = new Set();
  for (const [p] of pieces) for (const ch of p) non.add(ch.codePointAt(0));
  const mem = [];
  for (let c = 0; c < 0x110000; c++) if ((c < 0xd800 || c > 0xdfff) && !non.has(c)) mem.push(c);
  out[k] = mem;
  console.error(k, mem.length);
}
fs.writeFileSync(process.argv[3], JSON.stringify(out));
