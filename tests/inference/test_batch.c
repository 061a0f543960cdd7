/*
 * test_batch.c: several sequences in one forward pass (inf_evaluate_batch)
 * and batch invariance, bit for bit (memcmp, no tolerance):
 *  - the kernels: each token's lane of the multi-token kernels (dot4_*,
 *    mm16_*, mm4_f16) equals the one-token kernel, on every ISA this CPU has;
 *  - on random-weight models in F32, F16, Q8_0, Q4_0, Q4_K and Q6_K, every
 *    ISA, 1 and 2 threads: greedy sequences run alone (prompt in one batch,
 *    then one token at a time) and together in batches with 1..8 other
 *    sequences at other positions (every batch size is seen), their prompts cut into random chunks or fed token by
 *    token, then partly re-evaluated after inf_seq_truncate: the same logits
 *    at every step; and alone with 1 thread = alone with 2;
 *  - the batch's errors, each naming what was wrong, with nothing evaluated.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "internal.h"
#include "model.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)   /* uniform-ish in [0, n) */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11) % n;
}

static float frand(void)
{
	return (float)rnd(2000001) / 1e6f - 1.0f;
}

/* ---- the kernels: a token's lane of a multi-token kernel = the one-token kernel ---- */

static bool same(const float *a, const float *b, size_t n, const char *what, uint32_t tok)
{
	if (!memcmp(a, b, n * sizeof *a))
		return true;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof *a)) {
			fprintf(stderr, "%s: token %u, output %zu: %.9g in the batch, %.9g alone\n", what, tok, i, a[i],
				b[i]);
			break;
		}
	return false;
}

