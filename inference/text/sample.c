/*
 * Samplers, with llama.cpp's semantics and order:
 *
 *   penalties -> top-k -> top-p -> min-p -> temperature -> draw
 *
 * Penalties look at the last repeat_last_n tokens of the history; a token
 * seen there c times has its logit l changed to (l <= 0 ? l * r : l / r)
 * for the repeat penalty r, then l -= c * frequency + presence. top-p and
 * min-p act on the softmax of the logits before temperature (as llama.cpp's
 * default chain does, temperature comes last). Temperature 0 is greedy: the
 * highest logit after the penalties, the lowest id among equals.
 *
 * NaN logits never win (treated as -inf); +inf counts as the largest finite
 * value. The random numbers come from xoshiro256** seeded through
 * splitmix64, so a seed and the same inputs give the same tokens anywhere.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

struct cand {
	int32_t id;
	float logit;
};

struct inf_sampler {
	struct inf_sampler_params p;
	uint32_t n_vocab;
	uint64_t rng[4];        /* xoshiro256** state */
	struct cand *cand;      /* (n_vocab) scratch */
	uint32_t *counts;       /* (n_vocab) occurrences in the penalty window */
	double *probs;          /* (n_vocab) scratch */
};

void inf_sampler_params_default(struct inf_sampler_params *p)
{
	/* llama.cpp's defaults, but penalties off */
	*p = (struct inf_sampler_params){
		.temperature = 0.8,
		.top_k = 40,
		.top_p = 0.95,
		.min_p = 0.05,
		.repeat_penalty = 1.0,
		.repeat_last_n = 64,
		.frequency_penalty = 0.0,
		.presence_penalty = 0.0,
		.seed = 0,
	};
}

static bool in_range(double v, double lo, double hi)
{
	return v >= lo && v <= hi; /* false for NaN */
}

int inf_sampler_params_check(const struct inf_sampler_params *p, uint32_t n_vocab,
			     char err[INF_TEXT_ERR_MAX])
{
	if (!in_range(p->temperature, 0, 100)) {
		inf_text_set_err(err, "temperature %g is out of range [0, 100]", p->temperature);
		return INF_TEXT_EINVAL;
	}
	if (p->top_k < 0 || (uint32_t)p->top_k > n_vocab) {
		inf_text_set_err(err, "top_k %d is out of range [0, %u] (0 = off; the vocabulary has %u "
			"tokens)", p->top_k, n_vocab, n_vocab);
		return INF_TEXT_EINVAL;
	}
	if (!in_range(p->top_p, 0, 1) || p->top_p == 0) {
		inf_text_set_err(err, "top_p %g is out of range (0, 1] (1 = off)", p->top_p);
		return INF_TEXT_EINVAL;
	}
	if (!in_range(p->min_p, 0, 1) || p->min_p == 1) {
		inf_text_set_err(err, "min_p %g is out of range [0, 1) (0 = off)", p->min_p);
		return INF_TEXT_EINVAL;
	}
	if (!in_range(p->repeat_penalty, 0, 10) || p->repeat_penalty == 0) {
		inf_text_set_err(err, "repeat_penalty %g is out of range (0, 10] (1 = off)",
			p->repeat_penalty);
		return INF_TEXT_EINVAL;
	}
	if (p->repeat_last_n < 0) {
		inf_text_set_err(err, "repeat_last_n %d is out of range [0, n_ctx]", p->repeat_last_n);
		return INF_TEXT_EINVAL;
	}
	if (!in_range(p->frequency_penalty, -2, 2)) {
		inf_text_set_err(err, "frequency_penalty %g is out of range [-2, 2] (0 = off)",
			p->frequency_penalty);
		return INF_TEXT_EINVAL;
	}
	if (!in_range(p->presence_penalty, -2, 2)) {
		inf_text_set_err(err, "presence_penalty %g is out of range [-2, 2] (0 = off)",
			p->presence_penalty);
		return INF_TEXT_EINVAL;
	}
	if (n_vocab == 0) {
		inf_text_set_err(err, "n_vocab is 0");
		return INF_TEXT_EINVAL;
	}
	return 0;
}

