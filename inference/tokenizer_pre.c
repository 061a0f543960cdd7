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
	/* \s*[\r\n]+: the longest run of spaces that ends in \r or \n */
	n = 0;
	for (k = 0; is_space(at(c, pos + k)); k++) {
		uint32_t s = at(c, pos + k);

		if (s == '\r' || s == '\n')
			n = k + 1;
	}
	if (n)
		return n;
	if ((k = spaces(c, pos)))
		return k;
	return 1;
}

size_t inf_pretokenize(enum inf_pre pre, const uint32_t *cps, size_t n, size_t *ends)
{
	struct cursor c = {cps, n};
	size_t pos = 0, words = 0;

	while (pos < n) {
		size_t k;

		switch (pre) {
		case INF_PRE_LLAMA3:
			k = match_llama3(&c, pos, 3);
			break;
		case INF_PRE_QWEN2:
			k = match_llama3(&c, pos, 1);
			break;
		default:
			k = match_gpt2(&c, pos);
			break;
		}
		pos += k;
		ends[words++] = pos;
	}
	return words;
}
