/*
 * test_forward.c: the engine's forward pass against a plain reference
 * (below: straightforward loops, double accumulation, every weight
 * dequantized first, no SIMD, no KV cache, no activation quantization) on
 * random-weight models of each architecture and each tensor type, on every
 * ISA this CPU has and several thread counts; and the load/context errors.
 *
 * Tolerance (docs/inference.md): the largest logit difference, divided by
 * the largest reference logit magnitude, stays below 1e-4 for float weights
 * (F32/F16/BF16, whose activations stay float) and below 3e-2 for the
 * quantized types (their activations are quantized to 8 bits, as llama.cpp
 * does).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check.h"
#include "internal.h"
#include "model.h"

/* ---- the reference ---- */

struct ref {
	const struct inf_test_model_spec *s;
	struct inf_gguf *g;
	uint32_t hd, qd, kvd, n_rot;
	bool neox;
	bool kv_f16;   /* keys and values rounded to F16, as the engine's F16 cache holds them */
};

static void round_kv(const struct ref *r, double *v, uint32_t n)
{
	for (uint32_t i = 0; r->kv_f16 && i < n; i++)
		v[i] = inf_fp16_to_fp32(inf_fp32_to_fp16((float)v[i]));
}

static double *deq(const struct ref *r, const char *name)
{
	const struct inf_gguf_tensor *t = inf_gguf_tensor(r->g, name);
	if (!t)
		return NULL;
	float *f = malloc(t->n_elems * sizeof *f);
	double *d = malloc(t->n_elems * sizeof *d);
	inf_dequantize(t->type, t->data, f, t->n_elems);
	for (uint64_t i = 0; i < t->n_elems; i++)
		d[i] = f[i];
	free(f);
	return d;
}

static double *deqf(const struct ref *r, const char *fmt, uint32_t l)
{
	char name[64];
	snprintf(name, sizeof name, fmt, l);
	return deq(r, name);
}

/* out[rows] = W (rows x cols, row-major) x + b */
static void mv(double *out, const double *w, const double *x, uint32_t rows, uint32_t cols, const double *b)
{
	for (uint32_t i = 0; i < rows; i++) {
		double s = b ? b[i] : 0;
		for (uint32_t j = 0; j < cols; j++)
			s += w[(size_t)i * cols + j] * x[j];
		out[i] = s;
	}
}

static void norm(double *out, const double *x, const double *w, uint32_t n)
{
	double ss = 0;
	for (uint32_t i = 0; i < n; i++)
		ss += x[i] * x[i];
	double k = 1 / sqrt(ss / n + 1e-5);
	for (uint32_t i = 0; i < n; i++)
		out[i] = x[i] * k * w[i];
}

static void ref_rope(const struct ref *r, double *v, uint32_t heads, uint32_t pos, const double *freqs)
{
	for (uint32_t h = 0; h < heads; h++)
		for (uint32_t i = 0; i < r->n_rot / 2; i++) {
			double th = pos * pow(r->s->rope_base, -2.0 * i / r->n_rot);
			if (freqs)
				th /= freqs[i];
			double *x = v + (size_t)h * r->hd;
			uint32_t a = r->neox ? i : 2 * i, b = r->neox ? i + r->n_rot / 2 : 2 * i + 1;
			double x0 = x[a], x1 = x[b];
			x[a] = x0 * cos(th) - x1 * sin(th);
			x[b] = x0 * sin(th) + x1 * cos(th);
		}
}