static void four_token_lanes_equal_the_one_token_kernels(void)
{
	enum { N = 512, T = 9, ROWS = 16 };
	static float w[ROWS * N], x[T][N];
	static uint8_t wq[ROWS * N * 4], packed[ROWS * N * 4];
	static struct inf_act_q8 xq[T][N / 32];
	static struct inf_act_q8k xk[T][N / 256];
	static const uint32_t types[] = { INF_TYPE_Q8_0, INF_TYPE_Q4_0, INF_TYPE_Q4_K, INF_TYPE_Q6_K, INF_TYPE_F16 };
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		const struct inf_kernels *k = inf_kernels_get((enum inf_isa)isa);
		if (!k)
			continue;
		int checked = 0;
		for (size_t ty = 0; ty < sizeof types / sizeof types[0]; ty++) {
			uint32_t type = types[ty];
			char what[64];
			snprintf(what, sizeof what, "%s %s", inf_isa_name((enum inf_isa)isa), inf_type_name(type));
			for (uint32_t i = 0; i < ROWS * N; i++)
				w[i] = frand() * (1 + (float)(i % 7));
			for (int t = 0; t < T; t++) {
				for (uint32_t i = 0; i < N; i++)
					x[t][i] = frand() * (float)(t + 1);
				k->quantize_q8(x[t], xq[t], N);
				k->quantize_q8k(x[t], xk[t], N);
			}
			const uint8_t *act;
			size_t stride;
			if (type == INF_TYPE_F16) {
				uint16_t *h = (uint16_t *)wq;
				for (uint32_t i = 0; i < ROWS * N; i++)
					h[i] = inf_fp32_to_fp16(w[i]);
				act = (const uint8_t *)x;
				stride = sizeof x[0];
			} else {
				CHECK(inf_quantize(type, w, wq, (uint64_t)ROWS * N) == 0);
				bool kq = type == INF_TYPE_Q4_K || type == INF_TYPE_Q6_K;
				act = kq ? (const uint8_t *)xk : (const uint8_t *)xq;
				stride = kq ? sizeof xk[0] : sizeof xq[0];
			}
			size_t row_bytes = (size_t)inf_row_bytes(type, N);
			/* one-token kernel, every row and token */
			static float one[T][ROWS], got[T][ROWS];
			for (int t = 0; t < T; t++)
				for (int r = 0; r < ROWS; r++)
					one[t][r] = inf_dot(k, type, wq + r * row_bytes, act + t * stride, N);
			/* dot4_*: tokens 0..3 and 4..7 (a row at a time) */
			void (*d4k)(const void *, const uint8_t *, size_t, uint32_t, float *) =
				type == INF_TYPE_Q4_K ? k->dot4_q4_k : type == INF_TYPE_Q6_K ? k->dot4_q6_k : NULL;
			bool has4 = type == INF_TYPE_F16 ? k->dot4_f16 != NULL : d4k || k->dot4_q8;
			if (has4) {
				for (int t0 = 0; t0 + 4 <= T; t0 += 4)
					for (int r = 0; r < ROWS; r++) {
						float o[4];
						const uint8_t *wr = wq + r * row_bytes, *xa = act + t0 * stride;
						if (type == INF_TYPE_F16)
							k->dot4_f16((const uint16_t *)wr, xa, stride, N, o);
						else if (d4k)
							d4k(wr, xa, stride, N, o);
						else
							k->dot4_q8(wr, type, xa, stride, N, o);
						for (int i = 0; i < 4; i++)
							got[t0 + i][r] = o[i];
					}
				for (int t = 0; t < 8; t++)
					CHECK(same(got[t], one[t], ROWS, what, (uint32_t)t));
				checked++;
			}
			/* the tiled kernels: n_tok tokens at once = each alone */
			if (type == INF_TYPE_F16 && k->mm4_f16) {
				for (uint32_t n_tok = 1; n_tok <= T; n_tok++) {
					static float y[T * ROWS], y1[ROWS];
					for (int g = 0; g < ROWS / 4; g++)
						k->mm4_f16(wq + 4 * g * row_bytes, row_bytes, act, stride, n_tok, N, y + 4 * g, ROWS);
					for (uint32_t t = 0; t < n_tok; t++) {
						for (int g = 0; g < ROWS / 4; g++)
							k->mm4_f16(wq + 4 * g * row_bytes, row_bytes, act + t * stride, stride, 1, N,
								   y1 + 4 * g, ROWS);
						CHECK(same(y + t * ROWS, y1, ROWS, "mm4_f16", t));
					}
				}
				checked++;
			}
			bool pk = type == INF_TYPE_Q4_K ? k->mm16_q4k != NULL
				  : type == INF_TYPE_Q6_K ? k->mm16_q6k != NULL
				  : type == INF_TYPE_F16  ? false
							  : k->mm16_q8 != NULL;
			if (pk) {
				inf_pack16(type, wq, ROWS, N, packed);
				for (uint32_t n_tok = 1; n_tok <= T; n_tok++) {
					static float y[T * ROWS], y1[ROWS];
#define MM16(xx, nt, yy)                                                                      \
	(type == INF_TYPE_Q4_K   ? k->mm16_q4k(packed, (xx), stride, (nt), N, (yy), ROWS)    \
	 : type == INF_TYPE_Q6_K ? k->mm16_q6k(packed, (xx), stride, (nt), N, (yy), ROWS)    \
				 : k->mm16_q8(packed, type, (xx), stride, (nt), N, (yy), ROWS))
					MM16(act, n_tok, y);
					for (uint32_t t = 0; t < n_tok; t++) {
						MM16(act + t * stride, 1, y1);
						CHECK(same(y + t * ROWS, y1, ROWS, what, t));
					}
#undef MM16
				}
				checked++;
			}
		}
		printf("     %s: %d kernel families bit-identical per token\n", inf_isa_name((enum inf_isa)isa), checked);
	}
}

/* ---- models ---- */

static uint8_t *build(const struct inf_test_model_spec *s, size_t *len)
{
	struct inf_gguf_writer *w = inf_test_model_build(s);
	uint8_t *p = w ? inf_gguf_writer_finish(w, len) : NULL;
	inf_gguf_writer_free(w);
	uint8_t *a = p ? aligned_alloc(64, (*len + 63) / 64 * 64) : NULL;   /* as load_memory requires */
	if (a)
		memcpy(a, p, *len);
	free(p);
	return a;
}

