// Exports the two npm oracles' vocabularies as GGUF-style tokenizer sections
// and their token ids for a fixed set of test strings, for
// tests/inference/text_tokenizer_oracle.c to compare with (docs/tokenizers.md).
//
//   node export.mjs OUT_DIR  -> OUT_DIR/{llama2,llama3}.{vocab,cases}
//
// Every string is written as hex so that no byte needs escaping.
//
// vocab: "tether-vocab 1", then key/value lines (model, pre, bos, eos, unk,
//   eot, add_space_prefix, n_tokens, n_merges), then one "type score hex" line
//   per token, then one hex line per merge in priority order.
// cases: one "flags raw_hex oracle_hex ids" line per string. raw is the bytes
//   the C tokenizer is given as they are (round trip, no crash); oracle is the
//   string the oracle saw (raw decoded by TextDecoder: invalid UTF-8 becomes
//   U+FFFD), re-encoded as UTF-8, which the C tokenizer must map to exactly
//   ids. flags: "b" = with BOS, "-" = without.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import llama2 from 'llama-tokenizer-js';
import llama3 from 'llama3-tokenizer-js';

const outDir = process.argv[2];
if (!outDir) {
	console.error('usage: node export.mjs OUT_DIR');
	process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const enc = new TextEncoder();
// replacement, not fatal; a leading U+FEFF stays (TextDecoder drops it by default)
const dec = new TextDecoder('utf-8', { ignoreBOM: true });
const hex = (bytes) => Buffer.from(bytes).toString('hex') || '-';

// ---- vocabularies ----

function writeVocab(file, meta, tokens, types, scores, merges) {
	const lines = ['tether-vocab 1'];
	for (const [k, v] of Object.entries(meta))
		lines.push(`${k} ${v}`);
	lines.push(`n_tokens ${tokens.length}`, `n_merges ${merges.length}`);
	tokens.forEach((t, i) => lines.push(`${types[i]} ${scores[i]} ${hex(enc.encode(t))}`));
	for (const m of merges)
		lines.push(hex(enc.encode(m)));
	writeFileSync(file, lines.join('\n') + '\n');
}

// SentencePiece: the score of a piece is minus the priority of the first
// (best) merge that creates it, so that "highest score merges first" is the
// oracle's "lowest priority merges first". Pieces no merge creates (single
// characters, specials) never result from a merge; they get -1e9.
{
	const v = llama2.vocabById;
	const best = new Map();
	for (const [pair, prio] of llama2.merges) {
		const piece = pair.replace(' ', '');
		if (!best.has(piece) || prio < best.get(piece))
			best.set(piece, prio);
	}
	const types = v.map((t, i) => i === 0 ? 2 : i <= 2 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1);
	const scores = v.map((t) => best.has(t) ? -best.get(t) : -1e9);
	writeVocab(path.join(outDir, 'llama2.vocab'),
		{ model: 'llama', pre: '-', bos: 1, eos: 2, unk: 0, eot: -1, add_space_prefix: 1 },
		v, types, scores, []);
}
// Byte-level BPE: merges in priority order; ids >= 128000 are control tokens.
{
	const v = llama3.vocabById;
	const merges = [...llama3.merges.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
	writeVocab(path.join(outDir, 'llama3.vocab'),
		{ model: 'gpt2', pre: 'llama-bpe', bos: 128000, eos: 128001, unk: -1, eot: 128009,
		  add_space_prefix: -1 },
		v, v.map((_, i) => i >= 128000 ? 3 : 1), v.map(() => 0), merges);
}

// ---- test strings (deterministic: a seeded generator) ----

let state = 0x9e3779b9;
function rand() { // mulberry32
	state = (state + 0x6d2b79f5) | 0;
	let t = state;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const cp = (lo, hi) => String.fromCodePoint(lo + int(hi - lo + 1));
const repeat = (n, f) => Array.from({ length: n }, f).join('');

const words = ('the of and to in is that it was for on are as with his they at be this from ' +
	'have or by one had not but what all were when we there can an your which their said if ' +
	'do will each about how up out them then she many some so these would other into has more ' +
	'her two like him see time could no make than first been its who now people my made over ' +
	'did down only way find use may water long little very after words called just where most ' +
	'know tokenizer Llama SentencePiece GPU don\'t I\'m we\'ll they\'re it\'s you\'ve He\'d ' +
	'CAN\'T O\'Neil naïve café résumé Zürich coöperate').split(' ');
const code = ['int', 'main', '(void)', '{', '}', 'return', '0;', 'for', '(i = 0;', 'i < n;',
	'i++)', 'if', 'else', 'while', 'def', 'self', 'self.x', '=', '==', '!=', '->', '=>',
	'const', 'let', 'x', 'y', 'foo_bar', 'FooBar', '#include', '<stdio.h>', 'printf("%d\\n",',
	'/*', '*/', '//', '"str"', '\'c\'', '[0]', 'None', 'True', 'async', 'await', 'fn', '::',
	'&&', '||', '<<=', '0x1F', '1e-9', '3.14'];
const scripts = [[0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff],
	[0x5d0, 0x5ea], [0x620, 0x64a], [0x900, 0x97f], [0xe01, 0xe5b], [0x10a0, 0x10ff],
	[0x1100, 0x11ff], [0x3040, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x300, 0x36f],
	[0x2000, 0x206f], [0x20a0, 0x20bf], [0x2100, 0x214f], [0xff01, 0xff5e], [0x1d400, 0x1d7ff],
	[0x10000, 0x1007f], [0x1f300, 0x1f64f], [0xe000, 0xe0ff], [0x80, 0xbf], [0xfff0, 0xffff]];
const spaces = [' ', ' ', ' ', '\t', '\n', '\r', '\r\n', '\u00a0', '\u3000', '\u2009', '\u000b',
	'\u000c', '\u0085', '\ufeff', '\u2028'];
const emoji = ['😀', '👍', '👍🏽', '👨‍👩‍👧', '🇫🇮', '❤️', '🤖', '🔥', '✨', '🧑‍💻', '🏳️‍🌈', '☕',
	'😂', '🙏', '🎉'];

const gen = {
	prose() {
		let s = repeat(3 + int(25), () => {
			let w = pick(words);
			if (rand() < 0.15)
				w = w[0].toUpperCase() + w.slice(1);
			return w + (rand() < 0.1 ? pick([',', '.', ';', ':', '!', '?', ' -', '...']) : '') + ' ';
		});
		return rand() < 0.5 ? s.trimEnd() : s;
	},
	code() {
		return repeat(1 + int(6), () =>
			repeat(int(4), () => pick(['    ', '\t', '  '])) +
			repeat(1 + int(6), () => pick(code) + pick([' ', ' ', '', '  '])) +
			pick(['\n', '\n', '\n\n', '\r\n', '']));
	},
	cjk() {
		return repeat(1 + int(30), () => rand() < 0.8 ? cp(0x4e00, 0x9fff) :
			pick([cp(0x3040, 0x30ff), cp(0xac00, 0xd7a3), '。', '、', '，', ' ', pick(words)]));
	},
	emoji() {
		return repeat(1 + int(12), () => rand() < 0.7 ? pick(emoji) : pick([' ', pick(words), '!']));
	},
	whitespace() {
		return repeat(1 + int(12), () => rand() < 0.75 ? repeat(1 + int(6), () => pick(spaces)) :
			pick([pick(words), 'x', '1', '.', '(']));
	},
	digits() {
		return repeat(1 + int(8), () => pick([
			repeat(1 + int(12), () => String(int(10))),
			String(int(1e6)) + '.' + String(int(1000)), '1,234,567', '-42', '3.14159', '2024-05-17',
			'０１２３', '٣٤٥', '½', 'Ⅻ', ' ', ' ', 'x']));
	},
	mixed() {
		return repeat(1 + int(20), () => {
			const [lo, hi] = pick(scripts);
			return rand() < 0.3 ? ' ' : repeat(1 + int(5), () => cp(lo, hi));
		});
	},
};

// Bytes that are not valid UTF-8, mixed with valid text.
function invalidBytes() {
	const parts = [];
	for (let n = 1 + int(8); n--;) {
		switch (int(8)) {
		case 0: parts.push([int(256)]); break;                       // any byte
		case 1: parts.push([0x80 + int(64)]); break;                 // lone continuation
		case 2: parts.push([0xc0 + int(2), 0x80 + int(64)]); break;  // overlong 2-byte
		case 3: parts.push([0xed, 0xa0 + int(32), 0x80 + int(64)]); break; // surrogate
		case 4: parts.push([0xe4, 0xb8]); break;                     // truncated 3-byte
		case 5: parts.push([0xf0, 0x9f, 0x98]); break;               // truncated 4-byte
		case 6: parts.push([0xf5 + int(11)]); break;                 // never valid
		default: parts.push([...enc.encode(pick([pick(words), ' ', '日本', '😀', '\n']))]);
		}
	}
	return Uint8Array.from(parts.flat());
}

const handPicked = [
	'', ' ', '  ', '   ', '\n', '\n\n', '\t', ' \n ', 'a', 'A', 'Hello world', 'Hello World!',
	' Hello', '  Hello', 'hello  world', 'Hello\nworld', 'Hello\n\nworld', 'This is a test.',
	'The quick brown fox jumps over the lazy dog.', "I'm sure you've heard it's fine, they're OK",
	"DON'T SHOUT, WE'LL HEAR", "'s 't 're 've 'm 'll 'd", "''s", 'https://example.com/a?b=c&d=e',
	'user@example.com', 'int main(void)\n{\n\treturn 0;\n}\n',
	'def f(x):\n    if x:\n        return x  # comment\n    return None\n',
	'        indented by eight', '\t\tfoo\n\t\t\tbar', 'x = [1, 2, 3]  ', 'a\r\nb\r\n',
	'12', '123', '1234', '12345', '1234567890', '3.141592653589793', '1,000,000', '-0.5e-10',
	'日本語のテキスト', '中文测试', '한국어 텍스트', 'Привет, мир!', 'Γειά σου Κόσμε',
	'مرحبا بالعالم', 'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'e\u0301', 'ﬁ ligature', 'ǅ titlecase',
	'😀', '😀😀', '👨‍👩‍👧', '🇫🇮🇸🇪', 'emoji 🤖 in text', '\u00a0nbsp\u00a0', '\u3000ideographic',
	'zero\u200bwidth', 'a\u0085b', 'a\ufeffb', '\u2028\u2029', '<s>', '</s>', '<unk>',
	'<0x0A>', '▁', '▁▁', 'a▁b', '<|eot_id|>', '<|begin_of_text|>Hi<|eot_id|>',
	'<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>', '<|not_special|>',
	'<|reserved_special_token_247|>', '<|reserved_special_token_248|>', 'x'.repeat(300),
	' '.repeat(64), '\n'.repeat(20), 'ab'.repeat(100), '\u0000', '\u0001\u0002\u007f',
	'\ud800', 'a\udc00b',
];

function buildCases(withSpecials) {
	const cases = [];
	for (const s of handPicked)
		cases.push(enc.encode(s));
	const kinds = Object.keys(gen);
	for (let i = 0; i < 1000; i++) {
		const kind = kinds[i % kinds.length];
		let s = gen[kind]();
		if (withSpecials && rand() < 0.05)
			s = s + pick(['<|eot_id|>', '<|start_header_id|>', '<|python_tag|>']) + gen[kind]();
		cases.push(enc.encode(s));
	}
	for (let i = 0; i < 150; i++)
		cases.push(invalidBytes());
	return cases;
}

function writeCases(file, cases, encode) {
	const lines = [];
	cases.forEach((raw, i) => {
		const text = dec.decode(raw); // like with like: what the oracle sees
		const bos = i % 7 === 3;
		lines.push(`${bos ? 'b' : '-'} ${hex(raw)} ${hex(enc.encode(text))} ` +
			`${encode(text, bos).join(',') || '-'}`);
	});
	writeFileSync(file, lines.join('\n') + '\n');
	return lines.length;
}

const n2 = writeCases(path.join(outDir, 'llama2.cases'), buildCases(false),
	(text, bos) => llama2.encode(text, bos, true));
const n3 = writeCases(path.join(outDir, 'llama3.cases'), buildCases(true),
	(text, bos) => llama3.encode(text, { bos, eos: false }));
console.log(`export.mjs: ${n2} llama2 and ${n3} llama3 strings in ${outDir}`);
