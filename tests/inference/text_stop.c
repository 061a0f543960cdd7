/*
 * Stop strings across token boundaries: held-back bytes, the earliest stop
 * winning, flush at the end, bad stop lists, and a randomised comparison
 * with the plain answer (text up to the first stop string).
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "text.h"

struct run {
	char text[4096];
	size_t len;
	bool stopped;
};

static void feed(struct inf_stop_matcher *m, struct run *r, const char *piece)
{
	const char *e;
	size_t n;

	if (inf_stop_feed(m, piece, strlen(piece), &e, &n))
		r->stopped = true;
	memcpy(r->text + r->len, e, n);
	r->len += n;
	r->text[r->len] = 0;
}

static void finish(struct inf_stop_matcher *m, struct run *r)
{
	const char *e;
	size_t n;

	inf_stop_flush(m, &e, &n);
	memcpy(r->text + r->len, e, n);
	r->len += n;
	r->text[r->len] = 0;
}

static void stop_split_across_pieces(void)
{
	const char *stops[] = {"<|end|>", "\n\nUser:"};
	struct inf_stop_matcher *m;
	char err[INF_TEXT_ERR_MAX];
	struct run r = {0};
	const char *e;
	size_t n;

	CHECK_EQ(inf_stop_create(stops, 2, &m, err), 0);
	CHECK(!inf_stop_feed(m, "Hel", 3, &e, &n));
	CHECK_EQ(n, 3);
	CHECK(!inf_stop_feed(m, "lo<|e", 5, &e, &n));
	CHECK_EQ(n, 2); /* "<|e" held back */
	CHECK(memcmp(e, "lo", 2) == 0);
	CHECK(inf_stop_feed(m, "nd|>more", 8, &e, &n));
	CHECK_EQ(n, 0);
	CHECK(inf_stop_feed(m, "x", 1, &e, &n)); /* done stays done */
	CHECK_EQ(n, 0);
	inf_stop_flush(m, &e, &n);
	CHECK_EQ(n, 0);
	inf_stop_free(m);

	CHECK_EQ(inf_stop_create(stops, 2, &m, err), 0);
	feed(m, &r, "a<|e");
	feed(m, &r, "x\n");
	feed(m, &r, "\nUse");
	CHECK(!r.stopped);
	CHECK_EQ(r.len, 5); /* "a<|ex" out, "\n\nUse" held */
	finish(m, &r);
	CHECK(strcmp(r.text, "a<|ex\n\nUse") == 0);
	inf_stop_free(m);
}

static void earliest_stop_wins(void)
{
	const char *stops[] = {"cd", "bcde"};
	struct inf_stop_matcher *m;
	char err[INF_TEXT_ERR_MAX];
	struct run r = {0};

	CHECK_EQ(inf_stop_create(stops, 2, &m, err), 0);
	feed(m, &r, "abcdef");
	CHECK(r.stopped);
	CHECK(strcmp(r.text, "a") == 0);
	inf_stop_free(m);
}

static void no_stops_passes_everything(void)
{
	struct inf_stop_matcher *m;
	char err[INF_TEXT_ERR_MAX];
	struct run r = {0};

	CHECK_EQ(inf_stop_create(NULL, 0, &m, err), 0);
	feed(m, &r, "abc");
	CHECK_EQ(r.len, 3);
	feed(m, &r, "");
	finish(m, &r);
	CHECK(strcmp(r.text, "abc") == 0);
	inf_stop_free(m);
}

static void bad_stop_lists_are_rejected(void)
{
	const char *empty[] = {"ok", ""};
	const char *many[65];
	char long_stop[1100], err[INF_TEXT_ERR_MAX] = "";
	const char *longs[] = {long_stop};
	struct inf_stop_matcher *m = (struct inf_stop_matcher *)&m;

	CHECK_EQ(inf_stop_create(empty, 2, &m, err), INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "stop string 1 is empty");
	CHECK(m == NULL);
	for (int i = 0; i < 65; i++)
		many[i] = "x";
	CHECK_EQ(inf_stop_create(many, 65, &m, err), INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "65 stop strings");
	memset(long_stop, 'a', sizeof long_stop - 1);
	long_stop[sizeof long_stop - 1] = 0;
	CHECK_EQ(inf_stop_create(longs, 1, &m, err), INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "1099 bytes");
}

static void random_splits_match_the_plain_answer(void)
{
	const char *stops[] = {"aab", "bab", "abba"};
	uint64_t x = 12345;

	for (int round = 0; round < 2000; round++) {
		char text[64], err[INF_TEXT_ERR_MAX];
		size_t len = 0, expect;
		struct inf_stop_matcher *m;
		struct run r = {0};
		const char *first = NULL;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(x >> 59) + 1;
		for (size_t i = 0; i < len; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			text[i] = (x >> 60) & 1 ? 'a' : 'b';
		}
		text[len] = 0;
		for (size_t i = 0; i < 3; i++) {
			const char *h = strstr(text, stops[i]);

			if (h && (!first || h < first))
				first = h;
		}
		expect = first ? (size_t)(first - text) : len;
		CHECK_EQ(inf_stop_create(stops, 3, &m, err), 0);
		for (size_t i = 0; i < len && !r.stopped;) {
			char piece[8];
			size_t k;

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			k = (size_t)(x >> 62) + 1;
			if (k > len - i)
				k = len - i;
			memcpy(piece, text + i, k);
			piece[k] = 0;
			feed(m, &r, piece);
			i += k;
		}
		if (!r.stopped)
			finish(m, &r);
		CHECK_EQ(r.stopped, first != NULL);
		CHECK_EQ(r.len, expect);
		CHECK(memcmp(r.text, text, expect) == 0);
		inf_stop_free(m);
	}
}

int main(void)
{
	RUN(stop_split_across_pieces);
	RUN(earliest_stop_wins);
	RUN(no_stops_passes_everything);
	RUN(bad_stop_lists_are_rejected);
	RUN(random_splits_match_the_plain_answer);
	return check_summary();
}