static void spec_for(struct inf_test_model_spec *s, uint32_t type)
{
	inf_test_model_spec_default(s);
	s->wtype = s->embd_type = type;
	s->with_vocab = false;
	s->seed = type + 11;
	if (type == INF_TYPE_Q4_K || type == INF_TYPE_Q6_K) {   /* rows of whole 256-blocks */
		s->dim = 256;
		s->ffn_dim = 512;
	}
	/* 300 output rows: 18 packed groups and 12 rows through the one-row kernels */
}

/* ---- sequences alone ---- */

enum { MAX_SEQ = 9, GEN = 8, MAX_PROMPT = 12, N_CTX = MAX_PROMPT + GEN + 4 };

/* A sequence run alone: its prompt, then its greedy continuation, and the
 * logits after each position from the prompt's last on. */
struct trace {
	uint32_t n_prompt;
	int32_t ids[MAX_PROMPT + GEN];
	float *logits;   /* (GEN + 1, n_vocab): after n_prompt + k positions */
};

static uint32_t n_vocab_of(const struct inf_model *m)
{
	struct inf_model_info i;
	inf_model_get_info(m, &i);
	return i.n_vocab;
}

static int32_t argmax(const float *v, uint32_t n)
{
	uint32_t best = 0;
	for (uint32_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return (int32_t)best;
}

static struct inf_context *context(struct inf_model *m, enum inf_isa isa, uint32_t threads, uint32_t n_seq)
{
	struct inf_context_params p;
	inf_context_params_default(&p);
	p.n_ctx = N_CTX;
	p.n_threads = threads;
	p.isa = isa;
	p.n_seq = n_seq;
	struct inf_context *c = NULL;
	char err[INF_ERR_MAX] = "";
	if (inf_context_create(m, &p, &c, err))
		fprintf(stderr, "context: %s\n", err);
	CHECK(c != NULL);
	return c;
}

/* The sequence alone: the prompt in one batch, then a token at a time. */
static void run_alone(struct inf_model *m, enum inf_isa isa, uint32_t threads, struct trace *tr)
{
	uint32_t nv = n_vocab_of(m);
	char err[INF_ERR_MAX] = "";
	struct inf_context *c = context(m, isa, threads, 1);
	if (!c)
		return;
	CHECK(inf_evaluate(c, tr->ids, tr->n_prompt, err) == 0);
	memcpy(tr->logits, inf_logits(c), nv * sizeof(float));
	for (uint32_t k = 1; k <= GEN; k++) {
		int32_t tok = argmax(tr->logits + (size_t)(k - 1) * nv, nv);
		tr->ids[tr->n_prompt + k - 1] = tok;
		CHECK(inf_evaluate(c, &tok, 1, err) == 0);
		memcpy(tr->logits + (size_t)k * nv, inf_logits(c), nv * sizeof(float));
	}
	inf_context_free(c);
}

/* ---- sequences together ---- */

struct slot {
	const struct trace *tr;
	uint32_t seq;         /* its sequence in the shared context */
	uint32_t start;       /* the batch it joins at */
	uint32_t fed;         /* positions evaluated */
	uint32_t end;         /* n_prompt + GEN */
};

static uint64_t n_compared;
static uint32_t batch_sizes[MAX_SEQ + 1];   /* batches seen per number of sequences in them */

/* Feeds the slots' tokens in batches until each has fed up to its end:
 * prompts in random chunks (or one token at a time), one token per batch
 * after the prompt, slots joining at their start batch and now and then
 * sitting a batch out, entries in random order; after each batch, every
 * sequence past its prompt's last position must have the logits it had
 * alone. */
static void feed(struct inf_context *c, struct slot *sl, uint32_t n_slots, bool tokenwise, uint32_t nv,
		 const char *what)
{
	char err[INF_ERR_MAX] = "";
	for (uint32_t step = 0;; step++) {
		struct inf_batch_seq b[MAX_SEQ];
		uint32_t nb = 0, left = 0;
		for (uint32_t i = 0; i < n_slots; i++) {
			struct slot *s = &sl[i];
			if (s->fed >= s->end)
				continue;
			left++;
			if (step < s->start || rnd(5) == 0)
				continue;
			uint32_t n = 1;
			if (s->fed < s->tr->n_prompt && !tokenwise)
				n = 1 + rnd(s->tr->n_prompt - s->fed);
			b[nb++] = (struct inf_batch_seq){ s->seq, s->tr->ids + s->fed, n };
		}
		if (!left)
			return;
		if (!nb)
			continue;
		for (uint32_t i = nb - 1; i > 0; i--) {   /* shuffle the entries */
			uint32_t j = rnd(i + 1);
			struct inf_batch_seq t = b[i];
			b[i] = b[j];
			b[j] = t;
		}
		int rc = inf_evaluate_batch(c, b, nb, err);
		CHECK_EQ(rc, 0);
		batch_sizes[nb]++;
		if (rc) {
			fprintf(stderr, "%s: %s\n", what, err);
			return;
		}
		for (uint32_t e = 0; e < nb; e++) {
			struct slot *s = NULL;
			for (uint32_t i = 0; i < n_slots; i++)
				if (sl[i].seq == b[e].seq)
					s = &sl[i];
			s->fed += b[e].n;
			CHECK_EQ(inf_seq_n_past(c, s->seq), s->fed);
			if (s->fed < s->tr->n_prompt)
				continue;
			const float *want = s->tr->logits + (size_t)(s->fed - s->tr->n_prompt) * nv;
			char w2[160];
			snprintf(w2, sizeof w2, "%s, seq %u at %u with %u others", what, s->seq, s->fed, nb - 1);
			CHECK(same(inf_seq_logits(c, s->seq), want, nv, w2, s->fed));
			n_compared++;
		}
	}
}

/* Sequence 0..n_others together, each in its own slot (numbered backwards,
 * so slot numbers differ from the alone runs' order), joining in one of
 * the first four batches; then each truncated to a random position and re-evaluated from
 * there, together again. */
static void run_together(struct inf_model *m, enum inf_isa isa, uint32_t threads, const struct trace *tr,
			 uint32_t n_others, bool tokenwise, const char *what)
{
	uint32_t n = n_others + 1, nv = n_vocab_of(m);
	struct inf_context *c = context(m, isa, threads, n);
	if (!c)
		return;
	struct slot sl[MAX_SEQ];
	for (uint32_t i = 0; i < n; i++)
		sl[i] = (struct slot){ &tr[i], n - 1 - i, rnd(4), 0, tr[i].n_prompt + GEN };
	char w[160];
	snprintf(w, sizeof w, "%s, %u together%s", what, n, tokenwise ? ", prompts token by token" : "");
	feed(c, sl, n, tokenwise, nv, w);
	/* partly from the cache: truncate each to a random position, go on */
	char err[INF_ERR_MAX] = "";
	for (uint32_t i = 0; i < n; i++) {
		uint32_t keep = rnd(sl[i].end);
		CHECK(inf_seq_truncate(c, sl[i].seq, keep, err) == 0);
		sl[i].fed = keep;
		sl[i].start = rnd(3);
	}
	snprintf(w, sizeof w, "%s, %u together after truncating", what, n);
	feed(c, sl, n, false, nv, w);
	inf_context_free(c);
}

static void one_spec(const struct inf_test_model_spec *sp, const char *name)
{
	struct inf_test_model_spec s = *sp;
	uint32_t type = s.wtype;
	size_t len;
	uint8_t *buf = build(&s, &len);
	struct inf_model *m = NULL;
	char err[INF_ERR_MAX] = "";
	CHECK(buf && inf_model_load_memory(buf, len, NULL, &m, err) == 0);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		free(buf);
		return;
	}
	uint32_t nv = n_vocab_of(m);
	struct trace tr[2][MAX_SEQ] = { 0 };   /* [threads - 1][sequence] */
	n_compared = 0;
	memset(batch_sizes, 0, sizeof batch_sizes);
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		if (!inf_isa_supported((enum inf_isa)isa))
			continue;
		for (uint32_t th = 1; th <= 2; th++) {
			char what[96];
			snprintf(what, sizeof what, "%s %s %u thread%s", inf_type_name(type), inf_isa_name((enum inf_isa)isa),
				 th, th > 1 ? "s" : "");
			for (uint32_t q = 0; q < MAX_SEQ; q++) {
				struct trace *t = &tr[th - 1][q];
				t->n_prompt = 1 + (q * 5 + 3) % MAX_PROMPT;
				for (uint32_t i = 0; i < t->n_prompt; i++)
					t->ids[i] = (int32_t)((q * 131 + i * 7919 + type * 17) % nv);
				t->logits = malloc((GEN + 1) * (size_t)nv * sizeof(float));
				run_alone(m, (enum inf_isa)isa, th, t);
			}
			if (th == 2)   /* the thread count changes nothing either */
				for (uint32_t q = 0; q < MAX_SEQ; q++) {
					CHECK(!memcmp(tr[0][q].ids, tr[1][q].ids, sizeof tr[0][q].ids));
					CHECK(same(tr[1][q].logits, tr[0][q].logits, (GEN + 1) * (size_t)nv, what, q));
				}
			/* (the runs of 3 and 8 others also make batches of every
			 * size below theirs: sequences join late, sit batches out
			 * and finish; checked below) */
			static const uint32_t others[] = { 1, 3, MAX_SEQ - 1 };
			for (size_t o = 0; o < sizeof others / sizeof others[0]; o++)
				run_together(m, (enum inf_isa)isa, th, tr[th - 1], others[o], false, what);
			run_together(m, (enum inf_isa)isa, th, tr[th - 1], MAX_SEQ - 1, true, what);
		}
		for (uint32_t th = 0; th < 2; th++)
			for (uint32_t q = 0; q < MAX_SEQ; q++)
				free(tr[th][q].logits);
	}
	printf("     %s: %llu logit vectors in batches bit-identical to the sequence alone; batches of 1..%d "
	       "sequences:", name, (unsigned long long)n_compared, MAX_SEQ);
	for (uint32_t i = 1; i <= MAX_SEQ; i++) {
		printf(" %u", batch_sizes[i]);
		CHECK(batch_sizes[i] > 0);   /* with 0..8 others, each seen */
	}
	printf("\n");
	inf_model_free(m);
	free(buf);
}

