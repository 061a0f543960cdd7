/*
 * fuzz_wslconf: the wsl.conf / .wslconfig parser (wsl/conf.c), both dialects.
 *
 * Oracle (wsl/wsl.h, docs/doctor.md):
 *   - parsing never fails and is deterministic (twice, byte-identical result);
 *   - at most WSL_CONF_MAX_DIAGS diagnostics, each with a line in
 *     [1, lines + 1] and a non-empty NUL-terminated message;
 *   - wsl.conf: stopped_at is 0 or the line of a malformed diagnostic, and no
 *     setting comes from after it; the keys it lists as not read (lost) lie at
 *     or after it; .wslconfig never stops and loses nothing;
 *   - every value is NUL-terminated in its buffer, and a valid boolean's
 *     text is one WSL accepts (1, 0, true, false in any case).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wsl.h"

#define REQUIRE(cond)                                                                  \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_wslconf: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                      \
			abort();                                                       \
		}                                                                      \
	} while (0)

static struct wsl_conf a, b;

static void check(const uint8_t *data, size_t size, enum wsl_dialect d)
{
	memset(&a, 0x5A, sizeof a);
	memset(&b, 0xA5, sizeof b);
	wsl_conf_parse((const char *)data, size, d, &a);
	wsl_conf_parse((const char *)data, size, d, &b);
	REQUIRE(!memcmp(&a, &b, sizeof a));
	REQUIRE(a.dialect == d);
	REQUIRE(a.n_diags >= 0 && a.n_diags <= WSL_CONF_MAX_DIAGS);
	REQUIRE(a.n_diags_dropped >= 0);
	REQUIRE(a.lines >= 0 && (size_t)a.lines <= size);
	bool stop_found = a.stopped_at == 0;
	for (int i = 0; i < a.n_diags; i++) {
		const struct wsl_diag *g = &a.diag[i];
		REQUIRE(memchr(g->msg, 0, sizeof g->msg));
		REQUIRE(g->msg[0]);
		REQUIRE(g->line >= 1 && g->line <= a.lines + 1);
		if (g->kind == WSL_DIAG_MALFORMED && g->line == a.stopped_at)
			stop_found = true;
	}
	REQUIRE(stop_found || a.n_diags_dropped);
	if (d == WSL_DIALECT_WINDOWS || !a.stopped_at)
		REQUIRE(a.stopped_at == 0 && a.n_lost == 0);
	for (int i = 0; i < a.n_lost && i < 8; i++) {
		REQUIRE(memchr(a.lost[i].key, 0, sizeof a.lost[i].key));
		REQUIRE(a.lost[i].line >= a.stopped_at && a.lost[i].line <= a.lines + 1);
	}
	for (int k = 0; k < WSL_KEY_COUNT; k++) {
		const struct wsl_conf_item *it = &a.item[k];
		if (!it->line)
			continue;
		REQUIRE(memchr(it->text, 0, sizeof it->text));
		REQUIRE(it->line >= 1 && it->line <= a.lines + 1);
		/* <=: a lone CR ends a value, so a setting and the malformed
		 * text that stops the parse can share a physical line. */
		if (a.stopped_at)
			REQUIRE(it->line <= a.stopped_at);
		if (it->valid && wsl_key_type(k) == WSL_TYPE_BOOL)
			REQUIRE(!strcmp(it->text, "1") || !strcmp(it->text, "0") ||
				!strcasecmp(it->text, "true") || !strcasecmp(it->text, "false"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, WSL_DIALECT_DISTRO);
	check(data, size, WSL_DIALECT_WINDOWS);
	return 0;
}