/* Logits of the last of ids[0..n), everything recomputed. */
static void ref_forward(const struct ref *r, const int32_t *ids, uint32_t n, double *logits)
{
	const struct inf_test_model_spec *s = r->s;
	uint32_t dim = s->dim, ffn = s->ffn_dim;
	double *x = calloc((size_t)n * dim, sizeof *x), *xb = calloc(dim, sizeof *xb);
	double *q = calloc((size_t)n * r->qd, sizeof *q), *k = calloc((size_t)n * r->kvd, sizeof *k);
	double *v = calloc((size_t)n * r->kvd, sizeof *v), *att = calloc(r->qd, sizeof *att);
	double *o = calloc(dim, sizeof *o), *g = calloc(ffn, sizeof *g), *u = calloc(ffn, sizeof *u);
	double *sc = calloc(n, sizeof *sc);
	double *emb = deq(r, "token_embd.weight"), *freqs = deq(r, "rope_freqs.weight");
	for (uint32_t p = 0; p < n; p++)
		memcpy(x + (size_t)p * dim, emb + (size_t)ids[p] * dim, dim * sizeof *x);
	for (uint32_t l = 0; l < s->n_layer; l++) {
		double *an = deqf(r, "blk.%u.attn_norm.weight", l), *wq = deqf(r, "blk.%u.attn_q.weight", l);
		double *wk = deqf(r, "blk.%u.attn_k.weight", l), *wv = deqf(r, "blk.%u.attn_v.weight", l);
		double *bq = deqf(r, "blk.%u.attn_q.bias", l), *bk = deqf(r, "blk.%u.attn_k.bias", l);
		double *bv = deqf(r, "blk.%u.attn_v.bias", l), *wo = deqf(r, "blk.%u.attn_output.weight", l);
		double *fn = deqf(r, "blk.%u.ffn_norm.weight", l), *wg = deqf(r, "blk.%u.ffn_gate.weight", l);
		double *wu = deqf(r, "blk.%u.ffn_up.weight", l), *wd = deqf(r, "blk.%u.ffn_down.weight", l);
		for (uint32_t p = 0; p < n; p++) {
			norm(xb, x + (size_t)p * dim, an, dim);
			mv(q + (size_t)p * r->qd, wq, xb, r->qd, dim, bq);
			mv(k + (size_t)p * r->kvd, wk, xb, r->kvd, dim, bk);
			mv(v + (size_t)p * r->kvd, wv, xb, r->kvd, dim, bv);
			ref_rope(r, q + (size_t)p * r->qd, s->n_head, p, freqs);
			ref_rope(r, k + (size_t)p * r->kvd, s->n_head_kv, p, freqs);
			round_kv(r, k + (size_t)p * r->kvd, r->kvd);
			round_kv(r, v + (size_t)p * r->kvd, r->kvd);
		}
		for (uint32_t p = 0; p < n; p++) {
			for (uint32_t h = 0; h < s->n_head; h++) {
				uint32_t kh = h / (s->n_head / s->n_head_kv);
				double mx = -INFINITY, sum = 0;
				for (uint32_t t = 0; t <= p; t++) {
					double d = 0;
					for (uint32_t i = 0; i < r->hd; i++)
						d += q[(size_t)p * r->qd + h * r->hd + i] * k[(size_t)t * r->kvd + kh * r->hd + i];
					sc[t] = d / sqrt(r->hd);
					mx = fmax(mx, sc[t]);
				}
				for (uint32_t t = 0; t <= p; t++)
					sum += sc[t] = exp(sc[t] - mx);
				for (uint32_t i = 0; i < r->hd; i++) {
					double a = 0;
					for (uint32_t t = 0; t <= p; t++)
						a += sc[t] / sum * v[(size_t)t * r->kvd + kh * r->hd + i];
					att[h * r->hd + i] = a;
				}
			}
			mv(o, wo, att, dim, r->qd, NULL);
			for (uint32_t i = 0; i < dim; i++)
				x[(size_t)p * dim + i] += o[i];
			norm(xb, x + (size_t)p * dim, fn, dim);
			mv(g, wg, xb, ffn, dim, NULL);
			mv(u, wu, xb, ffn, dim, NULL);
			for (uint32_t i = 0; i < ffn; i++)
				g[i] = g[i] / (1 + exp(-g[i])) * u[i];
			mv(o, wd, g, dim, ffn, NULL);
			for (uint32_t i = 0; i < dim; i++)
				x[(size_t)p * dim + i] += o[i];
		}
		free(an); free(wq); free(wk); free(wv); free(bq); free(bk); free(bv); free(wo);
		free(fn); free(wg); free(wu); free(wd);
	}
	double *on = deq(r, "output_norm.weight"), *out = deq(r, "output.weight");
	norm(xb, x + (size_t)(n - 1) * dim, on, dim);
	mv(logits, out ? out : emb, xb, s->n_vocab, dim, NULL);
	free(on); free(out); free(emb); free(freqs);
	free(x); free(xb); free(q); free(k); free(v); free(att); free(o); free(g); free(u); free(sc);
}

