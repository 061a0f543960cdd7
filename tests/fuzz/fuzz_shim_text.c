/*
 * fuzz_shim_text: what tether-shim reads from outside: wsl.exe's output
 * (windows-shim/text.c: the UTF-16LE/UTF-8 decoder and the line splitter;
 * wsl.c: the `wsl -l -v` table) and tetherd's /healthz answer (health.c).
 *
 * Oracle: decoded text is valid UTF-8 (checked here independently), has no
 * CR and no NUL, and fits its buffer; splitting into lines does not depend on
 * how the stream is chunked; the list parser's entries are well-formed; the
 * health parser never asks for more bytes after EOF and explains failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../windows-shim/internal.h"   /* not relay/internal.h */

#define REQUIRE(cond)                                                                   \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "fuzz_shim_text: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                       \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* An independent UTF-8 check (RFC 3629). */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], need, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			need = 1; min = 0x80; cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2; min = 0x800; cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3; min = 0x10000; cp = c & 0x07;
		} else {
			return 0;
		}
		for (unsigned k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

struct acc {
	char text[1 << 16];
	size_t len;
	int lines;
};

static void on_line(void *ctx, const char *line)
{
	struct acc *a = ctx;
	size_t n = strlen(line);
	int blank = 1;
	REQUIRE(n > 0 && n <= 3 * SHIM_LINE_MAX);
	REQUIRE(valid_utf8((const unsigned char *)line, n));
	REQUIRE(!strchr(line, '\n') && !strchr(line, '\r'));
	for (size_t i = 0; i < n; i++)
		if (line[i] != ' ' && line[i] != '\t')
			blank = 0;
	REQUIRE(!blank);
	a->lines++;
	if (a->len + n + 1 < sizeof a->text) {
		memcpy(a->text + a->len, line, n);
		a->len += n;
		a->text[a->len++] = '\n';
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[3 * 65536 + 1];
	static struct acc whole, split;
	static struct shim_lines l;
	static struct shim_distro list[16];

	if (size > 65536)
		return 0;
	/* Decoding, into a buffer of a size the input picks. */
	size_t cap = size ? 1 + (size_t)data[0] * 4 : 1;
	if (cap > sizeof out)
		cap = sizeof out;
	size_t n = shim_text_decode(data, size, out, cap);
	REQUIRE(n < cap && out[n] == 0 && strlen(out) == n);
	REQUIRE(valid_utf8((const unsigned char *)out, n));
	REQUIRE(!memchr(out, '\r', n));

	/* Lines: all at once, and in two pieces, give the same lines. */
	memset(&l, 0, sizeof l);
	whole.len = 0; whole.lines = 0;
	shim_lines_feed(&l, data, size, on_line, &whole);
	shim_lines_flush(&l, on_line, &whole);
	memset(&l, 0, sizeof l);
	split.len = 0; split.lines = 0;
	size_t cut = size ? data[size - 1] % (size + 1) : 0;
	shim_lines_feed(&l, data, cut, on_line, &split);
	shim_lines_feed(&l, data + cut, size - cut, on_line, &split);
	shim_lines_flush(&l, on_line, &split);
	REQUIRE(whole.lines == split.lines && whole.len == split.len);
	REQUIRE(!memcmp(whole.text, split.text, whole.len));

	/* The distro list, on the whole decoded text. */
	int count = -1;
	char err[SHIM_ERR_MAX] = "";
	shim_text_decode(data, size, out, sizeof out);
	if (shim_wsl_parse_list(out, list, 16, &count, err) == 0) {
		int defaults = 0;
		REQUIRE(count >= 0 && count <= 16);
		for (int i = 0; i < count; i++) {
			REQUIRE(list[i].name[0] && !strpbrk(list[i].name, " \t\n"));
			REQUIRE(list[i].state[0] && list[i].version >= 1 && list[i].version <= 2);
			defaults += list[i].is_default;
		}
		REQUIRE(defaults <= 1);
	} else {
		REQUIRE(!strncmp(err, "wsl.exe -l -v", 13));
	}

	/* The /healthz answer, as received so far and at EOF. */
	char version[64], herr[SHIM_ERR_MAX];
	int rc = shim_health_parse((const char *)data, size, false, version, herr);
	REQUIRE(rc == 0 || rc == 1 || rc < 0);
	if (rc < 0)
		REQUIRE(herr[0] && memchr(herr, 0, sizeof herr));
	rc = shim_health_parse((const char *)data, size, true, version, herr);
	REQUIRE(rc != 1);
	if (rc == 0)
		REQUIRE(memchr(version, 0, 64));
	else
		REQUIRE(herr[0]);
	return 0;
}
