// Splits random strings with Hugging Face's own pre-tokenizers (the Rust
// `tokenizers` library, through the @anush008/tokenizers Node binding): each
// pre-tokenizer list of docs/tokenizers.md as a Sequence of Split
// pre-tokenizers (regex, "isolated"), as a tokenizer.json states them. Writes
// the strings and the byte length of every word, for
// tests/inference/text_pretok_oracle.c to compare with inf_pretokenize.
//
//   node pretok.mjs OUT_FILE
//
// OUT_FILE: one "list text_hex len,len,..." line per string.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const out = process.argv[2];
if (!out) {
	console.error('usage: node pretok.mjs OUT_FILE');
	process.exit(2);
}

// GPT-2's expression as ByteLevel's use_regex applies it
const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const llama3 = (n) => "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" + n +
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const lists = {
	gpt2: [gpt2],
	llama3: [llama3('{1,3}')],
	qwen2: [llama3('')],
	starcoder: ['\\p{N}', gpt2],
	falcon: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', gpt2, '[0-9][0-9][0-9]'],
	'deepseek-llm': [
		'[\\r\\n]',
		// \s?[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]+ (DeepSeek LLM's cased letters)
		'\\s?[' + [[65,90],[97,122],[181,181],[192,214],[216,246],[248,442],[444,447],[452,659],[661,687],[880,883],[886,887],[891,893],[895,895],[902,902],[904,906],[908,908],[910,929],[931,1013],[1015,1153],[1162,1327],[1329,1366],[4256,4293],[5024,5109],[5112,5117],[7312,7354],[7357,7359],[7424,7467],[7531,7543],[7545,7578],[7680,7957],[7960,7965],[7968,8005],[8008,8013],[8016,8023],[8025,8025],[8027,8027],[8029,8029],[8031,8061],[8064,8116],[8118,8124],[8126,8126],[8130,8132],[8134,8140],[8144,8147],[8150,8155],[8160,8172],[8178,8180],[8182,8188],[8450,8450],[8455,8455],[8458,8467],[8469,8469],[8473,8477],[8484,8484],[8486,8486],[8488,8488],[8490,8493],[8495,8500],[8505,8505],[8508,8511],[8517,8521],[8526,8526],[8579,8580],[11264,11387],[11390,11492],[11499,11502],[11506,11507],[42560,42605],[42624,42651],[42786,42863],[42865,42887],[42891,42894],[43888,43967],[64256,64262],[64275,64279],[65313,65338],[65345,65370],[66560,66639],[66736,66771],[66776,66811],[68736,68786],[68800,68850],[71840,71903],[125184,125251]].map(([a, b]) => `\\x{${a.toString(16)}}-\\x{${b.toString(16)}}`).join('') + ']+',
		'\\s?[!-/:-~！-／：-～‘-‟　-。]+',
		'\\s+$',
		'[一-龥ࠀ-一가-퟿]+',
		'\\p{N}+',
	],
	'deepseek-coder': ['[\\r\\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'],
	'deepseek-v3': [
		'\\p{N}{1,3}',
		'[一-龥぀-ゟ゠-ヿ]+',
		"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	],
	tekken: [
		'[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|' +
		'[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|' +
		'\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
	],
};

function preTokenizer(regexes) {
	const cfg = {
		version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
		pre_tokenizer: {
			type: 'Sequence',
			pretokenizers: regexes.map((r) => ({ type: 'Split', pattern: { Regex: r },
				behavior: 'Isolated', invert: false })),
		},
		post_processor: null, decoder: null,
		model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
			end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: {}, merges: [] },
	};
	return Tokenizer.fromString(JSON.stringify(cfg)).getPreTokenizer();
}

// mulberry32: the same strings on every run
let seed = 0x5eed;
function rand() {
	seed = (seed + 0x6d2b79f5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];

// Every class the lists tell apart: ASCII letters, digits, punctuation and
// symbols, white space (ASCII and not), letters of several scripts (cased
// and not, CJK inside and outside DeepSeek's ranges, kana, Hangul),
// numbers that are not digits, marks, symbols, format, private use and
// astral characters. Not U+0085 and U+FEFF: for them ECMAScript's \s (this
// project's table) and Oniguruma's differ; nor U+017F, which Oniguruma's
// (?i:'s) takes after an apostrophe and llama.cpp's '[sS] does not
// (docs/tokenizers.md).
const alphabet = [...'aZkSsTtmdlLrREvV', ...'0123456789', ...'      ', '\n', '\r', '\t', '\v', '\f',
	...'\'\'\'.,!?()-_$+<=>^~|`"#@:;/\\[]{}*%&', 'é', '×', 'µ', 'Ж', 'ж', 'Ω', 'ǅ', '世', '界', 'あ',
	'ア', '가', 'ก', 'ا', '؟', '٣', 'Ⅻ', '½', '²', '\u0301', '\u0903', '€', '©', '😀', '𝐀', '\u3000',
	'\u00a0', '\u2028', '\u2003', '！', 'Ａ', '‘', '’', '“', '。', '、', '\ue000', '\u200b', '\u00ad',
	'K', 'ﬀ', '\u0800', '\u1680', 'ᄀ', '〇', 'ʰ', 'ᾈ', 'HTTP', 'Xml', '//'];
const fixed = ['', 'Hello world', "I'M  ok 42x\n\n", "it's 1234567 o'clock", '  \n\t x  ',
	'if (x1 == 23):\n\tпривет', 'Hello, 世界 42\n  ', 'a+=b €5', 'x(foo 1', 'a\u0301b c',
	'1,234.56 $7 +8 -9', '\u3000\u3000x\u3000', 'ǅungla ΣΑΣ ǈ', 'HTTPServer getXMLHttp ABCdef',
	'a\u0301B\u0301c ʰAʰb ǅǅx', 'http://x.org/a/b\n//\n', 'É\u0301É\u0301 ÀÀb'];

const lines = [];
for (const [name, regexes] of Object.entries(lists)) {
	const pt = preTokenizer(regexes);
	const strings = [...fixed];
	while (strings.length < 1000) {
		let s = '';
		const n = 1 + Math.floor(rand() * 40);
		while ([...s].length < n) {
			const c = pick(alphabet);
			s += rand() < 0.2 ? c.repeat(1 + Math.floor(rand() * 5)) : c;
		}
		strings.push(s);
	}
	for (const s of strings) {
		const words = pt.preTokenizeString(s).map(([w]) => Buffer.byteLength(w));
		if (words.reduce((a, b) => a + b, 0) !== Buffer.byteLength(s))
			throw new Error(`${name}: the words of ${JSON.stringify(s)} are not the string`);
		lines.push(`${name} ${Buffer.from(s).toString('hex') || '-'} ${words.join(',') || '-'}`);
	}
}
writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${lines.length} strings (${Object.keys(lists).length} lists) to ${out}`);
