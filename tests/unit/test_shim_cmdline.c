/* windows-shim/cmdline.c: CreateProcessW command lines round-trip through
 * the MSVCRT / CommandLineToArgvW split, checked against a reference split. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "check.h"

/* The reference split (the documented MSVCRT rules; argv[0] by its own rule:
 * up to the closing quote, or up to a blank). Returns argc. */
static int split(const char *cmd, char out[][256], int max)
{
	const char *p = cmd;
	int n = 0;
	size_t k = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			out[n][k++] = *p;
		if (*p)
			p++;
	} else {
		for (; *p && *p != ' ' && *p != '\t'; p++)
			out[n][k++] = *p;
	}
	out[n++][k] = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || n == max)
			return n;
		bool quoted = false;
		k = 0;
		for (;;) {
			size_t bs = 0;
			while (*p == '\\') {
				bs++;
				p++;
			}
			if (*p == '"') {
				for (size_t i = 0; i < bs / 2; i++)
					out[n][k++] = '\\';
				if (bs % 2)
					out[n][k++] = '"';
				else
					quoted = !quoted;
				p++;
				continue;
			}
			for (size_t i = 0; i < bs; i++)
				out[n][k++] = '\\';
			if (!*p || (!quoted && (*p == ' ' || *p == '\t')))
				break;
			out[n][k++] = *p++;
		}
		out[n++][k] = 0;
	}
}

static void cmdline_quotes_what_needs_quoting_and_nothing_else(void)
{
	static const struct { const char *arg, *want; } cases[] = {
		{ "plain", "plain" },
		{ "", "\"\"" },
		{ "two words", "\"two words\"" },
		{ "tab\there", "\"tab\there\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "C:\\dir\\", "C:\\dir\\" },                  /* no quoting: backslashes literal */
		{ "C:\\my dir\\", "\"C:\\my dir\\\\\"" },      /* doubled before the closing quote */
		{ "a\\\"b", "\"a\\\\\\\"b\"" },                /* a\"b: 2n+1 backslashes */
		{ "Ubuntu-22.04", "Ubuntu-22.04" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *argv[2] = { "wsl.exe", cases[i].arg };
		char out[256], want[256];
		CHECK(shim_cmdline_build(out, sizeof out, argv, 2) > 0);
		snprintf(want, sizeof want, "wsl.exe %s", cases[i].want);
		if (strcmp(out, want))
			fprintf(stderr, "  arg [%s]: got [%s], want [%s]\n", cases[i].arg, out, want);
		CHECK(!strcmp(out, want));
	}
}

static void cmdline_of_a_distro_with_spaces_and_quotes_splits_back_exactly(void)
{
	const char *argv[] = { "C:\\Program Files\\WSL\\wsl.exe", "-d", "my \"odd\" distro\\",
			       "--exec", "tether", "anchor" };
	char out[512], got[8][256];
	CHECK(shim_cmdline_build(out, sizeof out, argv, 6) > 0);
	CHECK(!strcmp(out, "\"C:\\Program Files\\WSL\\wsl.exe\" -d \"my \\\"odd\\\" distro\\\\\" "
		      "--exec tether anchor"));
	CHECK_EQ(split(out, got, 8), 6);
	for (int i = 0; i < 6; i++)
		CHECK(!strcmp(got[i], argv[i]));
}

static void cmdline_round_trips_random_arguments(void)
{
	static const char alphabet[] = { 'a', 'b', ' ', '\t', '"', '\\', '\\', '\\', '\xc3', '\xa9', '-' };
	unsigned seed = 12345;
	for (int iter = 0; iter < 20000; iter++) {
		char args[5][32], out[2048], got[8][256];
		const char *argv[6] = { "C:\\w s\\wsl.exe" };
		int argc = 1 + (int)(seed % 5);
		for (int i = 1; i < argc; i++) {
			seed = seed * 1103515245 + 12345;
			int len = (int)((seed >> 16) % 12);
			for (int k = 0; k < len; k++) {
				seed = seed * 1103515245 + 12345;
				args[i][k] = alphabet[(seed >> 16) % sizeof alphabet];
			}
			args[i][len] = 0;
			argv[i] = args[i];
		}
		seed = seed * 1103515245 + 12345;
		CHECK(shim_cmdline_build(out, sizeof out, argv, argc) > 0);
		int n = split(out, got, 8);
		CHECK_EQ(n, argc);
		for (int i = 0; i < argc && i < n; i++)
			if (strcmp(got[i], argv[i])) {
				fprintf(stderr, "  arg %d [%s] came back as [%s] from [%s]\n", i, argv[i],
					got[i], out);
				CHECK(0);
				return;
			}
	}
}

static void cmdline_refuses_a_quote_in_argv0_and_a_short_buffer(void)
{
	const char *bad[] = { "C:\\a\"b.exe", "x" };
	const char *ok[] = { "wsl.exe", "-l", "-v" };
	char out[64];
	CHECK_EQ(shim_cmdline_build(out, sizeof out, bad, 2), -EINVAL);
	CHECK_EQ(shim_cmdline_build(out, 13, ok, 3), -ENOSPC);
	CHECK_EQ(out[0], 0);
	CHECK_EQ(shim_cmdline_build(out, 14, ok, 3), 13);
	CHECK(!strcmp(out, "wsl.exe -l -v"));
}

int main(void)
{
	RUN(cmdline_quotes_what_needs_quoting_and_nothing_else);
	RUN(cmdline_of_a_distro_with_spaces_and_quotes_splits_back_exactly);
	RUN(cmdline_round_trips_random_arguments);
	RUN(cmdline_refuses_a_quote_in_argv0_and_a_short_buffer);
	return check_summary();
}