/* ---- the comparison ---- */

static uint8_t *build(const struct inf_test_model_spec *s, size_t *len)
{
	struct inf_gguf_writer *w = inf_test_model_build(s);
	uint8_t *p = w ? inf_gguf_writer_finish(w, len) : NULL;
	inf_gguf_writer_free(w);
	/* 64-byte aligned, as inf_model_load_memory requires */
	uint8_t *a = p ? aligned_alloc(64, (*len + 63) / 64 * 64) : NULL;
	if (a)
		memcpy(a, p, *len);
	free(p);
	return a;
}

static double worst_ratio;   /* across a model, for the log */

/* max |got - want| / max |want|; *at: where the largest error is */
static double error_ratio(const float *got, const double *want, uint32_t n, uint32_t *at, double *err_out,
			  double *mx_out)
{
	double mx = 0, err = 0;
	for (uint32_t i = 0; i < n; i++) {
		mx = fmax(mx, fabs(want[i]));
		if (fabs(got[i] - want[i]) > err) {
			err = fabs(got[i] - want[i]);
			*at = i;
		}
	}
	*err_out = err;
	*mx_out = mx;
	return err / mx;
}

static bool close_enough(const float *got, const double *want, uint32_t n, double tol, const char *what)
{
	double mx, err;
	uint32_t at = 0;
	double ratio = error_ratio(got, want, n, &at, &err, &mx);
	worst_ratio = fmax(worst_ratio, ratio);
	if (!(ratio <= tol)) {
		fprintf(stderr, "%s: logit %u: %.6f vs reference %.6f (error %.3g of max %.3g, tolerance %.3g)\n",
			what, at, got[at], want[at], err, mx, tol);
		return false;
	}
	return true;
}

static void compare(struct inf_test_model_spec *s)
{
	size_t len;
	uint8_t *buf = build(s, &len);
	CHECK(buf != NULL);
	struct ref r = { .s = s };
	char err[INF_ERR_MAX] = "";
	CHECK(inf_gguf_parse(buf, len, &r.g, err) == 0);
	r.hd = s->dim / s->n_head;
	r.qd = r.hd * s->n_head;
	r.kvd = r.hd * s->n_head_kv;
	r.n_rot = r.hd;
	r.neox = !strcmp(s->arch, "qwen2");
	enum { N = 8, PROMPT = 5 };
	int32_t ids[N];
	for (int i = 0; i < N; i++)
		ids[i] = (int32_t)((i * 7919 + s->seed * 31) % s->n_vocab);
	/* want[kv][n]: the reference logits after n tokens, with the K and V the
	 * F16 (kv 0) or F32 (kv 1) cache holds */
	double *want[2][N + 1];
	for (int kv = 0; kv < 2; kv++) {
		r.kv_f16 = kv == INF_KV_F16;
		for (int n = PROMPT; n <= N; n++) {
			want[kv][n] = malloc(s->n_vocab * sizeof(double));
			ref_forward(&r, ids, (uint32_t)n, want[kv][n]);
		}
	}
	bool flt = s->wtype == INF_TYPE_F32 || s->wtype == INF_TYPE_F16 || s->wtype == INF_TYPE_BF16;
	double tol = flt ? 1e-4 : 3e-2;
	struct inf_model *m = NULL;
	CHECK(inf_model_load_memory(buf, len, NULL, &m, err) == 0);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	worst_ratio = 0;
	for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
		if (!inf_isa_supported((enum inf_isa)isa))
			continue;
		for (uint32_t threads = 1; threads <= 3; threads += 2)
		for (int kv = 0; kv < 2; kv++) {
			struct inf_context_params p;
			inf_context_params_default(&p);
			p.n_ctx = 16;
			p.n_threads = threads;
			p.isa = (enum inf_isa)isa;
			p.kv_type = (enum inf_kv_type)kv;
			struct inf_context *c = NULL;
			CHECK(inf_context_create(m, &p, &c, err) == 0);
			if (!c)
				continue;
			char what[128];
			snprintf(what, sizeof what, "%s %s %s %u threads, %s cache", s->arch, inf_type_name(s->wtype),
				 inf_isa_name((enum inf_isa)isa), threads, inf_kv_type_name(p.kv_type));
			/* the prompt as one batch, then one token at a time */
			CHECK(inf_evaluate(c, ids, PROMPT, err) == 0);
			CHECK(close_enough(inf_logits(c), want[kv][PROMPT], s->n_vocab, tol, what));
			for (int n = PROMPT + 1; n <= N; n++) {
				CHECK(inf_evaluate(c, ids + n - 1, 1, err) == 0);
				CHECK(close_enough(inf_logits(c), want[kv][n], s->n_vocab, tol, what));
			}
			/* with float weights the engine is far closer to the reference of
			 * its own cache type than to the other's: the type is really used */
			if (s->wtype == INF_TYPE_F32) {
				uint32_t at;
				double e, mx;
				double own = error_ratio(inf_logits(c), want[kv][N], s->n_vocab, &at, &e, &mx);
				double other = error_ratio(inf_logits(c), want[!kv][N], s->n_vocab, &at, &e, &mx);
				if (!(own * 10 < other))
					fprintf(stderr, "%s: error %.3g to its own cache type's reference, %.3g to the "
						"other's\n", what, own, other);
				CHECK(own * 10 < other);
			}
			/* and again from a truncated cache: same positions, same logits */
			CHECK(inf_truncate(c, 2, err) == 0);
			CHECK(inf_evaluate(c, ids + 2, N - 2, err) == 0);
			CHECK(close_enough(inf_logits(c), want[kv][N], s->n_vocab, tol, what));
			inf_context_free(c);
		}
	}
	printf("     %s %s: worst logit error %.3g of the largest logit (tolerance %.3g)\n", s->arch,
	       inf_type_name(s->wtype), worst_ratio, tol);
	inf_model_free(m);
