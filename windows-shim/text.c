/*
 * wsl.exe's text: UTF-16LE (its own messages and lists, no BOM, CRLF) or
 * UTF-8 (WSL_UTF8=1, and whatever a Linux program prints through it), both
 * possibly in one stream. Decoding never fails: what is not text becomes
 * U+FFFD, because the point is to log what wsl.exe said, whatever it was.
 */
#include <string.h>

#include "internal.h"

#define REPLACEMENT 0xFFFDu

bool shim_text_is_utf16(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	if (len >= 2 && b[0] == 0xFF && b[1] == 0xFE)
		return true;
	for (size_t i = 1; i < len; i += 2)
		if (b[i] == 0)
			return true;
	return false;
}

/* Puts cp, turning CR LF and lone CR into LF. *cr: the last code point was CR
 * (already written as LF). Returns false when out is full. */
static bool put(char *out, size_t cap, size_t *n, uint32_t cp, bool *cr)
{
	if (cp == '\n' && *cr) {
		*cr = false;
		return true;
	}
	*cr = cp == '\r';
	if (cp == '\r')
		cp = '\n';
	if (cp == 0)
		cp = REPLACEMENT;
	return shim_utf8_put(out, cap, n, cp);
}

static size_t decode_as(const unsigned char *b, size_t len, bool utf16, char *out, size_t cap)
{
	size_t n = 0, i = 0;
	bool cr = false;

	if (!cap)
		return 0;
	if (utf16 && len >= 2 && b[0] == 0xFF && b[1] == 0xFE)
		i = 2;
	else if (!utf16 && len >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
		i = 3;
	while (i < len) {
		uint32_t cp;
		if (utf16) {
			if (len - i < 2) {
				cp = REPLACEMENT;   /* an odd byte at the end */
				i = len;
			} else {
				cp = b[i] | (uint32_t)b[i + 1] << 8;
				i += 2;
				if (cp >= 0xD800 && cp <= 0xDBFF && len - i >= 2) {
					uint32_t lo = b[i] | (uint32_t)b[i + 1] << 8;
					if (lo >= 0xDC00 && lo <= 0xDFFF) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 2;
					}
				}
				if (cp >= 0xD800 && cp <= 0xDFFF)
					cp = REPLACEMENT;   /* a lone surrogate */
			}
		} else {
			size_t k = shim_utf8_next(b + i, len - i, &cp);
			if (!k) {
				cp = REPLACEMENT;
				k = 1;
			}
			i += k;
		}
		if (!put(out, cap, &n, cp, &cr))
			break;
	}
	out[n] = 0;
	return n;
}

size_t shim_text_decode(const void *buf, size_t len, char *out, size_t cap)
{
	return decode_as(buf, len, shim_text_is_utf16(buf, len), out, cap);
}

static void emit_line(struct shim_lines *l, shim_line_fn *emit, void *ctx)
{
	char out[3 * SHIM_LINE_MAX + 1];
	size_t n = decode_as(l->buf, l->len, l->utf16, out, sizeof out);
	bool blank = true;

	l->len = 0;
	l->utf16 = false;
	while (n && out[n - 1] == '\n')
		out[--n] = 0;
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\n')
			out[i] = ' ';   /* a lone CR inside the line */
		if (out[i] != ' ' && out[i] != '\t')
			blank = false;
	}
	if (!blank)
		emit(ctx, out);
}

void shim_lines_feed(struct shim_lines *l, const void *data, size_t len, shim_line_fn *emit,
		     void *ctx)
{
	const unsigned char *b = data;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = b[i];
		/* A UTF-16 LF ("\n\0") first seen as a UTF-8 LF: drop its NUL so
		 * the next line stays aligned (UTF-8 text has no NUL bytes). */
		if (l->after_lf && l->len == 0 && c == 0) {
			l->after_lf = false;
			continue;
		}
		l->after_lf = false;
		l->buf[l->len++] = c;
		size_t k = l->len - 1;
		if (k % 2 == 1 && c == 0)
			l->utf16 = true;
		if (l->utf16 && k % 2 == 1 && c == 0 && l->buf[k - 1] == '\n') {
			emit_line(l, emit, ctx);
		} else if (!l->utf16 && c == '\n') {
			emit_line(l, emit, ctx);
			l->after_lf = true;
		} else if (l->len == SHIM_LINE_MAX) {
			emit_line(l, emit, ctx);
		}
	}
}

void shim_lines_flush(struct shim_lines *l, shim_line_fn *emit, void *ctx)
{
	if (l->len)
		emit_line(l, emit, ctx);
	l->after_lf = false;
}
