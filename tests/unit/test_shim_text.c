/* windows-shim/text.c and wsl.c: what wsl.exe prints, decoded and parsed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "check.h"

#ifndef FIXTURES
#define FIXTURES "tests/shim/fixtures"
#endif

static size_t slurp(const char *name, char *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(buf, 1, cap, f) : 0;
	if (f)
		fclose(f);
	CHECK(n > 0);
	return n;
}

/* ASCII text as UTF-16LE, into out; returns the byte count. */
static size_t utf16(const char *s, unsigned char *out)
{
	size_t n = 0;
	for (; *s; s++) {
		out[n++] = (unsigned char)*s;
		out[n++] = 0;
	}
	return n;
}

static void text_decodes_the_distro_not_found_fixture(void)
{
	char raw[1024], out[2048];
	size_t n = slurp("wsl-distro-not-found.utf16le", raw, sizeof raw);
	CHECK(shim_text_is_utf16(raw, n));
	shim_text_decode(raw, n, out, sizeof out);
	CHECK(!strcmp(out, "There is no distribution with the supplied name.\n"
		      "Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n"));
}

static void text_decodes_utf8_from_wsl_utf8_and_drops_cr(void)
{
	char out[256];
	const char *in = "NAME  STATE\r\n* Ubuntu  Running\r\nlone\rcr \xc3\xa9\n";
	CHECK(!shim_text_is_utf16(in, strlen(in)));
	shim_text_decode(in, strlen(in), out, sizeof out);
	CHECK(!strcmp(out, "NAME  STATE\n* Ubuntu  Running\nlone\ncr \xc3\xa9\n"));
}