out:
	for (int kv = 0; kv < 2; kv++)
		for (int n = PROMPT; n <= N; n++)
			free(want[kv][n]);
	inf_gguf_free(r.g);
	free(buf);
}

static const uint32_t types[] = { INF_TYPE_F32, INF_TYPE_F16, INF_TYPE_BF16, INF_TYPE_Q8_0,
				  INF_TYPE_Q4_0, INF_TYPE_Q4_K, INF_TYPE_Q6_K };

static void spec_for(struct inf_test_model_spec *s, const char *arch, uint32_t type)
{
	inf_test_model_spec_default(s);
	s->arch = arch;
	s->wtype = s->embd_type = type;
	s->with_vocab = false;
	s->seed = type + 1;
	if (type == INF_TYPE_Q4_K || type == INF_TYPE_Q6_K) {   /* rows of whole 256-blocks */
		s->dim = 256;
		s->ffn_dim = 512;
	}
}

static void llama_matches_reference_for_every_type(void)
{
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		struct inf_test_model_spec s;
		spec_for(&s, "llama", types[t]);
		compare(&s);
	}
}

static void qwen2_matches_reference_for_every_type(void)
{
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		struct inf_test_model_spec s;
		spec_for(&s, "qwen2", types[t]);
		compare(&s);
	}
}

static void llama3_rope_freqs_tied_output_and_mixed_types_match_reference(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "llama", INF_TYPE_F32);
	s.rope_freqs = true;
	s.tied = true;
	s.rope_base = 500000;
	s.n_head_kv = 1;      /* GQA: four query heads share one kv head */
	compare(&s);
	spec_for(&s, "llama", INF_TYPE_Q8_0);
	s.tied = true;
	s.embd_type = INF_TYPE_Q6_K;     /* mixed types, as in Q4_K_M files */
	s.dim = 256;
	compare(&s);
	spec_for(&s, "qwen2", INF_TYPE_Q4_K);
	s.v_down_type = INF_TYPE_Q6_K;   /* Q4_K_M's layout: same activation format */
	compare(&s);
	spec_for(&s, "llama", INF_TYPE_Q4_0);
	s.dim = s.ffn_dim = 256;
	s.v_down_type = INF_TYPE_F16;    /* q, k in Q8 activations, v in floats: two jobs */
	compare(&s);
}

