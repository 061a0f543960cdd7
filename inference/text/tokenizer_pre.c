/*
 * UTF-8 decoding and the byte-level BPE pre-tokenizers.
 *
 * The pre-tokenizers are regular expressions in the models' tokenizer.json;
 * rather than carry a regex engine, each is written out by hand as the
 * leftmost-alternative match the expression makes at every position. The
 * expressions (ECMAScript semantics, 'u' flag, as the oracles run them):
 *
 *   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *   qwen2:  llama3's with \p{N} instead of \p{N}{1,3}
 *   tekken: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|
 *           [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|
 *            ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * Most other models' pre-tokenizers are a LIST of expressions (a Sequence of
 * Split pre-tokenizers in tokenizer.json, regex_exprs in llama.cpp): the
 * first splits the text, each next one splits every piece the previous one
 * made, and the text between two matches is a piece too. The lists are in
 * docs/tokenizers.md and below, one "stage" per expression.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

bool inf_cp_in(const struct inf_cp_table *t, uint32_t cp)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < t->ranges[mid].lo)
			hi = mid;
		else if (cp > t->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

size_t inf_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3, v = c & 0x07, min = 0x10000;
	} else {
		*cp = INF_CP_INVALID;
		return 1;
	}
	if (len < need + 1)
		goto invalid;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto invalid;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		goto invalid;
	*cp = v;
	return need + 1;
invalid:
	*cp = INF_CP_INVALID;
	return 1;
}

size_t inf_utf8_put(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* WHATWG "maximal subpart": a lead byte followed by as many bytes as can
 * still continue it form one replacement character; the byte that breaks the
 * sequence starts anew. */
static size_t maximal_subpart(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3;
	else
		return 1;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (i = 1; i <= need && i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80, hi = 0xBF;
	}
	return i;
}

char *inf_utf8_replace_invalid(const char *s, size_t len, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = malloc(len * 3 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = inf_utf8_next(u + i, len - i, &cp);

		if (cp != INF_CP_INVALID) {
			memcpy(out + o, u + i, n);
			o += n, i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += maximal_subpart(u + i, len - i);
		}
	}
	out[o] = 0;
	*out_len = o;
	return out;
}

/* ---- pre-tokenizers ---- */

#define OUT_OF_RANGE 0xFFFFFFFEu

/* One piece of the text: lookaheads and anchors see its ends only, as each
 * expression of a list runs on every piece as a string of its own. */
struct cursor {
	const uint32_t *cps;
	size_t n;
};

static uint32_t at(const struct cursor *c, size_t i)
{
	return i < c->n ? c->cps[i] : OUT_OF_RANGE;
}

static bool is_letter(uint32_t cp)
{
	return cp < 0x110000 && inf_cp_in(&inf_unicode_letter, cp);
}

static bool is_number(uint32_t cp)
{
	return cp < 0x110000 && inf_cp_in(&inf_unicode_number, cp);
}

static bool is_space(uint32_t cp)
{
	return cp < 0x110000 && inf_cp_in(&inf_unicode_space, cp);
}

/* For \p{P}, \p{S} and \p{M} a byte that is not valid UTF-8 counts as the
 * U+FFFD it decodes to (a symbol, So), as it does for the oracles and for
 * llama.cpp; for the others it is in no category, which gives the same
 * splits. */
static uint32_t decoded(uint32_t cp)
{
	return cp == INF_CP_INVALID ? 0xFFFD : cp;
}

static bool is_punct(uint32_t cp)
{
	cp = decoded(cp);
	return cp < 0x110000 && inf_cp_in(&inf_unicode_punct, cp);
}

static bool is_symbol(uint32_t cp)
{
	cp = decoded(cp);
	return cp < 0x110000 && inf_cp_in(&inf_unicode_symbol, cp);
}

static bool is_mark(uint32_t cp)
{
	cp = decoded(cp);
	return cp < 0x110000 && inf_cp_in(&inf_unicode_mark, cp);
}

/* [^\s\p{L}\p{N}]: any other character, an invalid byte included. */
static bool is_other(uint32_t cp)
{
	return cp != OUT_OF_RANGE && !is_space(cp) && !is_letter(cp) && !is_number(cp);
}