static void one_model(uint32_t type)
{
	struct inf_test_model_spec s;
	spec_for(&s, type);
	one_spec(&s, inf_type_name(type));
}

static void f32_sequences_are_batch_invariant(void) { one_model(INF_TYPE_F32); }
static void f16_sequences_are_batch_invariant(void) { one_model(INF_TYPE_F16); }
static void q8_0_sequences_are_batch_invariant(void) { one_model(INF_TYPE_Q8_0); }
static void q4_0_sequences_are_batch_invariant(void) { one_model(INF_TYPE_Q4_0); }
static void q4_k_sequences_are_batch_invariant(void) { one_model(INF_TYPE_Q4_K); }
static void q6_k_sequences_are_batch_invariant(void) { one_model(INF_TYPE_Q6_K); }

/* qwen2 (biases, NeoX rope) in Q4_K_M's layout: Q4_K, attn_v and ffn_down
 * in Q6_K, the output tied to a Q6_K embedding; GQA 4:1 */
static void qwen2_q4_k_m_layout_sequences_are_batch_invariant(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, INF_TYPE_Q4_K);
	s.arch = "qwen2";
	s.v_down_type = INF_TYPE_Q6_K;
	s.embd_type = INF_TYPE_Q6_K;
	s.tied = true;
	s.n_head_kv = 1;
	one_spec(&s, "qwen2 Q4_K_M layout");
}