/* ---- errors ---- */

static struct inf_model *load_spec(const struct inf_test_model_spec *s, uint8_t **buf, int *rc, char *err)
{
	size_t len;
	*buf = build(s, &len);
	struct inf_model *m = NULL;
	*rc = inf_model_load_memory(*buf, len, NULL, &m, err);
	return m;
}

static void context_above_trained_or_memory_is_refused_with_numbers(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "llama", INF_TYPE_F32);
	uint8_t *buf;
	int rc;
	char err[INF_ERR_MAX] = "";
	struct inf_model *m = load_spec(&s, &buf, &rc, err);
	CHECK(m != NULL);
	if (!m) {
		free(buf);
		return;
	}
	struct inf_context_params p;
	inf_context_params_default(&p);
	struct inf_context *c = NULL;
	p.n_ctx = 257;
	CHECK_EQ(inf_context_create(m, &p, &c, err), INF_ECONTEXT);
	CHECK_CONTAINS(err, "n_ctx 257");
	CHECK_CONTAINS(err, "trained context of 256");
	p.n_ctx = 256;
	p.max_bytes = 100000;
	CHECK_EQ(inf_context_create(m, &p, &c, err), INF_ECONTEXT);
	CHECK_CONTAINS(err, "above the 0 MiB allowed");
	p.max_bytes = 0;
	p.n_threads = 300;
	CHECK_EQ(inf_context_create(m, &p, &c, err), INF_EINVAL);
	CHECK_CONTAINS(err, "n_threads 300");
	p.n_threads = 2;
	p.n_ctx = 4;
	CHECK_EQ(inf_context_create(m, &p, &c, err), 0);
	int32_t ids[5] = { 1, 2, 3, 4, 5 };
	CHECK_EQ(inf_evaluate(c, ids, 5, err), INF_ECONTEXT);
	CHECK_CONTAINS(err, "n_ctx 4");
	ids[1] = 300;
	CHECK_EQ(inf_evaluate(c, ids, 2, err), INF_EINVAL);
	CHECK_CONTAINS(err, "token id 300");
	CHECK_EQ(inf_evaluate(c, ids, 0, err), INF_EINVAL);
	CHECK_EQ(inf_n_past(c), 0);
	inf_cancel(c);            /* a cancel before a call does not carry over */
	CHECK_EQ(inf_evaluate(c, ids, 1, err), 0);
	CHECK_EQ(inf_truncate(c, 5, err), INF_EINVAL);
	inf_context_free(c);
	inf_model_free(m);
	free(buf);
}

/* A forward pass that sees the flag between layers stops there. */
static void cancel_stops_a_forward_pass(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "llama", INF_TYPE_F32);
	uint8_t *buf;
	int rc;
	char err[INF_ERR_MAX] = "";
	struct inf_model *m = load_spec(&s, &buf, &rc, err);
	struct inf_context_params p;
	inf_context_params_default(&p);
	p.n_ctx = 8;
	struct inf_context *c = NULL;
	CHECK(m && inf_context_create(m, &p, &c, err) == 0);
	if (c) {
		int32_t ids[2] = { 1, 2 };
		atomic_store(&c->cancel, true);    /* as if set by another thread mid-call */
		CHECK_EQ(inf_forward(c, ids, 2, err), INF_ECANCELED);
		CHECK_EQ(inf_n_past(c), 0);
	}
	inf_context_free(c);
	inf_model_free(m);
	free(buf);
}

