/*
 * A strict JSON reader for the shim's two small documents: shim.json and
 * tetherd's /healthz body. cJSON is a Debian package for Linux only; the shim
 * is built by mingw with no third-party code, so this is our own. It reads one
 * object, hands each member to a callback, and skips nested values after
 * checking them. No allocation: strings are decoded into fixed buffers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct reader {
	const unsigned char *s;
	size_t len, pos;
	char key[SHIM_JSON_STR_MAX + 1];
	char str[SHIM_JSON_STR_MAX + 1];
	char msg[SHIM_ERR_MAX];
	size_t msg_pos;          /* where the error is */
};

static int fail_at(struct reader *r, size_t pos, const char *what)
{
	snprintf(r->msg, sizeof r->msg, "%s", what);
	r->msg_pos = pos;
	return -EINVAL;
}

bool shim_utf8_put(char *out, size_t cap, size_t *n, uint32_t cp)
{
	unsigned char b[4];
	size_t k;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		k = 4;
	}
	if (*n + k + 1 > cap)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

size_t shim_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c;
	size_t k;
	if (!len)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		c = s[0] & 0x1F;
		k = 2;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		c = s[0] & 0x0F;
		k = 3;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		c = s[0] & 0x07;
		k = 4;
	} else {
		return 0;
	}
	if (len < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return k;
}

const char *shim_json_printable(const char *s, size_t max, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F) {
			if (n + 7 > cap)
				break;
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			if (n + 2 > cap)
				break;
			out[n++] = (char)c;
		}
	}
	if (cap)
		out[n < cap ? n : cap - 1] = 0;
	return out;
}

static void skip_ws(struct reader *r)
{
	while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' ||
				   r->s[r->pos] == '\n' || r->s[r->pos] == '\r'))
		r->pos++;
}

static int hex4(struct reader *r, uint32_t *out)
{
	uint32_t v = 0;
	if (r->len - r->pos < 4)
		return fail_at(r, r->pos, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = r->s[r->pos + i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail_at(r, r->pos + i, "bad hex digit in \\u escape");
	}
	r->pos += 4;
	*out = v;
	return 0;
}

/* At '"': decodes the string into out (SHIM_JSON_STR_MAX + 1 bytes). */
static int parse_string(struct reader *r, char *out, size_t *out_len)
{
	size_t n = 0, start = r->pos;
	r->pos++;
	for (;;) {
		if (r->pos >= r->len)
			return fail_at(r, start, "unterminated string");
		unsigned char c = r->s[r->pos];
		uint32_t cp;
		if (c == '"') {
			r->pos++;
			break;
		}
		if (c < 0x20)
			return fail_at(r, r->pos, "control character in string (escape it)");
		if (c == '\\') {
			if (r->pos + 1 >= r->len)
				return fail_at(r, start, "unterminated string");
			unsigned char e = r->s[r->pos + 1];
			r->pos += 2;
			switch (e) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u': {
				size_t at = r->pos - 2;
				if (hex4(r, &cp))
					return -EINVAL;
				if (cp >= 0xDC00 && cp <= 0xDFFF)
					return fail_at(r, at, "lone low surrogate in \\u escape");
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					uint32_t lo;
					if (r->len - r->pos < 2 || r->s[r->pos] != '\\' ||
					    r->s[r->pos + 1] != 'u')
						return fail_at(r, at, "lone high surrogate in \\u escape");
					r->pos += 2;
					if (hex4(r, &lo))
						return -EINVAL;
					if (lo < 0xDC00 || lo > 0xDFFF)
						return fail_at(r, at, "lone high surrogate in \\u escape");
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				}
				if (cp == 0)
					return fail_at(r, at, "\\u0000 is not allowed in a string");
				break;
			}
			default:
				return fail_at(r, r->pos - 2, "unknown escape in string");
			}
		} else {
			size_t k = shim_utf8_next(r->s + r->pos, r->len - r->pos, &cp);
			if (!k)
				return fail_at(r, r->pos, "invalid UTF-8 in string");
			r->pos += k;
		}
		if (!shim_utf8_put(out, SHIM_JSON_STR_MAX + 1, &n, cp))
			return fail_at(r, start, "string longer than 4096 bytes");
	}
	out[n] = 0;
	*out_len = n;
	return 0;
}

/* At a number: JSON's grammar; integers (no fraction or exponent) whose
 * magnitude stays below 2^53 are INT, the rest NUMBER. */
static int parse_number(struct reader *r, struct shim_json_value *v)
{
	size_t start = r->pos;
	bool neg = false, is_int = true, big = false;
	long long n = 0;

	if (r->s[r->pos] == '-') {
		neg = true;
		r->pos++;
	}
	if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
		return fail_at(r, start, "bad number");
	if (r->s[r->pos] == '0') {
		r->pos++;
		if (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
			return fail_at(r, start, "bad number (no leading zeros)");
	} else {
		while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') {
			if (n < (1LL << 53))
				n = n * 10 + (r->s[r->pos] - '0');
			if (n >= (1LL << 53))
				big = true;
			r->pos++;
		}
	}
	if (r->pos < r->len && r->s[r->pos] == '.') {
		is_int = false;
		r->pos++;
		if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
			return fail_at(r, start, "bad number (digits must follow '.')");
		while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
			r->pos++;
	}
	if (r->pos < r->len && (r->s[r->pos] == 'e' || r->s[r->pos] == 'E')) {
		is_int = false;
		r->pos++;
		if (r->pos < r->len && (r->s[r->pos] == '+' || r->s[r->pos] == '-'))
			r->pos++;
		if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
			return fail_at(r, start, "bad number (digits must follow the exponent)");
		while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
			r->pos++;
	}
	v->type = is_int && !big ? SHIM_JSON_INT : SHIM_JSON_NUMBER;
	v->num = neg ? -n : n;
	return 0;
}

