/*
 * Stop strings matched across token boundaries.
 *
 * The matcher holds back the shortest tail of the text that could still be
 * the beginning of a stop string; everything before it is safe to emit. When
 * a stop string appears, the text before its first occurrence (the earliest
 * of all stop strings) is emitted and the matcher is done: later feeds emit
 * nothing and keep returning true.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define STOP_MAX_STRINGS 64
#define STOP_MAX_LEN 1024

struct inf_stop_matcher {
	char **stops;     /* owned copies */
	size_t *lens;
	size_t n;
	size_t max_len;
	char *held;       /* bytes held back: a prefix of some stop string */
	size_t held_len;
	char *out;        /* what the last call emitted */
	size_t out_cap;
	bool done;
};

int inf_stop_create(const char *const *stops, size_t n_stops, struct inf_stop_matcher **out,
		    char err[INF_TEXT_ERR_MAX])
{
	struct inf_stop_matcher *m;

	*out = NULL;
	if (n_stops > STOP_MAX_STRINGS) {
		inf_text_set_err(err, "stop: %zu stop strings (at most %d)", n_stops, STOP_MAX_STRINGS);
		return INF_TEXT_EINVAL;
	}
	for (size_t i = 0; i < n_stops; i++) {
		size_t len = stops[i] ? strlen(stops[i]) : 0;

		if (len == 0) {
			inf_text_set_err(err, "stop: stop string %zu is empty", i);
			return INF_TEXT_EINVAL;
		}
		if (len > STOP_MAX_LEN) {
			inf_text_set_err(err, "stop: stop string %zu is %zu bytes long (at most %d)", i, len,
				STOP_MAX_LEN);
			return INF_TEXT_EINVAL;
		}
	}
	m = calloc(1, sizeof *m);
	if (!m)
		goto nomem;
	m->stops = calloc(n_stops ? n_stops : 1, sizeof *m->stops);
	m->lens = calloc(n_stops ? n_stops : 1, sizeof *m->lens);
	m->held = malloc(STOP_MAX_LEN);
	if (!m->stops || !m->lens || !m->held)
		goto nomem;
	for (size_t i = 0; i < n_stops; i++) {
		m->lens[i] = strlen(stops[i]);
		m->stops[i] = strdup(stops[i]);
		if (!m->stops[i])
			goto nomem;
		m->n++;
		if (m->lens[i] > m->max_len)
			m->max_len = m->lens[i];
	}
	*out = m;
	return 0;
nomem:
	inf_stop_free(m);
	inf_text_set_err(err, "stop: out of memory");
	return INF_TEXT_ENOMEM;
}

void inf_stop_free(struct inf_stop_matcher *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->stops[i]);
	free(m->stops);
	free(m->lens);
	free(m->held);
	free(m->out);
	free(m);
}

/* The length of the longest tail of s[0..len) that is a proper prefix of a
 * stop string. */
static size_t partial_tail(const struct inf_stop_matcher *m, const char *s, size_t len)
{
	size_t best = 0;

	for (size_t i = 0; i < m->n; i++) {
		size_t k = m->lens[i] - 1 < len ? m->lens[i] - 1 : len;

		for (; k > best; k--)
			if (memcmp(s + len - k, m->stops[i], k) == 0) {
				best = k;
				break;
			}
	}
	return best;
}

bool inf_stop_feed(struct inf_stop_matcher *m, const char *piece, size_t len, const char **emit,
		   size_t *emit_len)
{
	size_t total = m->held_len + len, first = SIZE_MAX, keep;

	*emit = m->out;
	*emit_len = 0;
	if (m->done)
		return true;
	if (total + 1 > m->out_cap) {
		char *p = realloc(m->out, total + 1);

		if (!p) { /* cannot hold the text: pass the piece on as it is */
			*emit = piece;
			*emit_len = len;
			return false;
		}
		m->out = p;
		m->out_cap = total + 1;
	}
	/* the whole text since the last emit: held bytes + the piece */
	memcpy(m->out, m->held, m->held_len);
	if (len)
		memcpy(m->out + m->held_len, piece, len);
	*emit = m->out;
	for (size_t i = 0; i < m->n; i++) {
		const char *hit = memmem(m->out, total, m->stops[i], m->lens[i]);

		if (hit && (size_t)(hit - m->out) < first)
			first = (size_t)(hit - m->out);
	}
	if (first != SIZE_MAX) {
		m->done = true;
		m->held_len = 0;
		*emit_len = first;
		return true;
	}
	keep = partial_tail(m, m->out, total);
	memcpy(m->held, m->out + total - keep, keep);
	m->held_len = keep;
	*emit_len = total - keep;
	return false;
}

void inf_stop_flush(struct inf_stop_matcher *m, const char **emit, size_t *emit_len)
{
	/* out is free to reuse: the caller is done with the last feed's bytes */
	*emit = m->held;
	*emit_len = m->done ? 0 : m->held_len;
	m->held_len = 0;
}