static void unsupported_architecture_and_type_are_named(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "gemma", INF_TYPE_F32);
	uint8_t *buf;
	int rc;
	char err[INF_ERR_MAX] = "";
	struct inf_model *m = load_spec(&s, &buf, &rc, err);
	CHECK(m == NULL);
	CHECK_EQ(rc, INF_EUNSUPPORTED);
	CHECK_CONTAINS(err, "architecture 'gemma' is not supported");
	free(buf);

	/* a Q5_0 weight: the reader knows its size, the engine refuses it */
	struct inf_gguf_writer *w = inf_gguf_writer_new(3, 0);
	inf_gguf_w_str(w, "general.architecture", "llama");
	inf_gguf_w_u32(w, "llama.context_length", 64);
	inf_gguf_w_u32(w, "llama.embedding_length", 32);
	inf_gguf_w_u32(w, "llama.block_count", 1);
	inf_gguf_w_u32(w, "llama.feed_forward_length", 32);
	inf_gguf_w_u32(w, "llama.attention.head_count", 2);
	inf_gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
	static uint8_t zero[32 * 300 * 4];
	uint64_t emb[2] = { 32, 300 }, sq[2] = { 32, 32 }, vec[1] = { 32 };
	inf_gguf_w_tensor(w, "token_embd.weight", INF_TYPE_F32, 2, emb, zero);
	inf_gguf_w_tensor(w, "blk.0.attn_norm.weight", INF_TYPE_F32, 1, vec, zero);
	inf_gguf_w_tensor(w, "blk.0.attn_q.weight", INF_TYPE_Q5_0, 2, sq, zero);
	size_t len;
	uint8_t *p = inf_gguf_writer_finish(w, &len);
	inf_gguf_writer_free(w);
	buf = aligned_alloc(64, (len + 63) / 64 * 64);
	memcpy(buf, p, len);
	free(p);
	CHECK_EQ(inf_model_load_memory(buf, len, NULL, &m, err), INF_EUNSUPPORTED);
	CHECK_CONTAINS(err, "'blk.0.attn_q.weight' has type Q5_0");
	free(buf);

	spec_for(&s, "llama", INF_TYPE_F32);
	s.n_layer = 1;
	struct inf_gguf_writer *w2 = inf_test_model_build(&s);
	/* same model, but the writer's metadata says 2 layers: blk.1 missing */
	inf_gguf_w_u32(w2, "llama.block_count", 2);
	p = inf_gguf_writer_finish(w2, &len);
	inf_gguf_writer_free(w2);
	buf = aligned_alloc(64, (len + 63) / 64 * 64);
	memcpy(buf, p, len);
	free(p);
	CHECK_EQ(inf_model_load_memory(buf, len, NULL, &m, err), INF_EFORMAT);
	CHECK_CONTAINS(err, "'llama.block_count' appears twice");
	free(buf);
}

static void model_info_describes_the_file(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "qwen2", INF_TYPE_Q8_0);
	uint8_t *buf;
	int rc;
	char err[INF_ERR_MAX] = "";
	struct inf_model *m = load_spec(&s, &buf, &rc, err);
	CHECK(m != NULL);
	if (m) {
		struct inf_model_info i;
		inf_model_get_info(m, &i);
		CHECK(!strcmp(i.arch, "qwen2"));
		CHECK_EQ(i.dim, 64);
		CHECK_EQ(i.n_layer, 2);
		CHECK_EQ(i.n_head_kv, 2);
		CHECK_EQ(i.head_dim, 16);
		CHECK_EQ(i.n_vocab, 300);
		CHECK_EQ(i.type_counts[INF_TYPE_Q8_0], 2 * 7 + 2);
		CHECK_EQ(i.type_counts[INF_TYPE_F32], 2 * 5 + 1);
		CHECK(!i.tied_output);
		/* the F16 cache is half the F32 one: 2 layers x 256 x 32 x 2 (K, V) */
		CHECK_EQ(inf_context_bytes(m, 256, INF_KV_F32) - inf_context_bytes(m, 256, INF_KV_F16),
			 2ull * 2 * 256 * 32 * 2);
		inf_model_free(m);
	}
	free(buf);
}

struct gen_state {
	struct inf_context *c;
	int calls, cancel_at;
	size_t bytes;
};

static int on_text(void *user, const char *text, size_t len, int32_t token)
{
	struct gen_state *g = user;
	(void)text;
	(void)token;
	g->bytes += len;
	if (++g->calls == g->cancel_at)
		inf_cancel(g->c);   /* as another thread would, mid-generation */
	return 0;
}

