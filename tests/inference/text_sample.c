/*
 * Sampler tests: parameter checks name the field; greedy, ties, NaN and
 * infinities; seeded determinism; distributions of temperature, top-k, top-p
 * and min-p checked statistically (fixed seeds, 4-sigma bounds); penalties.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "text.h"

static void expect_bad(struct inf_sampler_params p, uint32_t n_vocab, const char *field)
{
	char err[INF_TEXT_ERR_MAX] = "";
	struct inf_sampler *s = (struct inf_sampler *)&s;

	CHECK_EQ(inf_sampler_params_check(&p, n_vocab, err), INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, field);
	CHECK_EQ(inf_sampler_create(&p, n_vocab, &s, err), INF_TEXT_EINVAL);
	CHECK(s == NULL);
}

static void every_field_is_range_checked(void)
{
	struct inf_sampler_params d, p;
	char err[INF_TEXT_ERR_MAX] = "";

	inf_sampler_params_default(&d);
	CHECK_EQ(inf_sampler_params_check(&d, 100, err), 0);
	p = d, p.temperature = -0.1;
	expect_bad(p, 100, "temperature");
	p = d, p.temperature = 100.5;
	expect_bad(p, 100, "temperature");
	p = d, p.temperature = NAN;
	expect_bad(p, 100, "temperature");
	p = d, p.top_k = 101;
	expect_bad(p, 100, "top_k 101");
	p = d, p.top_k = -1;
	expect_bad(p, 100, "top_k");
	p = d, p.top_p = 0;
	expect_bad(p, 100, "top_p");
	p = d, p.top_p = 1.01;
	expect_bad(p, 100, "top_p");
	p = d, p.min_p = 1;
	expect_bad(p, 100, "min_p");
	p = d, p.min_p = -0.01;
	expect_bad(p, 100, "min_p");
	p = d, p.repeat_penalty = 0;
	expect_bad(p, 100, "repeat_penalty");
	p = d, p.repeat_penalty = 10.5;
	expect_bad(p, 100, "repeat_penalty");
	p = d, p.repeat_last_n = -1;
	expect_bad(p, 100, "repeat_last_n");
	p = d, p.frequency_penalty = 2.5;
	expect_bad(p, 100, "frequency_penalty");
	p = d, p.presence_penalty = -2.5;
	expect_bad(p, 100, "presence_penalty");
	p = d, p.top_k = 100, p.temperature = 100, p.top_p = 1, p.min_p = 0;
	CHECK_EQ(inf_sampler_params_check(&p, 100, err), 0);
}

static struct inf_sampler *make(double temp, int top_k, double top_p, double min_p,
				uint64_t seed, uint32_t n_vocab)
{
	struct inf_sampler_params p;
	struct inf_sampler *s = NULL;
	char err[INF_TEXT_ERR_MAX] = "";

	inf_sampler_params_default(&p);
	p.temperature = temp, p.top_k = top_k, p.top_p = top_p, p.min_p = min_p, p.seed = seed;
	CHECK_EQ(inf_sampler_create(&p, n_vocab, &s, err), 0);
	return s;
}

static void greedy_ties_nan_and_infinities(void)
{
	struct inf_sampler *s = make(0, 0, 1, 0, 1, 5);
	float l1[5] = {1, 3, 3, 2, NAN};
	float l2[5] = {-INFINITY, NAN, -INFINITY, NAN, -INFINITY};
	float l3[5] = {1, INFINITY, 5, INFINITY, 0};
	float l4[5] = {NAN, -1, NAN, -2, NAN};

	CHECK_EQ(inf_sampler_sample(s, l1, NULL, 0), 1); /* tie: lower id */
	CHECK_EQ(inf_sampler_sample(s, l2, NULL, 0), INF_TEXT_EINVAL);
	CHECK_EQ(inf_sampler_sample(s, l3, NULL, 0), 1);
	CHECK_EQ(inf_sampler_sample(s, l4, NULL, 0), 1);
	inf_sampler_free(s);

	/* sampling too: never a NaN or -inf token, and all -inf is an error */
	s = make(1, 0, 1, 0, 7, 5);
	for (int i = 0; i < 200; i++) {
		float l[5] = {NAN, 0, -INFINITY, 0, NAN};
		int32_t id = inf_sampler_sample(s, l, NULL, 0);

		CHECK(id == 1 || id == 3);
	}
	memcpy(l2, (float[5]){-INFINITY, NAN, -INFINITY, NAN, -INFINITY}, sizeof l2);
	CHECK_EQ(inf_sampler_sample(s, l2, NULL, 0), INF_TEXT_EINVAL);
	inf_sampler_free(s);
}