static uint32_t ascii_lower(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* 's|'t|'re|'ve|'m|'ll|'d at pos (case-folded when fold): the length, or 0. */
static size_t contraction(const struct cursor *c, size_t pos, bool fold)
{
	uint32_t c1, c2;

	if (at(c, pos) != '\'')
		return 0;
	c1 = at(c, pos + 1), c2 = at(c, pos + 2);
	if (fold)
		c1 = ascii_lower(c1), c2 = ascii_lower(c2);
	if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
		return 2;
	if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
		return 3;
	return 0;
}

/* \s+(?!\S) then \s+: a run of k spaces followed by more text leaves its last
 * one to begin the next word (" word"); at the end it is taken whole. */
static size_t spaces(const struct cursor *c, size_t pos)
{
	size_t k = 0;

	while (is_space(at(c, pos + k)))
		k++;
	if (k > 1 && pos + k < c->n)
		return k - 1;
	return k;
}

/* \s*[\r\n]+: the longest run of spaces from pos that ends in \r or \n, or 0. */
static size_t spaces_to_newline(const struct cursor *c, size_t pos)
{
	size_t n = 0;

	for (size_t k = 0; is_space(at(c, pos + k)); k++) {
		uint32_t s = at(c, pos + k);

		if (s == '\r' || s == '\n')
			n = k + 1;
	}
	return n;
}

static size_t match_gpt2(const struct cursor *c, size_t pos)
{
	uint32_t cp = at(c, pos);
	size_t k, lead;

	if ((k = contraction(c, pos, false)))
		return k;
	lead = cp == ' ' ? 1 : 0;
	cp = at(c, pos + lead);
	if (is_letter(cp)) {
		for (k = pos + lead; is_letter(at(c, k)); k++)
			;
		return k - pos;
	}
	if (is_number(cp)) {
		for (k = pos + lead; is_number(at(c, k)); k++)
			;
		return k - pos;
	}
	if (is_other(cp)) {
		for (k = pos + lead; is_other(at(c, k)); k++)
			;
		return k - pos;
	}
	if ((k = spaces(c, pos)))
		return k;
	return 1;
}

static size_t match_llama3(const struct cursor *c, size_t pos, size_t max_digits)
{
	uint32_t cp = at(c, pos), cp2;
	size_t k, n;

	if ((k = contraction(c, pos, true)))
		return k;
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (cp != '\r' && cp != '\n' && !is_number(cp) &&
	    (is_letter(cp) || is_letter(at(c, pos + 1)))) {
		for (k = pos + 1; is_letter(at(c, k)); k++)
			;
		return k - pos;
	}
	/* \p{N}{1,max_digits} */
	if (is_number(cp)) {
		for (n = 0; n < max_digits && is_number(at(c, pos + n)); n++)
			;
		return n;
	}
	/* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
	cp2 = cp == ' ' ? at(c, pos + 1) : cp;
	if (is_other(cp2)) {
		k = pos + (cp == ' ' ? 1 : 0);
		while (is_other(at(c, k)))
			k++;
		while (at(c, k) == '\r' || at(c, k) == '\n')
			k++;
		return k - pos;
	}
	if ((n = spaces_to_newline(c, pos)))
		return n;
	if ((k = spaces(c, pos)))
		return k;
	return 1;
}

/* \s?[class]+ (no \s in front when the class has the character itself):
 * the length, or 0. */
static size_t space_then_run(const struct cursor *c, size_t pos, bool (*in)(uint32_t))
{
	size_t k = pos;

	if (is_space(at(c, k)) && in(at(c, k + 1)))
		k++;
	else if (!in(at(c, k)))
		return 0;
	while (in(at(c, k)))
		k++;
	return k - pos;
}

static bool in_ranges(const struct inf_cp_range *r, size_t n, uint32_t cp)
{
	struct inf_cp_table t = {r, n};

	return cp < 0x110000 && inf_cp_in(&t, cp);
}

#define IN_RANGES(r, cp) in_ranges(r, sizeof r / sizeof r[0], cp)

/* DeepSeek LLM's letters, the class of its second expression as written in
 * its tokenizer.json: [A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃] (the cased letters). */
static const struct inf_cp_range deepseek_letter_ranges[] = {
	{0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6},
	{0x00D8, 0x00F6}, {0x00F8, 0x01BA}, {0x01BC, 0x01BF}, {0x01C4, 0x0293},
	{0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
	{0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C},
	{0x038E, 0x03A1}, {0x03A3, 0x03F5}, {0x03F7, 0x0481}, {0x048A, 0x052F},
	{0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
	{0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77},
	{0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D}, {0x1F20, 0x1F45},
	{0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
	{0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
	{0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3},
	{0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
	{0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115},
	{0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
	{0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
	{0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B},
	{0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D},
	{0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
	{0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
	{0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
	{0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

/* [!-/:-~！-／：-～‘-‟　-。]: ASCII punctuation, symbols AND letters from ':'
 * to '~', their full-width forms, curly quotes, U+3000-U+3002. */
static const struct inf_cp_range deepseek_punct_ranges[] = {
	{0x0021, 0x002F}, {0x003A, 0x007E}, {0x2018, 0x201F}, {0x3000, 0x3002},
	{0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};

/* [一-龥ࠀ-一가-퟿]: U+0800-U+9FA5 (Samaritan to CJK, kana and the rest
 * between included) and U+AC00-U+D7FF (Hangul). */
static const struct inf_cp_range deepseek_cjk_ranges[] = {
	{0x0800, 0x9FA5}, {0xAC00, 0xD7FF},
};

/* [一-龥぀-ゟ゠-ヿ]: CJK ideographs to U+9FA5, hiragana, katakana. */
static const struct inf_cp_range deepseek3_cjk_ranges[] = {
	{0x3040, 0x30FF}, {0x4E00, 0x9FA5},
};

static bool in_deepseek_letter(uint32_t cp)
{
	return IN_RANGES(deepseek_letter_ranges, cp);
}

static bool in_deepseek_punct(uint32_t cp)
{
	return IN_RANGES(deepseek_punct_ranges, cp);
}

static bool in_deepseek_cjk(uint32_t cp)
{
	return IN_RANGES(deepseek_cjk_ranges, cp);
}

static bool in_deepseek3_cjk(uint32_t cp)
{
	return IN_RANGES(deepseek3_cjk_ranges, cp);
}

/* [\p{P}\$\+<=>\^~\|`]: what tokenizers' Punctuation pre-tokenizer takes,
 * Unicode punctuation and all of ASCII's. */
static bool is_falcon_punct(uint32_t cp)
{
	return (cp && cp < 0x80 && strchr("$+<=>^~|`", (int)cp)) || is_punct(cp);
}

static bool is_punct_or_symbol(uint32_t cp)
{
	return is_punct(cp) || is_symbol(cp);
}

static bool is_letter_or_mark(uint32_t cp)
{
	return is_letter(cp) || is_mark(cp);
}

static bool is_ascii_letter(uint32_t cp)
{
	return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
}

/*  [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
 * |[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
 * | ?[\p{P}\p{S}]+[\r\n]*
 * |\s*[\r\n]+|\s+(?!\S)|\s+
 * DeepSeek V3's third expression; 0 when nothing matches (a digit, a
 * control character, unassigned code points...). */
static size_t match_deepseek3(const struct cursor *c, size_t pos)
{
	uint32_t cp = at(c, pos), cp2;
	size_t k;

	if (cp >= '!' && cp <= '~' && !is_ascii_letter(cp) && !(cp >= '0' && cp <= '9') &&
	    is_ascii_letter(at(c, pos + 1))) {
		for (k = pos + 1; is_ascii_letter(at(c, k)); k++)
			;
		return k - pos;
	}
	/* the optional character is one that is not a letter itself, so the
	 * run of letters and marks starts at pos or just after it */
	if (is_letter_or_mark(cp) ||
	    (cp != OUT_OF_RANGE && cp != '\r' && cp != '\n' && !is_letter(cp) &&
	     !is_punct_or_symbol(cp) && is_letter_or_mark(at(c, pos + 1)))) {
		for (k = pos + 1; is_letter_or_mark(at(c, k)); k++)
			;
		return k - pos;
	}
	cp2 = cp == ' ' ? at(c, pos + 1) : cp;
	if (is_punct_or_symbol(cp2)) {
		k = pos + (cp == ' ' ? 1 : 0);
		while (is_punct_or_symbol(at(c, k)))
			k++;
		while (at(c, k) == '\r' || at(c, k) == '\n')
			k++;
		return k - pos;
	}
	if ((k = spaces_to_newline(c, pos)))
		return k;
	return spaces(c, pos);
}

/* Tekken's classes: U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] ("upper"), W =
 * [\p{Ll}\p{Lm}\p{Lo}\p{M}] ("lower"); they share Lm, Lo and M. */
static bool tekken_u(uint32_t cp)
{
	cp = decoded(cp);
	return cp < 0x110000 && ((is_letter(cp) && !inf_cp_in(&inf_unicode_lower, cp)) || is_mark(cp));
}

static bool tekken_w(uint32_t cp)
{
	cp = decoded(cp);
	return cp < 0x110000 && ((is_letter(cp) && !inf_cp_in(&inf_unicode_upper, cp)) || is_mark(cp));
}

/* [^\r\n\p{L}\p{N}]: a mark is one too (it is no letter). */
static bool tekken_prefix(uint32_t cp)
{
	return cp != OUT_OF_RANGE && cp != '\r' && cp != '\n' && !is_letter(cp) && !is_number(cp);
}

/* U*W+ from q, with the regex's backtracking: the U run gives back
 * characters until a W+ can start. The end, or 0 for no match. */
static size_t tekken_upper_lower(const struct cursor *c, size_t q)
{
	size_t r = q, k;

	while (tekken_u(at(c, r)))
		r++;
	if (tekken_w(at(c, r))) { /* an Ll right after the run */
		while (tekken_w(at(c, r)))
			r++;
		return r;
	}
	/* the last of the run that is in W too (Lm, Lo, M) ends the match:
	 * after it comes an Lu/Lt or the character that stopped the run */
	for (k = r; k > q; k--)
		if (tekken_w(at(c, k - 1)))
			return k;
	return 0;
}

/* U+W* from q: the end, or 0. */
static size_t tekken_upper_then_lower(const struct cursor *c, size_t q)
{
	size_t r = q;

	while (tekken_u(at(c, r)))
		r++;
	if (r == q)
		return 0;
	while (tekken_w(at(c, r)))
		r++;
	return r;
}

static size_t match_tekken(const struct cursor *c, size_t pos)
{
	uint32_t cp = at(c, pos), cp2;
	size_t e, k;

	/* each of the first two alternatives with its optional character,
	 * then without it */
	if (tekken_prefix(cp) && (e = tekken_upper_lower(c, pos + 1)))
		return e - pos;
	if ((e = tekken_upper_lower(c, pos)))
		return e - pos;
	if (tekken_prefix(cp) && (e = tekken_upper_then_lower(c, pos + 1)))
		return e - pos;
	if ((e = tekken_upper_then_lower(c, pos)))
		return e - pos;
	if (is_number(cp))
		return 1;
	/* ' ?[^\s\p{L}\p{N}]+[\r\n/]*' */
	cp2 = cp == ' ' ? at(c, pos + 1) : cp;
	if (is_other(cp2)) {
		k = pos + (cp == ' ' ? 1 : 0);
		while (is_other(at(c, k)))
			k++;
		while (at(c, k) == '\r' || at(c, k) == '\n' || at(c, k) == '/')
			k++;
		return k - pos;
	}
	if ((k = spaces_to_newline(c, pos)))
		return k;
	if ((k = spaces(c, pos)))
		return k;
	return 1;
}

/* One expression of a list. */
enum stage {
	ST_GPT2,        /* GPT-2's expression */
	ST_LLAMA3,      /* Llama 3's */
	ST_QWEN2,       /* Llama 3's with \p{N} */
	ST_DIGIT,       /* \p{N} */
	ST_DIGITS,      /* \p{N}+ */
	ST_DIGITS3,     /* \p{N}{1,3} */
	ST_ASCII3,      /* [0-9][0-9][0-9] */
	ST_FALCON_PUNCT, /* [\p{P}\$\+<=>\^~\|`]+ */
	ST_NEWLINE,     /* [\r\n] */
	ST_DS_LETTERS,  /* \s?[A-Za-zµÀ-Ö...]+ */
	ST_DS_PUNCT,    /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
	ST_DS_TRAILING, /* \s+$ */
	ST_DS_CJK,      /* [一-龥ࠀ-一가-퟿]+ */
	ST_SP_LETTERS,  /* \s?\p{L}+ */
	ST_SP_PUNCT,    /* \s?\p{P}+ */
	ST_DS3_CJK,     /* [一-龥぀-ゟ゠-ヿ]+ */
	ST_DS3,         /* DeepSeek V3's third, match_deepseek3 */
	ST_TEKKEN,      /* Tekken's, match_tekken */
	ST_END
};

static const enum stage stage_lists[INF_PRE_COUNT][7] = {
	[INF_PRE_GPT2] = {ST_GPT2, ST_END},
	[INF_PRE_LLAMA3] = {ST_LLAMA3, ST_END},
	[INF_PRE_QWEN2] = {ST_QWEN2, ST_END},
	[INF_PRE_STARCODER] = {ST_DIGIT, ST_GPT2, ST_END},
	[INF_PRE_FALCON] = {ST_FALCON_PUNCT, ST_GPT2, ST_ASCII3, ST_END},
	[INF_PRE_DEEPSEEK_LLM] = {ST_NEWLINE, ST_DS_LETTERS, ST_DS_PUNCT, ST_DS_TRAILING, ST_DS_CJK,
				  ST_DIGITS, ST_END},
	[INF_PRE_DEEPSEEK_CODER] = {ST_NEWLINE, ST_SP_LETTERS, ST_SP_PUNCT, ST_DS_CJK, ST_DIGIT,
				    ST_END},
	[INF_PRE_DEEPSEEK3] = {ST_DIGITS3, ST_DS3_CJK, ST_DS3, ST_END},
	[INF_PRE_TEKKEN] = {ST_TEKKEN, ST_END},
};

static size_t run_of(const struct cursor *c, size_t pos, bool (*in)(uint32_t), size_t max)
{
	size_t k = 0;

	while (k < max && in(at(c, pos + k)))
		k++;
	return k;
}

static bool is_newline(uint32_t cp)
{
	return cp == '\r' || cp == '\n';
}

static bool is_ascii_digit(uint32_t cp)
{
	return cp >= '0' && cp <= '9';
}

/* The length of the stage's match at pos, 0 for none. */
static size_t match_at(enum stage st, const struct cursor *c, size_t pos)
{
	switch (st) {
	case ST_GPT2:
		return match_gpt2(c, pos);
	case ST_LLAMA3:
		return match_llama3(c, pos, 3);
	case ST_QWEN2:
		return match_llama3(c, pos, 1);
	case ST_DIGIT:
		return run_of(c, pos, is_number, 1);
	case ST_DIGITS:
		return run_of(c, pos, is_number, SIZE_MAX);
	case ST_DIGITS3:
		return run_of(c, pos, is_number, 3);
	case ST_ASCII3:
		return run_of(c, pos, is_ascii_digit, 3) == 3 ? 3 : 0;
	case ST_FALCON_PUNCT:
		return run_of(c, pos, is_falcon_punct, SIZE_MAX);
	case ST_NEWLINE:
		return run_of(c, pos, is_newline, 1);
	case ST_DS_LETTERS:
		return space_then_run(c, pos, in_deepseek_letter);
	case ST_DS_PUNCT:
		return space_then_run(c, pos, in_deepseek_punct);
	case ST_DS_CJK:
		return run_of(c, pos, in_deepseek_cjk, SIZE_MAX);
	case ST_SP_LETTERS:
		return space_then_run(c, pos, is_letter);
	case ST_SP_PUNCT:
		return space_then_run(c, pos, is_punct);
	case ST_DS3_CJK:
		return run_of(c, pos, in_deepseek3_cjk, SIZE_MAX);
	case ST_DS3:
		return match_deepseek3(c, pos);
	case ST_TEKKEN:
		return match_tekken(c, pos);
	case ST_DS_TRAILING: /* split_piece does it */
	case ST_END:
		break;
	}
	return 0;
}

/* Splits the piece cps[b..e) by one stage, writing the ends of its words at
 * ends[w...]: every match is a word, and so is each stretch of text between
 * matches (leftmost matches, as a regex iterator finds them). Returns the new w. */
static size_t split_piece(enum stage st, const uint32_t *cps, size_t b, size_t e, size_t *ends,
			  size_t w)
{
	struct cursor c = {cps + b, e - b};
	size_t pos = 0, gap = 0;

	if (st == ST_DS_TRAILING) {
		/* \s+$: the piece's trailing white space, found from the end
		 * (searching each position forwards would be quadratic) */
		size_t t = c.n;

		while (t > 0 && is_space(c.cps[t - 1]))
			t--;
		if (t > 0)
			ends[w++] = b + t;
		if (t < c.n)
			ends[w++] = e;
		return w;
	}
	while (pos < c.n) {
		size_t k = match_at(st, &c, pos);

		if (!k) {
			pos++;
			continue;
		}
		if (gap < pos)
			ends[w++] = b + pos;
		pos += k;
		ends[w++] = b + pos;
		gap = pos;
	}
	if (gap < c.n)
		ends[w++] = e;
	return w;
}

size_t inf_pretokenize(enum inf_pre pre, const uint32_t *cps, size_t n, size_t *ends)
{
	const enum stage *list = stage_lists[(unsigned)pre < INF_PRE_COUNT ? pre : INF_PRE_GPT2];
	size_t words = 1;

	if (n == 0)
		return 0;
	ends[0] = n;
	for (; *list != ST_END; list++) {
		size_t w = 0, b = 0;

		/* The pieces' ends move to the top of ends[] and the new words'
		 * ends are written from the bottom, so nothing is allocated.
		 * Writing never overtakes reading: the words of pieces 0..p are
		 * at most as many as their code points, and each of the
		 * pieces after p has at least one, so they end at or below
		 * the slot of piece p + 1, which is read before it is split. */
		memmove(ends + n - words, ends, words * sizeof *ends);
		for (size_t i = n - words; i < n; i++) {
			size_t e = ends[i];

			w = split_piece(*list, cps, b, e, ends, w);
			b = e;
		}
		words = w;
	}
	return words;
}