static void generate_streams_is_repeatable_and_cancels(void)
{
	struct inf_test_model_spec s;
	spec_for(&s, "qwen2", INF_TYPE_Q8_0);
	s.with_vocab = true;
	uint8_t *buf;
	int rc;
	char err[INF_ERR_MAX] = "";
	struct inf_model *m = load_spec(&s, &buf, &rc, err);
	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "%s\n", err);
		free(buf);
		return;
	}
	CHECK(inf_model_has_tokenizer(m));
	struct inf_context_params cp;
	inf_context_params_default(&cp);
	cp.n_ctx = 64;
	cp.seed = 1234;
	struct inf_context *c = NULL;
	CHECK(inf_context_create(m, &cp, &c, err) == 0);
	struct inf_generate_params p;
	inf_generate_params_default(&p);
	p.prompt = "the rain";
	p.max_tokens = 10;
	p.sampling.temperature = 1.0;
	struct gen_state g = { .c = c };
	p.on_text = on_text;
	p.user = &g;
	struct inf_generate_result a, b;
	CHECK_EQ(inf_generate(c, &p, &a, err), 0);
	CHECK_EQ(a.seed, 1234);                /* the context's seed by default */
	CHECK(a.n_ids >= 1 && a.n_ids <= 10);
	CHECK_EQ(g.bytes, a.text_len);         /* streamed = returned */
	CHECK_EQ(inf_n_past(c), a.n_prompt + a.n_ids - (a.n_ids == 10 ? 1 : 0));
	CHECK(inf_truncate(c, 0, err) == 0);
	g.bytes = 0;
	CHECK_EQ(inf_generate(c, &p, &b, err), 0);
	CHECK_EQ(a.n_ids, b.n_ids);
	CHECK(a.n_ids == b.n_ids && !memcmp(a.ids, b.ids, a.n_ids * sizeof *a.ids));
	inf_generate_result_free(&a);
	inf_generate_result_free(&b);

	/* cancel from the callback: the next token is not evaluated */
	CHECK(inf_truncate(c, 0, err) == 0);
	p.sampling.temperature = 0;
	p.max_tokens = 20;
	g = (struct gen_state){ .c = c, .cancel_at = 2 };
	rc = inf_generate(c, &p, &a, err);
	CHECK(g.calls >= 2);
	CHECK_EQ(rc, INF_ECANCELED);
	CHECK(a.stop_reason && !strcmp(a.stop_reason, "canceled"));
	CHECK(a.n_ids >= 2 && a.n_ids < 20);
	inf_generate_result_free(&a);

	/* out-of-range settings are named */
	CHECK(inf_truncate(c, 0, err) == 0);
	p.max_tokens = 65;
	CHECK_EQ(inf_generate(c, &p, &a, err), INF_EINVAL);
	CHECK_CONTAINS(err, "max_tokens 65");
	p.max_tokens = 4;
	p.sampling.top_p = 0;
	CHECK_EQ(inf_generate(c, &p, &a, err), INF_EINVAL);
	CHECK_CONTAINS(err, "top_p");
	p.sampling.top_p = 1;
	p.system = "be brief";
	CHECK_EQ(inf_generate(c, &p, &a, err), INF_EINVAL);
	CHECK_CONTAINS(err, "needs chat");
	p.chat = true;
	CHECK_EQ(inf_generate(c, &p, &a, err), 0);   /* the model's ChatML template */
	CHECK(a.chat_family && !strcmp(a.chat_family, "chatml"));
	CHECK(a.n_prompt > 10);
	inf_generate_result_free(&a);
	inf_context_free(c);
	inf_model_free(m);
	free(buf);
}

/* A model mapped from a file and packed at load: the mapped pages of the
 * packed rows are released, and a context on an ISA without the packed
 * kernels reads them again from the file and gets exactly what the same
 * model unpacked gives; the packed kernels agree within the tolerance. */