/* Draws n tokens from logits at the given settings; counts[] gets them. */
static void draw(struct inf_sampler *s, const float *logits, uint32_t n_vocab, int n,
		 int *counts)
{
	float l[8];

	memset(counts, 0, n_vocab * sizeof *counts);
	for (int i = 0; i < n; i++) {
		int32_t id;

		memcpy(l, logits, n_vocab * sizeof *l);
		id = inf_sampler_sample(s, l, NULL, 0);
		CHECK(id >= 0 && (uint32_t)id < n_vocab);
		if (id >= 0 && (uint32_t)id < n_vocab)
			counts[id]++;
	}
}

/* |observed - expected| within 4 standard deviations of a binomial. */
static void check_freq(const int *counts, const double *want, uint32_t n_vocab, int n)
{
	for (uint32_t i = 0; i < n_vocab; i++) {
		double sd = sqrt(n * want[i] * (1 - want[i])), diff = fabs(counts[i] - n * want[i]);

		if (diff > 4 * sd + (want[i] == 0 ? 0 : 1)) {
			fprintf(stderr, "token %u: %d draws, expected %.1f (sd %.1f)\n", i, counts[i],
				n * want[i], sd);
			check_failures++;
		}
	}
}

static const float logp[4] = {-0.6931472f, -1.2039728f, -1.6094379f, -4.6051702f};
/* probabilities 0.5, 0.3, 0.2, 0.01 (unnormalised: they sum to 1.01) */

static void temperature_one_follows_the_softmax(void)
{
	struct inf_sampler *s = make(1, 0, 1, 0, 42, 4);
	int counts[4], n = 100000;
	double want[4] = {0.5 / 1.01, 0.3 / 1.01, 0.2 / 1.01, 0.01 / 1.01};

	draw(s, logp, 4, n, counts);
	check_freq(counts, want, 4, n);
	inf_sampler_free(s);
}

static void temperature_two_flattens(void)
{
	struct inf_sampler *s = make(2, 0, 1, 0, 43, 4);
	int counts[4], n = 100000;
	double w[4], sum = 0;

	for (int i = 0; i < 4; i++)
		sum += w[i] = exp(logp[i] / 2.0);
	for (int i = 0; i < 4; i++)
		w[i] /= sum;
	draw(s, logp, 4, n, counts);
	check_freq(counts, w, 4, n);
	inf_sampler_free(s);
}

static void top_k_keeps_the_best_k(void)
{
	struct inf_sampler *s = make(1, 2, 1, 0, 44, 4);
	int counts[4], n = 50000;
	double want[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};

	draw(s, logp, 4, n, counts);
	check_freq(counts, want, 4, n);
	CHECK_EQ(counts[2] + counts[3], 0);
	inf_sampler_free(s);
}

static void top_p_keeps_the_smallest_set_reaching_p(void)
{
	struct inf_sampler *s = make(1, 0, 0.7, 0, 45, 4);
	int counts[4], n = 50000;
	/* cumulative (normalised): 0.495, 0.792 >= 0.7: keep two */
	double want[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};

	draw(s, logp, 4, n, counts);
	check_freq(counts, want, 4, n);
	inf_sampler_free(s);
	s = make(1, 0, 0.4, 0, 46, 4); /* the first alone reaches 0.4 */
	draw(s, logp, 4, 1000, counts);
	CHECK_EQ(counts[0], 1000);
	inf_sampler_free(s);
}