/* ---- PRNG: splitmix64 seeds xoshiro256** (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t xoshiro_next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform(uint64_t s[4])
{
	return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53;
}

int inf_sampler_create(const struct inf_sampler_params *p, uint32_t n_vocab,
		       struct inf_sampler **out, char err[INF_TEXT_ERR_MAX])
{
	struct inf_sampler *s;
	uint64_t x;
	int rc;

	*out = NULL;
	if ((rc = inf_sampler_params_check(p, n_vocab, err)))
		return rc;
	s = calloc(1, sizeof *s);
	if (!s) {
		inf_text_set_err(err, "sampler: out of memory");
		return INF_TEXT_ENOMEM;
	}
	s->p = *p;
	s->n_vocab = n_vocab;
	s->cand = malloc(n_vocab * sizeof *s->cand);
	s->counts = calloc(n_vocab, sizeof *s->counts);
	s->probs = malloc(n_vocab * sizeof *s->probs);
	if (!s->cand || !s->counts || !s->probs) {
		inf_sampler_free(s);
		inf_text_set_err(err, "sampler: out of memory for %u tokens", n_vocab);
		return INF_TEXT_ENOMEM;
	}
	x = p->seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
	*out = s;
	return 0;
}

void inf_sampler_free(struct inf_sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->counts);
	free(s->probs);
	free(s);
}

static void apply_penalties(struct inf_sampler *s, float *logits, const int32_t *history,
			    size_t n_history)
{
	const struct inf_sampler_params *p = &s->p;
	size_t from, n = (size_t)p->repeat_last_n;

	if (!n || !history || !n_history ||
	    (p->repeat_penalty == 1 && p->frequency_penalty == 0 && p->presence_penalty == 0))
		return;
	from = n_history > n ? n_history - n : 0;
	for (size_t i = from; i < n_history; i++)
		if (history[i] >= 0 && (uint32_t)history[i] < s->n_vocab)
			s->counts[history[i]]++;
	for (size_t i = from; i < n_history; i++) {
		int32_t id = history[i];
		uint32_t c;
		float l;

		if (id < 0 || (uint32_t)id >= s->n_vocab || !(c = s->counts[id]))
			continue;
		s->counts[id] = 0; /* each token once */
		l = logits[id];
		l = l <= 0 ? (float)(l * p->repeat_penalty) : (float)(l / p->repeat_penalty);
		l -= (float)(c * p->frequency_penalty + p->presence_penalty);
		logits[id] = l;
	}
}

/* Higher logit first; the lower id among equals. */
static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool cand_before(const struct cand *x, const struct cand *y)
{
	return x->logit > y->logit || (x->logit == y->logit && x->id < y->id);
}

/* Keeps the k best of cand[0..n) in cand[0..k), sorted, with a min-heap of
 * the k best seen so far (O(n log k)). */
static size_t keep_top_k(struct cand *c, size_t n, size_t k)
{
	if (k >= n) {
		qsort(c, n, sizeof *c, cand_cmp);
		return n;
	}
	/* heap in c[0..k): the root is the worst kept */
	for (size_t i = k / 2; i-- > 0;) {
		for (size_t j = i;;) {
			size_t l = 2 * j + 1, w = j;

			if (l < k && cand_before(&c[w], &c[l]))
				w = l;
			if (l + 1 < k && cand_before(&c[w], &c[l + 1]))
				w = l + 1;
			if (w == j)
				break;
			struct cand t = c[j];
			c[j] = c[w], c[w] = t, j = w;
		}
	}
	for (size_t i = k; i < n; i++) {
		if (!cand_before(&c[i], &c[0]))
			continue;
		c[0] = c[i];
		for (size_t j = 0;;) {
			size_t l = 2 * j + 1, w = j;

			if (l < k && cand_before(&c[w], &c[l]))
				w = l;
			if (l + 1 < k && cand_before(&c[w], &c[l + 1]))
				w = l + 1;
			if (w == j)
				break;
			struct cand t = c[j];
			c[j] = c[w], c[w] = t, j = w;
		}
	}
	qsort(c, k, sizeof *c, cand_cmp);
	return k;
}

/* Softmax of cand[0..n) (sorted, cand[0] the largest) at temperature t into
 * probs; returns the sum before normalising. */
static void softmax(const struct cand *c, size_t n, double t, double *probs)
{
	double sum = 0, max = c[0].logit;

	for (size_t i = 0; i < n; i++) {
		probs[i] = exp(((double)c[i].logit - max) / t);
		sum += probs[i];
	}
	for (size_t i = 0; i < n; i++)
		probs[i] /= sum;
}

int32_t inf_sampler_sample(struct inf_sampler *s, float *logits, const int32_t *history,
			   size_t n_history)
{
	const struct inf_sampler_params *p = &s->p;
	size_t n = 0;
	double r, acc;

	apply_penalties(s, logits, history, n_history);
	for (uint32_t i = 0; i < s->n_vocab; i++) {
		float l = logits[i];

		if (isnan(l) || l == -INFINITY)
			continue;
		s->cand[n++] = (struct cand){(int32_t)i, l == INFINITY ? FLT_MAX : l};
	}
	if (!n)
		return INF_TEXT_EINVAL; /* no token has a usable logit */
	if (p->temperature == 0) {
		size_t best = 0;

		for (size_t i = 1; i < n; i++)
			if (cand_before(&s->cand[i], &s->cand[best]))
				best = i;
		return s->cand[best].id;
	}
	n = keep_top_k(s->cand, n, p->top_k > 0 ? (size_t)p->top_k : n);
	if (p->top_p < 1) {
		softmax(s->cand, n, 1.0, s->probs);
		acc = 0;
		for (size_t i = 0; i < n; i++) {
			acc += s->probs[i];
			if (acc >= p->top_p) {
				n = i + 1;
				break;
			}
		}
	}
	if (p->min_p > 0) {
		/* p_i >= min_p * p_max  <=>  l_i >= l_max + log(min_p) */
		double cut = (double)s->cand[0].logit + log(p->min_p);
		size_t keep = 1;

		while (keep < n && (double)s->cand[keep].logit >= cut)
			keep++;
		n = keep;
	}
	softmax(s->cand, n, p->temperature, s->probs);
	r = uniform(s->rng);
	acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc += s->probs[i];
		if (r < acc)
			return s->cand[i].id;
	}
	return s->cand[n - 1].id; /* rounding left r just above the sum */
}