static void packed_file_model_matches_unpacked_on_every_isa(void)
{
	for (int ty = 0; ty < 4; ty++) {
		static const uint32_t packable[] = { INF_TYPE_Q4_0, INF_TYPE_Q8_0, INF_TYPE_Q4_K, INF_TYPE_Q6_K };
		struct inf_test_model_spec s;
		spec_for(&s, "llama", packable[ty]);
		s.dim = 256;           /* matrices of several pages, so pages are released */
		s.ffn_dim = 512;
		size_t len;
		uint8_t *buf = build(&s, &len);
		char path[] = "/tmp/tether_packed_XXXXXX", err[INF_ERR_MAX] = "";
		int fd = mkstemp(path);
		CHECK(fd >= 0 && buf);
		if (fd < 0 || !buf) {
			free(buf);
			return;
		}
		CHECK(write(fd, buf, len) == (ssize_t)len);
		close(fd);
		struct inf_model *packed = NULL, *plain = NULL;
		struct inf_model_options np = { .no_pack = true };
		CHECK(inf_model_load(path, NULL, &packed, err) == 0);
		CHECK(inf_model_load_memory(buf, len, &np, &plain, err) == 0);
		unlink(path);
		if (!packed || !plain) {
			fprintf(stderr, "%s\n", err);
			inf_model_free(packed);
			inf_model_free(plain);
			free(buf);
			return;
		}
		struct inf_model_info pi, qi;
		inf_model_get_info(packed, &pi);
		inf_model_get_info(plain, &qi);
		CHECK_EQ(qi.packed_bytes, 0u);
		const struct inf_kernels *k = inf_kernels_get(INF_ISA_AUTO);
		CHECK(k->mm16_q8 ? pi.packed_bytes > 0 : pi.packed_bytes == 0);
		int32_t ids[6] = { 1, 7, 42, 99, 3, 250 };
		for (int isa = INF_ISA_PORTABLE; isa <= INF_ISA_AVX512; isa++) {
			if (!inf_isa_supported((enum inf_isa)isa))
				continue;
			float *lg[2];
			struct inf_model *ms[2] = { packed, plain };
			for (int i = 0; i < 2; i++) {
				struct inf_context_params p;
				inf_context_params_default(&p);
				p.n_ctx = 8;
				p.n_threads = 2;
				p.isa = (enum inf_isa)isa;
				struct inf_context *c = NULL;
				lg[i] = calloc(s.n_vocab, sizeof(float));
				CHECK(inf_context_create(ms[i], &p, &c, err) == 0);
				if (!c)
					continue;
				CHECK(inf_evaluate(c, ids, 4, err) == 0);
				CHECK(inf_evaluate(c, ids + 4, 1, err) == 0);
				memcpy(lg[i], inf_logits(c), s.n_vocab * sizeof(float));
				inf_context_free(c);
			}
			bool packed_path = isa == INF_ISA_AVX512 && pi.packed_bytes;
			float mx = 0, err_max = 0;
			for (uint32_t v = 0; v < s.n_vocab; v++) {
				mx = fmaxf(mx, fabsf(lg[1][v]));
				err_max = fmaxf(err_max, fabsf(lg[0][v] - lg[1][v]));
			}
			printf("     %s %s: largest logit %.4g, packed vs unpacked differ by up to %.3g\n",
			       inf_type_name(packable[ty]), inf_isa_name((enum inf_isa)isa), mx, err_max);
			/* the packed kernels sum in another order; with 8-bit
			 * activations an ulp can flip a quant's rounding in the next
			 * layer, so the paths differ like the ISAs do (test tolerance) */
			if (packed_path)
				CHECK(err_max <= 3e-2f * mx);
			else
				CHECK(memcmp(lg[0], lg[1], s.n_vocab * sizeof(float)) == 0);
			free(lg[0]);
			free(lg[1]);
		}
		inf_model_free(packed);
		inf_model_free(plain);
		free(buf);
	}
}

int main(void)
{
	RUN(llama_matches_reference_for_every_type);
	RUN(qwen2_matches_reference_for_every_type);
	RUN(llama3_rope_freqs_tied_output_and_mixed_types_match_reference);
	RUN(context_above_trained_or_memory_is_refused_with_numbers);
	RUN(cancel_stops_a_forward_pass);
	RUN(unsupported_architecture_and_type_are_named);
	RUN(model_info_describes_the_file);
	RUN(generate_streams_is_repeatable_and_cancels);
	RUN(packed_file_model_matches_unpacked_on_every_isa);
	return check_summary();
}