static void text_decodes_non_ascii_and_surrogate_pairs_from_utf16(void)
{
	/* "é€😀" : E9 00, AC 20, 3D D8 00 DE */
	const unsigned char in[] = { 0xE9, 0, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE, '\r', 0, '\n', 0 };
	char out[64];
	CHECK(shim_text_is_utf16(in, sizeof in));
	shim_text_decode(in, sizeof in, out, sizeof out);
	CHECK(!strcmp(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n"));
}

static void text_replaces_what_is_not_text(void)
{
	char out[64];
	/* A lone high surrogate, then an odd trailing byte. */
	const unsigned char in16[] = { 'a', 0, 0x00, 0xD8, 'b', 0, 'c' };
	shim_text_decode(in16, sizeof in16, out, sizeof out);
	CHECK(!strcmp(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd"));
	/* Invalid UTF-8 bytes, one U+FFFD each. */
	const char in8[] = "x\xff\xc0y";
	shim_text_decode(in8, 4, out, sizeof out);
	CHECK(!strcmp(out, "x\xef\xbf\xbd\xef\xbf\xbdy"));
	/* A BOM is dropped. */
	const unsigned char bom[] = { 0xFF, 0xFE, 'o', 0, 'k', 0 };
	shim_text_decode(bom, sizeof bom, out, sizeof out);
	CHECK(!strcmp(out, "ok"));
}

static void text_decode_truncates_at_a_character_boundary(void)
{
	char out[5];
	const char in[] = "ab\xe2\x82\xac";   /* a b € : € does not fit in 5 with the NUL */
	CHECK_EQ(shim_text_decode(in, strlen(in), out, sizeof out), 2);
	CHECK(!strcmp(out, "ab"));
	char one[1];
	CHECK_EQ(shim_text_decode("xyz", 3, one, 1), 0);
	CHECK_EQ(one[0], 0);
}

struct got {
	char lines[16][256];
	int n;
};

static void collect(void *ctx, const char *line)
{
	struct got *g = ctx;
	if (g->n < 16)
		snprintf(g->lines[g->n++], 256, "%s", line);
}

/* Feeds data in pieces of size step (every split point is a boundary). */
static void feed_in_steps(const void *data, size_t len, size_t step, struct got *g)
{
	static struct shim_lines l;
	memset(&l, 0, sizeof l);
	memset(g, 0, sizeof *g);
	for (size_t i = 0; i < len; i += step)
		shim_lines_feed(&l, (const char *)data + i, len - i < step ? len - i : step, collect, g);
	shim_lines_flush(&l, collect, g);
}

static void lines_split_utf16_output_at_any_chunk_boundary(void)
{
	char raw[1024];
	size_t n = slurp("wsl-list-verbose.utf16le", raw, sizeof raw);
	for (size_t step = 1; step <= 9; step++) {
		struct got g;
		feed_in_steps(raw, n, step, &g);
		CHECK_EQ(g.n, 3);
		CHECK(!strcmp(g.lines[0], "  NAME              STATE           VERSION"));
		CHECK(!strcmp(g.lines[1], "* Ubuntu-22.04      Running         2"));
		CHECK(!strcmp(g.lines[2], "  docker-desktop    Stopped         2"));
	}
}

static void lines_handle_utf8_then_utf16_in_one_stream(void)
{
	/* A Linux program's UTF-8 line, then wsl.exe's own UTF-16 message,
	 * including a UTF-16 line that starts with "\n\0" right after a LF. */
	unsigned char buf[512];
	size_t n = 0;
	const char *first = "tetherd: listening\n";
	memcpy(buf, first, strlen(first));
	n += strlen(first);
	n += utf16("\nThe operation timed out.\r\n", buf + n);
	n += utf16("Error code: Wsl/Service/E_X\r\n", buf + n);
	for (size_t step = 1; step <= 5; step++) {
		struct got g;
		feed_in_steps(buf, n, step, &g);
		CHECK_EQ(g.n, 3);
		CHECK(!strcmp(g.lines[0], "tetherd: listening"));
		CHECK(!strcmp(g.lines[1], "The operation timed out."));
		CHECK(!strcmp(g.lines[2], "Error code: Wsl/Service/E_X"));
	}
}

static void lines_cut_an_overlong_line_into_pieces(void)
{
	static char big[3 * SHIM_LINE_MAX];
	struct got g;
	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = '\n';
	feed_in_steps(big, sizeof big, 1000, &g);
	CHECK_EQ(g.n, 3);
}

static void wsl_list_parses_the_fixture_with_the_default_marked(void)
{
	char raw[1024], text[2048], err[SHIM_ERR_MAX];
	struct shim_distro d[8];
	int n;
	size_t len = slurp("wsl-list-verbose.utf16le", raw, sizeof raw);
	shim_text_decode(raw, len, text, sizeof text);
	CHECK_EQ(shim_wsl_parse_list(text, d, 8, &n, err), 0);
	CHECK_EQ(n, 2);
	CHECK(!strcmp(d[0].name, "Ubuntu-22.04"));
	CHECK(!strcmp(d[0].state, "Running"));
	CHECK_EQ(d[0].version, 2);
	CHECK(d[0].is_default);
	CHECK(!strcmp(d[1].name, "docker-desktop"));
	CHECK(!strcmp(d[1].state, "Stopped"));
	CHECK(!d[1].is_default);
}

static void wsl_list_accepts_a_localized_header_and_state_with_blanks(void)
{
	const char *text = "  NAME      STATUS               VERSION\n"
			   "* Debian    Wird ausgef\xc3\xbchrt      2\n"
			   "  Alpine    Beendet              1\n";
	struct shim_distro d[8];
	int n;
	char err[SHIM_ERR_MAX];
	CHECK_EQ(shim_wsl_parse_list(text, d, 8, &n, err), 0);
	CHECK_EQ(n, 2);
	CHECK(!strcmp(d[0].state, "Wird ausgef\xc3\xbchrt"));
	CHECK_EQ(d[1].version, 1);
}

static void wsl_list_rejects_rows_of_another_shape_naming_the_line(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "", "printed nothing" },
		{ "NAME STATE VERSION\n* Ubuntu Running\n", "line 2: expected" },
		{ "NAME STATE VERSION\n* Ubuntu Running 3\n", "line 2: expected" },
		{ "NAME STATE VERSION\n  \n* \n", "line 3: expected" },
		{ "H\n* A Running 2\n* B Running 2\n", "line 3: a second default distro (\"B\")" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct shim_distro d[4];
		int n;
		char err[SHIM_ERR_MAX] = "";
		CHECK(shim_wsl_parse_list(cases[i].text, d, 4, &n, err) < 0);
		CHECK_CONTAINS(err, cases[i].want);
	}
}

static void wsl_argv_is_exec_with_no_shell(void)
{
	const char *argv[8];
	int n = shim_wsl_argv(SHIM_WSL_ANCHOR, "C:\\wsl.exe", "my distro", argv);
	CHECK_EQ(n, 6);
	CHECK(!strcmp(argv[1], "-d") && !strcmp(argv[2], "my distro"));
	CHECK(!strcmp(argv[3], "--exec") && !strcmp(argv[4], "tether") && !strcmp(argv[5], "anchor"));
	n = shim_wsl_argv(SHIM_WSL_ENDPOINT, "w", "D", argv);
	CHECK_EQ(n, 7);
	CHECK(!strcmp(argv[5], "endpoint") && !strcmp(argv[6], "--json"));
	n = shim_wsl_argv(SHIM_WSL_LIST, "w", "", argv);
	CHECK_EQ(n, 3);
	CHECK(!strcmp(argv[1], "-l") && !strcmp(argv[2], "-v"));
}

static void exit_reason_tells_wsl_failures_from_linux_exits(void)
{
	char out[SHIM_REASON_MAX];
	shim_exit_reason(out, sizeof out, SHIM_WSL_FAILED, "There is no distribution.");
	CHECK_CONTAINS(out, "wsl.exe failed (exit code -1): There is no distribution.");
	shim_exit_reason(out, sizeof out, SHIM_WSL_FAILED, "");
	CHECK_CONTAINS(out, "it printed no message");
	shim_exit_reason(out, sizeof out, 3, "ignored");
	CHECK_CONTAINS(out, "the anchor exited with code 3");
}

int main(void)
{
	RUN(text_decodes_the_distro_not_found_fixture);
	RUN(text_decodes_utf8_from_wsl_utf8_and_drops_cr);
	RUN(text_decodes_non_ascii_and_surrogate_pairs_from_utf16);
	RUN(text_replaces_what_is_not_text);
	RUN(text_decode_truncates_at_a_character_boundary);
	RUN(lines_split_utf16_output_at_any_chunk_boundary);
	RUN(lines_handle_utf8_then_utf16_in_one_stream);
	RUN(lines_cut_an_overlong_line_into_pieces);
	RUN(wsl_list_parses_the_fixture_with_the_default_marked);
	RUN(wsl_list_accepts_a_localized_header_and_state_with_blanks);
	RUN(wsl_list_rejects_rows_of_another_shape_naming_the_line);
	RUN(wsl_argv_is_exec_with_no_shell);
	RUN(exit_reason_tells_wsl_failures_from_linux_exits);
	return check_summary();
}