static bool literal(struct reader *r, const char *word)
{
	size_t k = strlen(word);
	if (r->len - r->pos < k || memcmp(r->s + r->pos, word, k))
		return false;
	r->pos += k;
	return true;
}

static int parse_value(struct reader *r, struct shim_json_value *v, int depth);

/* At '{' or '[': checks and skips the whole value. */
static int skip_container(struct reader *r, int depth)
{
	unsigned char close = r->s[r->pos] == '{' ? '}' : ']';
	bool object = close == '}';
	size_t start = r->pos;
	struct shim_json_value v;

	if (depth >= SHIM_JSON_DEPTH)
		return fail_at(r, start, "nested deeper than 32 levels");
	r->pos++;
	skip_ws(r);
	if (r->pos < r->len && r->s[r->pos] == close) {
		r->pos++;
		return 0;
	}
	for (;;) {
		if (object) {
			size_t klen;
			skip_ws(r);
			if (r->pos >= r->len || r->s[r->pos] != '"')
				return fail_at(r, r->pos, "expected a string key");
			if (parse_string(r, r->str, &klen))
				return -EINVAL;
			skip_ws(r);
			if (r->pos >= r->len || r->s[r->pos] != ':')
				return fail_at(r, r->pos, "expected ':' after the key");
			r->pos++;
		}
		if (parse_value(r, &v, depth + 1))
			return -EINVAL;
		skip_ws(r);
		if (r->pos >= r->len)
			return fail_at(r, start, object ? "unterminated object" : "unterminated array");
		if (r->s[r->pos] == ',') {
			r->pos++;
			continue;
		}
		if (r->s[r->pos] == close) {
			r->pos++;
			return 0;
		}
		return fail_at(r, r->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(struct reader *r, struct shim_json_value *v, int depth)
{
	skip_ws(r);
	memset(v, 0, sizeof *v);
	if (r->pos >= r->len)
		return fail_at(r, r->pos, "expected a value");
	switch (r->s[r->pos]) {
	case '"':
		v->type = SHIM_JSON_STRING;
		v->str = r->str;
		return parse_string(r, r->str, &v->str_len);
	case '{':
	case '[':
		v->type = r->s[r->pos] == '{' ? SHIM_JSON_OBJECT : SHIM_JSON_ARRAY;
		return skip_container(r, depth);
	case 't':
	case 'f':
	case 'n':
		if (literal(r, "true") || literal(r, "false")) {
			v->type = SHIM_JSON_BOOL;
			v->num = r->s[r->pos - 1] == 'e' && r->s[r->pos - 2] == 'u';
			return 0;
		}
		if (literal(r, "null")) {
			v->type = SHIM_JSON_NULL;
			return 0;
		}
		break;
	default:
		if (r->s[r->pos] == '-' || (r->s[r->pos] >= '0' && r->s[r->pos] <= '9'))
			return parse_number(r, v);
	}
	return fail_at(r, r->pos, "expected a value");
}

/* 1-based line and column (in bytes) of pos. */
static void line_col(const unsigned char *s, size_t pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_object(struct reader *r, shim_json_member_fn *fn, void *ctx)
{
	skip_ws(r);
	if (r->pos >= r->len || r->s[r->pos] != '{')
		return fail_at(r, r->pos, "the top level must be a JSON object");
	r->pos++;
	skip_ws(r);
	if (r->pos < r->len && r->s[r->pos] == '}') {
		r->pos++;
	} else {
		for (;;) {
			struct shim_json_value v;
			size_t klen, value_pos;
			skip_ws(r);
			if (r->pos >= r->len || r->s[r->pos] != '"')
				return fail_at(r, r->pos, "expected a string key");
			if (parse_string(r, r->key, &klen))
				return -EINVAL;
			skip_ws(r);
			if (r->pos >= r->len || r->s[r->pos] != ':')
				return fail_at(r, r->pos, "expected ':' after the key");
			r->pos++;
			skip_ws(r);
			value_pos = r->pos;
			if (parse_value(r, &v, 1))
				return -EINVAL;
			if (fn(ctx, r->key, &v, r->msg)) {
				r->msg_pos = value_pos;
				return -EINVAL;
			}
			skip_ws(r);
			if (r->pos >= r->len)
				return fail_at(r, r->pos, "unterminated object (expected '}')");
			if (r->s[r->pos] == ',') {
				r->pos++;
				continue;
			}
			if (r->s[r->pos] == '}') {
				r->pos++;
				break;
			}
			return fail_at(r, r->pos, "expected ',' or '}'");
		}
	}
	skip_ws(r);
	if (r->pos < r->len)
		return fail_at(r, r->pos, "trailing data after the JSON object");
	return 0;
}

int shim_json_object(const char *text, size_t len, shim_json_member_fn *fn, void *ctx,
		     char err[SHIM_ERR_MAX])
{
	static struct reader zero;
	struct reader r = zero;   /* ~9 KiB: fine on any thread's stack */
	int line, col;

	r.s = (const unsigned char *)text;
	r.len = len;
	if (!parse_object(&r, fn, ctx))
		return 0;
	line_col(r.s, r.msg_pos, &line, &col);
	snprintf(err, SHIM_ERR_MAX, "line %d, column %d: %.450s", line, col, r.msg);
	return -EINVAL;
}