static void min_p_drops_tokens_below_a_share_of_the_best(void)
{
	struct inf_sampler *s = make(1, 0, 1, 0.5, 47, 4);
	int counts[4], n = 50000;
	/* keep p >= 0.25: tokens 0 and 1 */
	double want[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};

	draw(s, logp, 4, n, counts);
	check_freq(counts, want, 4, n);
	inf_sampler_free(s);
	s = make(1, 0, 1, 0.45, 48, 4); /* cut 0.45 * 0.5: keeps 0.3, drops 0.2 */
	draw(s, logp, 4, n, counts);
	CHECK(counts[1] > 0);
	CHECK_EQ(counts[2] + counts[3], 0);
	inf_sampler_free(s);
}

static void same_seed_same_tokens(void)
{
	struct inf_sampler *a = make(1, 0, 1, 0, 1234, 4), *b = make(1, 0, 1, 0, 1234, 4);
	struct inf_sampler *c = make(1, 0, 1, 0, 1235, 4);
	int same = 0, differ = 0;

	for (int i = 0; i < 1000; i++) {
		float la[4], lb[4], lc[4];
		int32_t x, y, z;

		memcpy(la, logp, sizeof la), memcpy(lb, logp, sizeof lb), memcpy(lc, logp, sizeof lc);
		x = inf_sampler_sample(a, la, NULL, 0);
		y = inf_sampler_sample(b, lb, NULL, 0);
		z = inf_sampler_sample(c, lc, NULL, 0);
		same += x == y;
		differ += x != z;
	}
	CHECK_EQ(same, 1000);
	CHECK(differ > 100);
	inf_sampler_free(a), inf_sampler_free(b), inf_sampler_free(c);
}

static void penalties_follow_llama_cpp(void)
{
	struct inf_sampler_params p;
	struct inf_sampler *s = NULL;
	char err[INF_TEXT_ERR_MAX] = "";
	float l[6] = {2, -2, 1, 1, 0.5f, 3};
	int32_t hist[] = {5, 0, 1, 0, 3, 0};

	inf_sampler_params_default(&p);
	p.temperature = 0;
	p.top_k = 0;
	p.repeat_penalty = 2;
	p.frequency_penalty = 0.25;
	p.presence_penalty = 0.5;
	p.repeat_last_n = 5; /* the window is hist[1..5]: token 5 is outside it */
	CHECK_EQ(inf_sampler_create(&p, 6, &s, err), 0);
	CHECK_EQ(inf_sampler_sample(s, l, hist, 6), 5);
	CHECK(fabsf(l[0] - (2.0f / 2 - 3 * 0.25f - 0.5f)) < 1e-6f);  /* seen 3 times */
	CHECK(fabsf(l[1] - (-2.0f * 2 - 0.25f - 0.5f)) < 1e-6f);      /* negative: times */
	CHECK(fabsf(l[2] - 1) < 1e-6f);                               /* unseen */
	CHECK(fabsf(l[3] - (1.0f / 2 - 0.25f - 0.5f)) < 1e-6f);
	CHECK(fabsf(l[5] - 3) < 1e-6f);                               /* outside the window */
	inf_sampler_free(s);

	/* the penalty changes the greedy choice */
	p.repeat_last_n = 6;
	CHECK_EQ(inf_sampler_create(&p, 6, &s, err), 0);
	memcpy(l, (float[6]){2, -2, 1, 1, 0.5f, 3}, sizeof l);
	CHECK_EQ(inf_sampler_sample(s, l, hist, 6), 2);
	inf_sampler_free(s);
}

int main(void)
{
	RUN(every_field_is_range_checked);
	RUN(greedy_ties_nan_and_infinities);
	RUN(temperature_one_follows_the_softmax);
	RUN(temperature_two_flattens);
	RUN(top_k_keeps_the_best_k);
	RUN(top_p_keeps_the_smallest_set_reaching_p);
	RUN(min_p_drops_tokens_below_a_share_of_the_best);
	RUN(same_seed_same_tokens);
	RUN(penalties_follow_llama_cpp);
	return check_summary();
}