/* ---- errors ---- */

static void batch_errors_name_the_sequence_and_evaluate_nothing(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, INF_TYPE_F32);
	size_t len;
	uint8_t *buf = build(&s, &len);
	struct inf_model *m = NULL;
	char err[INF_ERR_MAX] = "";
	CHECK(buf && inf_model_load_memory(buf, len, NULL, &m, err) == 0);
	if (!m) {
		free(buf);
		return;
	}
	struct inf_context_params p;
	inf_context_params_default(&p);
	p.n_ctx = 8;
	p.n_threads = 1;
	struct inf_context *c = NULL;
	p.n_seq = 65;
	CHECK_EQ(inf_context_create(m, &p, &c, err), INF_EINVAL);
	CHECK_CONTAINS(err, "n_seq 65 is out of range [1, INF_MAX_SEQ 64]");
	p.n_seq = 0;   /* one */
	CHECK_EQ(inf_context_create(m, &p, &c, err), 0);
	struct inf_context_params got;
	inf_context_get_params(c, &got);
	CHECK_EQ(got.n_seq, 1);
	inf_context_free(c);
	CHECK_EQ(inf_context_bytes_seq(m, 8, INF_KV_F16, 1), inf_context_bytes(m, 8, INF_KV_F16));
	CHECK_EQ(inf_context_bytes_seq(m, 8, INF_KV_F16, 0), inf_context_bytes(m, 8, INF_KV_F16));
	/* three more caches of 2 layers x 8 positions x 32 (K, V) x 2 bytes at least */
	CHECK(inf_context_bytes_seq(m, 8, INF_KV_F16, 4) >= inf_context_bytes(m, 8, INF_KV_F16) + 3ull * 2 * 8 * 32 * 2 * 2);
	p.n_seq = 3;
	p.max_bytes = 100000;
	CHECK_EQ(inf_context_create(m, &p, &c, err), INF_ECONTEXT);
	CHECK_CONTAINS(err, "n_ctx 8 x n_seq 3 needs");
	p.max_bytes = 0;
	CHECK_EQ(inf_context_create(m, &p, &c, err), 0);
	if (!c) {
		inf_model_free(m);
		free(buf);
		return;
	}
	int32_t ids[300];
	for (int i = 0; i < 300; i++)
		ids[i] = i % 7;
	/* something to keep: seq 0 evaluated once */
	struct inf_batch_seq one = { 0, ids, 2 };
	CHECK_EQ(inf_evaluate_batch(c, &one, 1, err), 0);
	float *before = malloc(s.n_vocab * sizeof(float));
	memcpy(before, inf_seq_logits(c, 0), s.n_vocab * sizeof(float));
	struct inf_batch_seq b[4] = { { 0, ids, 1 }, { 3, ids, 1 } };
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), INF_EINVAL);
	CHECK_CONTAINS(err, "batch entry 1: seq 3 is out of range [0, n_seq 3)");
	b[1] = (struct inf_batch_seq){ 1, ids, 1 };
	b[2] = (struct inf_batch_seq){ 0, ids, 1 };
	CHECK_EQ(inf_evaluate_batch(c, b, 3, err), INF_EINVAL);
	CHECK_CONTAINS(err, "batch entries 0 and 2 both name seq 0");
	b[1] = (struct inf_batch_seq){ 1, ids, 0 };
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), INF_EINVAL);
	CHECK_CONTAINS(err, "batch entry 1: seq 1 has no tokens");
	b[0] = (struct inf_batch_seq){ 0, ids, 7 };   /* seq 0 holds 2: 2 + 7 > 8 */
	b[1] = (struct inf_batch_seq){ 1, ids, 7 };   /* fits: seq 1 is empty */
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), INF_ECONTEXT);
	CHECK_CONTAINS(err, "seq 0: 7 tokens after 2 do not fit in n_ctx 8");
	b[0] = (struct inf_batch_seq){ 0, ids, 1 };
	int32_t bad[2] = { 5, 300 };
	b[1] = (struct inf_batch_seq){ 2, bad, 2 };
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), INF_EINVAL);
	CHECK_CONTAINS(err, "seq 2: token id 300 at batch position 1 is out of range [0, 300)");
	CHECK_EQ(inf_evaluate_batch(c, b, 0, err), INF_EINVAL);
	CHECK_CONTAINS(err, "empty batch");
	/* nothing was evaluated by any of them */
	CHECK_EQ(inf_seq_n_past(c, 0), 2);
	CHECK_EQ(inf_seq_n_past(c, 1), 0);
	CHECK_EQ(inf_seq_n_past(c, 2), 0);
	CHECK(!memcmp(before, inf_seq_logits(c, 0), s.n_vocab * sizeof(float)));
	/* over INF_MAX_BATCH: a context that could hold it */
	inf_context_free(c);
	p.n_ctx = 256;
	CHECK_EQ(inf_context_create(m, &p, &c, err), 0);
	b[0] = (struct inf_batch_seq){ 0, ids, 200 };
	b[1] = (struct inf_batch_seq){ 1, ids, 100 };
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), INF_EINVAL);
	CHECK_CONTAINS(err, "the batch holds 300 tokens, above INF_MAX_BATCH 256");
	CHECK_EQ(inf_seq_n_past(c, 0), 0);
	b[1].n = 56;   /* exactly 256 */
	CHECK_EQ(inf_evaluate_batch(c, b, 2, err), 0);
	CHECK_EQ(inf_seq_n_past(c, 0), 200);
	CHECK_EQ(inf_seq_n_past(c, 1), 56);
	CHECK_EQ(inf_n_past(c), 200);   /* sequence 0 is the single-sequence calls' */
	CHECK(inf_logits(c) == inf_seq_logits(c, 0));
	/* truncate, the accessors */
	CHECK_EQ(inf_seq_truncate(c, 3, 0, err), INF_EINVAL);
	CHECK_CONTAINS(err, "seq 3 is out of range [0, n_seq 3)");
	CHECK_EQ(inf_seq_truncate(c, 1, 57, err), INF_EINVAL);
	CHECK_CONTAINS(err, "truncate seq 1 to 57: only 56 positions are evaluated");
	CHECK_EQ(inf_seq_truncate(c, 1, 10, err), 0);
	CHECK_EQ(inf_seq_n_past(c, 1), 10);
	CHECK_EQ(inf_seq_n_past(c, 0), 200);
	CHECK(inf_seq_logits(c, 3) == NULL);
	CHECK_EQ(inf_seq_n_past(c, 3), 0);
	/* sampling a sequence: greedy is its argmax; none without logits */
	struct inf_sampler_params sp;
	inf_sampler_params_default(&sp);
	sp.temperature = 0;
	struct inf_sampler *smp = NULL;
	char terr[INF_TEXT_ERR_MAX];
	CHECK(inf_sampler_create(&sp, s.n_vocab, &smp, terr) == 0);
	int32_t tok = -1;
	CHECK_EQ(inf_seq_sample(c, 1, smp, NULL, 0, &tok), 0);
	CHECK_EQ(tok, argmax(inf_seq_logits(c, 1), s.n_vocab));
	CHECK_EQ(inf_seq_sample(c, 2, smp, NULL, 0, &tok), INF_EINVAL);
	CHECK_EQ(inf_seq_sample(c, 3, smp, NULL, 0, &tok), INF_EINVAL);
	inf_sampler_free(smp);
	free(before);
	inf_context_free(c);
	inf_model_free(m);
	free(buf);
}

int main(void)
{
	RUN(four_token_lanes_equal_the_one_token_kernels);
	RUN(f32_sequences_are_batch_invariant);
	RUN(f16_sequences_are_batch_invariant);
	RUN(q8_0_sequences_are_batch_invariant);
	RUN(q4_0_sequences_are_batch_invariant);
	RUN(q4_k_sequences_are_batch_invariant);
	RUN(q6_k_sequences_are_batch_invariant);
	RUN(qwen2_q4_k_m_layout_sequences_are_batch_invariant);
	RUN(batch_errors_name_the_sequence_and_evaluate_nothing);
	return check_summary();
}
