/*
 * cpu/forward.c: the llama/qwen2 forward pass on the CPU, read top to bottom
 * in inf_cpu_forward() (the CPU backend's forward operation). A batch of
 * tokens goes through every matrix together (each weight row is read from
 * the mmap once per batch and multiplied with every token's activations);
 * one token is the matrix-vector case of the same code. Activations are
 * quantized to 8 bits for quantized weights.
 *
 * A batch holds runs of several sequences (struct inf_run): every token
 * goes through the matrices together, each with its own position, and
 * attends to its own sequence's cache. Batch invariance (docs/inference.md,
 * "Several sequences"): what a token computes never depends on the other
 * tokens of the batch, its place in the batch or the thread count:
 *  - a weight row is multiplied by the same kernel whatever the batch: the
 *    row's path (packed 16-row group, F16 four-row tile, or one row) is
 *    fixed by the row's index alone (chunks start at multiples of the
 *    group), and each token's lane of the multi-token kernels (dot4_*,
 *    mm16_*, mm4_f16) sums in exactly the order of the one-token kernel;
 *  - norms, rope, activation quantization and SiLU work per token;
 *  - every token's keys and values are stored in the cache before any
 *    token attends, and attention reads them back from the cache, with one
 *    kernel whose order depends only on the attended length.
 */
#include <math.h>
#include <string.h>

#include "cpu.h"

/* ---- matrix multiply: y[t][r] = dot(W row r, x[t]) (+ bias[r]) ---- */

/* Up to three matrices that read the same activations (q, k, v; gate, up)
 * go in one job, so a layer waits on five barriers instead of eight. */
#define MM_MAX 3

struct mm_job {
	const struct inf_kernels *k;
	uint32_t n_mats;
	const struct inf_gguf_tensor *w[MM_MAX];  /* (rows, cols), cols alike */
	float *y[MM_MAX];                         /* (n, rows of w) */
	const float *bias[MM_MAX];                /* (rows) or NULL */
	uint32_t rows_per_chunk[MM_MAX];
	uint32_t first_chunk[MM_MAX + 1];         /* matrix m's chunks: [first[m], first[m + 1]) */
	const uint8_t *x;                         /* n rows of x_stride bytes, in the weights' format */
	size_t x_stride;
	uint32_t n;
};

#define MM_TILE_ROWS 16

/* Rows r0..r1 of matrix m against every token of the job. */
static void mm_rows(const struct mm_job *j, uint32_t m, uint64_t r0, uint64_t r1)
{
	const struct inf_gguf_tensor *w = j->w[m];
	uint64_t rows = w->ne[1];
	uint32_t cols = (uint32_t)w->ne[0];
	size_t row_bytes = (size_t)inf_row_bytes(w->type, cols);
	const uint8_t *base = w->data;
	float *y = j->y[m];
	const float *bias = j->bias[m];
	bool q8 = w->type == INF_TYPE_Q8_0 || w->type == INF_TYPE_Q4_0;
	void (*dot4k)(const void *, const uint8_t *, size_t, uint32_t, float *) =
		w->type == INF_TYPE_Q4_K ? j->k->dot4_q4_k : w->type == INF_TYPE_Q6_K ? j->k->dot4_q6_k : NULL;
	bool f16 = w->type == INF_TYPE_F16 && j->k->dot4_f16;
	bool four = (q8 && j->k->dot4_q8) || dot4k || f16;
	/* Packed rows (a chunk starts at a multiple of 16 there): sixteen rows
	 * and every token per call. */
	bool pk = w->type == INF_TYPE_Q4_K   ? j->k->mm16_q4k != NULL
		  : w->type == INF_TYPE_Q6_K ? j->k->mm16_q6k != NULL
					     : j->k->mm16_q8 != NULL;
	if (w->packed && pk && r0 < w->packed_rows) {
		uint64_t pe = r1 < w->packed_rows ? r1 : w->packed_rows;
		size_t group = inf_packed_group_bytes(w->type, cols);
		for (uint64_t r = r0; r < pe; r += 16) {
			const uint8_t *g = (const uint8_t *)w->packed + r / 16 * group;
			if (w->type == INF_TYPE_Q4_K)
				j->k->mm16_q4k(g, j->x, j->x_stride, j->n, cols, y + r, rows);
			else if (w->type == INF_TYPE_Q6_K)
				j->k->mm16_q6k(g, j->x, j->x_stride, j->n, cols, y + r, rows);
			else
				j->k->mm16_q8(g, w->type, j->x, j->x_stride, j->n, cols, y + r, rows);
			for (uint32_t t = 0; bias && t < j->n; t++)
				for (int k = 0; k < 16; k++)
					y[(size_t)t * rows + r + k] += bias[r + k];
		}
		r0 = pe;
	}
	/* F16 in register tiles of four rows (the rest below) */
	if (w->type == INF_TYPE_F16 && j->k->mm4_f16 && cols % 16 == 0) {
		for (; r0 + 4 <= r1; r0 += 4) {
			j->k->mm4_f16(base + r0 * row_bytes, row_bytes, j->x, j->x_stride, j->n, cols, y + r0, rows);
			for (uint32_t t = 0; bias && t < j->n; t++)
				for (int k = 0; k < 4; k++)
					y[(size_t)t * rows + r0 + k] += bias[r0 + k];
		}
	}
	/* Tiles of MM_TILE_ROWS rows: each four tokens' activations are read
	 * from L2 once per tile, not once per row, and the tile's rows stay in
	 * L1 across the batch. */
	for (uint64_t rt = r0; rt < r1; rt += MM_TILE_ROWS) {
		uint64_t re = rt + MM_TILE_ROWS < r1 ? rt + MM_TILE_ROWS : r1;
		uint32_t t = 0;
		for (; four && t + 4 <= j->n; t += 4)
			for (uint64_t r = rt; r < re; r++) {
				const uint8_t *wr = base + r * row_bytes;
				float b = bias ? bias[r] : 0, o[4];
				if (q8)
					j->k->dot4_q8(wr, w->type, j->x + t * j->x_stride, j->x_stride, cols, o);
				else if (f16)
					j->k->dot4_f16((const uint16_t *)wr, j->x + t * j->x_stride, j->x_stride, cols, o);
				else
					dot4k(wr, j->x + t * j->x_stride, j->x_stride, cols, o);
				for (int k = 0; k < 4; k++)
					y[(size_t)(t + k) * rows + r] = o[k] + b;
			}
		for (; t < j->n; t++)
			for (uint64_t r = rt; r < re; r++) {
				const uint8_t *wr = base + r * row_bytes;
				float b = bias ? bias[r] : 0;
				y[(size_t)t * rows + r] = inf_dot(j->k, w->type, wr, j->x + t * j->x_stride, cols) + b;
			}
	}
}

static void mm_chunk(void *arg, uint32_t chunk, uint32_t worker)
{
	(void)worker;
	const struct mm_job *j = arg;
	uint32_t m = 0;
	while (chunk >= j->first_chunk[m + 1])
		m++;
	uint64_t rows = j->w[m]->ne[1];
	uint64_t r0 = (uint64_t)(chunk - j->first_chunk[m]) * j->rows_per_chunk[m];
	uint64_t r1 = r0 + j->rows_per_chunk[m] < rows ? r0 + j->rows_per_chunk[m] : rows;
	mm_rows(j, m, r0, r1);
}

/* Rows per chunk: at least MM_CHUNK_BYTES of weights times tokens and at
 * most MM_CHUNKS_PER_THREAD chunks per thread and matrix. Claiming a chunk
 * moves a cache line between the cores (a few hundred nanoseconds on this
 * VM), so chunks must be long next to that, yet many enough that a thread
 * that falls behind leaves little for the others to wait on. */
#define MM_CHUNK_BYTES (64u << 10)
#define MM_CHUNKS_PER_THREAD 8

static uint32_t mm_rows_per_chunk(size_t row_bytes, uint32_t n, uint64_t rows, uint32_t nth)
{
	uint64_t r = MM_CHUNK_BYTES / (row_bytes * (1 + (uint64_t)n / 4));
	uint64_t even = rows / ((uint64_t)MM_CHUNKS_PER_THREAD * nth);
	if (r < even)
		r = even;
	if (r < 4)
		r = 4;
	if (r > rows)
		r = rows;
	return (uint32_t)r;
}

struct quant_job {
	const struct inf_kernels *k;
	enum inf_act_kind kind;
	const float *x;
	uint32_t n, cols;
	uint8_t *out;
	size_t stride;
};

static void quant_chunk(void *arg, uint32_t t, uint32_t worker)
{
	(void)worker;
	const struct quant_job *j = arg;
	{
		if (j->kind == INF_ACT_Q8)
			j->k->quantize_q8(j->x + (size_t)t * j->cols, (struct inf_act_q8 *)(j->out + t * j->stride), j->cols);
		else
			j->k->quantize_q8k(j->x + (size_t)t * j->cols, (struct inf_act_q8k *)(j->out + t * j->stride), j->cols);
	}
}

/* Quantizes x (n rows of cols floats) for weights of `kind` into c->act,
 * unless it already holds exactly that. */
static void quantize_act(struct inf_cpu_context *c, enum inf_act_kind kind, const float *x, uint32_t n, uint32_t cols)
{
	if (c->act_src == x && c->act_kind == kind)
		return;
	struct quant_job q = { c->k, kind, x, n, cols, c->act, inf_act_row_bytes(kind, cols) };
	inf_pool_run_chunks(c->pool, quant_chunk, &q, n);
	c->act_src = x;
	c->act_kind = kind;
}

/* y[i] = x W[i]^T (+ bias[i]) for n tokens and n_mats matrices with the
 * same number of columns; x is (n, cols) floats. Matrices whose types need
 * the same activation format run together. */
static void matmul_n(struct inf_cpu_context *c, uint32_t n_mats, const struct inf_gguf_tensor *const *w,
		     const float *x, uint32_t n, float *const *y, const float *const *bias)
{
	bool done[MM_MAX] = { false };
	for (uint32_t first = 0; first < n_mats; first++) {
		if (done[first])
			continue;
		enum inf_act_kind kind = inf_act_kind(w[first]->type);
		uint32_t cols = (uint32_t)w[first]->ne[0];
		struct mm_job j = { .k = c->k, .n = n };
		for (uint32_t i = first; i < n_mats; i++)
			if (!done[i] && inf_act_kind(w[i]->type) == kind) {
				j.w[j.n_mats] = w[i];
				j.y[j.n_mats] = y[i];
				j.bias[j.n_mats] = bias ? bias[i] : NULL;
				j.n_mats++;
				done[i] = true;
			}
		if (kind == INF_ACT_F32) {
			j.x = (const uint8_t *)x;
			j.x_stride = cols * sizeof(float);
		} else {
			quantize_act(c, kind, x, n, cols);
			j.x = c->act;
			j.x_stride = inf_act_row_bytes(kind, cols);
		}
		for (uint32_t m = 0; m < j.n_mats; m++) {
			uint64_t rows = j.w[m]->ne[1];
			size_t row_bytes = (size_t)inf_row_bytes(j.w[m]->type, cols);
			j.rows_per_chunk[m] = mm_rows_per_chunk(row_bytes, n, rows, inf_pool_size(c->pool));
			/* chunks start at a packed group or an F16 tile, so which
			 * kernel a row gets does not depend on the chunking (which
			 * depends on the batch and the threads): batch invariance */
			if (j.w[m]->packed)
				j.rows_per_chunk[m] = (j.rows_per_chunk[m] + 15) / 16 * 16;
			else if (j.w[m]->type == INF_TYPE_F16 && c->k->mm4_f16)
				j.rows_per_chunk[m] = (j.rows_per_chunk[m] + 3) / 4 * 4;
			j.first_chunk[m + 1] = j.first_chunk[m] +
					       (uint32_t)((rows + j.rows_per_chunk[m] - 1) / j.rows_per_chunk[m]);
		}
		inf_pool_run_chunks(c->pool, mm_chunk, &j, j.first_chunk[j.n_mats]);
	}
}

static void matmul(struct inf_cpu_context *c, const struct inf_gguf_tensor *w, const float *x, uint32_t n,
		   float *y, const float *bias)
{
	matmul_n(c, 1, &w, x, n, &y, &bias);
}

/* ---- the rest of a layer ---- */

static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
	double ss = 0;
	for (uint32_t i = 0; i < n; i++)
		ss += (double)x[i] * x[i];
	float s = (float)(1.0 / sqrt(ss / n + eps));
	for (uint32_t i = 0; i < n; i++)
		out[i] = x[i] * s * w[i];
}

/* Rotates each head's first n_rot dimensions: pairs (2i, 2i+1) for llama
 * (its converter permutes q/k rows for this), (i, i + n_rot/2) for qwen2. */
static void rope(const struct inf_cpu_context *c, float *v, uint32_t n_heads, uint32_t pos)
{
	const struct inf_model *m = c->m;
	uint32_t half = m->n_rot / 2;
	for (uint32_t i = 0; i < half; i++) {
		double th = (double)pos * c->inv_freq[i];
		float cs = (float)cos(th), sn = (float)sin(th);
		for (uint32_t h = 0; h < n_heads; h++) {
			float *x = v + (size_t)h * m->head_dim;
			uint32_t a = m->arch == INF_ARCH_LLAMA ? 2 * i : i;
			uint32_t b = m->arch == INF_ARCH_LLAMA ? 2 * i + 1 : i + half;
			float x0 = x[a], x1 = x[b];
			x[a] = x0 * cs - x1 * sn;
			x[b] = x0 * sn + x1 * cs;
		}
	}
}

/* Element offset of kv head h of layer l of sequence seq in either cache:
 * (n_seq, n_layer, n_head_kv, n_ctx, head_dim). */
static size_t kv_head(const struct inf_cpu_context *c, uint32_t seq, uint32_t l, uint32_t h)
{
	const struct inf_model *m = c->m;
	return (((size_t)seq * m->n_layer + l) * m->n_head_kv + h) * c->n_ctx * m->head_dim;
}

struct att_job {
	struct inf_cpu_context *c;
	uint32_t layer;
};

/* Causal attention for one (token, head) of the batch: chunk w. The token
 * reads its own sequence's cache, positions [0, its position]. */
static void att_chunk(void *arg, uint32_t w, uint32_t worker)
{
	const struct att_job *j = arg;
	struct inf_cpu_context *c = j->c;
	const struct inf_model *m = c->m;
	uint32_t hd = m->head_dim, qd = m->n_head * hd;
	uint32_t group = m->n_head / m->n_head_kv;
	float *sc = c->scores + (size_t)worker * c->n_ctx;
	float scale = 1.0f / sqrtf((float)hd);
	uint32_t t = w / m->n_head, h = w % m->n_head, kh = h / group;
	uint32_t len = c->tok_pos[t] + 1;
	size_t head = kv_head(c, c->tok_seq[t], j->layer, kh) * c->kv_elem;
	c->k->attn_head(c->q + (size_t)t * qd + (size_t)h * hd, (const uint8_t *)c->k_cache + head,
			(const uint8_t *)c->v_cache + head, c->kv_elem == sizeof(uint16_t), hd, len, hd, scale, sc,
			c->att + (size_t)t * qd + (size_t)h * hd);
}

/* Stores the keys and values of position pos of layer l of sequence seq in
 * the cache. */
static void kv_store(struct inf_cpu_context *c, uint32_t seq, uint32_t l, uint32_t pos, const float *k,
		     const float *v)
{
	uint32_t hd = c->m->head_dim;
	for (uint32_t h = 0; h < c->m->n_head_kv; h++) {
		size_t at = kv_head(c, seq, l, h) + (size_t)pos * hd;
		const float *kh = k + (size_t)h * hd, *vh = v + (size_t)h * hd;
		if (c->kv_elem == sizeof(float)) {
			memcpy((float *)c->k_cache + at, kh, hd * sizeof *kh);
			memcpy((float *)c->v_cache + at, vh, hd * sizeof *vh);
			continue;
		}
		c->k->to_f16(kh, (uint16_t *)c->k_cache + at, hd);
		c->k->to_f16(vh, (uint16_t *)c->v_cache + at, hd);
	}
}

int inf_cpu_forward(void *state, const struct inf_run *runs, uint32_t n_runs, const atomic_bool *cancel,
		    char err[INF_ERR_MAX])
{
	struct inf_cpu_context *c = state;
	const struct inf_model *m = c->m;
	uint32_t dim = m->dim, qd = m->n_head * m->head_dim, kvd = m->n_head_kv * m->head_dim;
	size_t erow = (size_t)inf_row_bytes(m->tok_embd->type, dim);
	/* the batch's tokens, run after run (the core checked: ids below
	 * n_vocab, n tokens in all at most INF_MAX_BATCH, each seq once) */
	uint32_t n = 0;
	for (uint32_t r = 0; r < n_runs; r++)
		for (uint32_t i = 0; i < runs[r].n; i++, n++) {
			c->tok_seq[n] = runs[r].seq;
			c->tok_pos[n] = runs[r].pos0 + i;
			inf_dequantize(m->tok_embd->type, (const uint8_t *)m->tok_embd->data + (size_t)runs[r].ids[i] * erow,
				       c->x + (size_t)n * dim, dim);
		}
	c->act_src = NULL;
	for (uint32_t l = 0; l < m->n_layer; l++) {
		if (atomic_load_explicit(cancel, memory_order_relaxed))
			return inf_fail(err, INF_ECANCELED, "canceled");
		const struct inf_layer *L = &m->layers[l];
		for (uint32_t t = 0; t < n; t++)
			rmsnorm(c->xb + (size_t)t * dim, c->x + (size_t)t * dim, L->attn_norm, dim, m->rms_eps);
		c->act_src = NULL;   /* xb changed: its quantized copy is stale */
		const struct inf_gguf_tensor *qkv[3] = { L->wq, L->wk, L->wv };
		float *qkv_out[3] = { c->q, c->kk, c->vv };
		const float *qkv_bias[3] = { L->bq, L->bk, L->bv };
		matmul_n(c, 3, qkv, c->xb, n, qkv_out, qkv_bias);
		/* every key and value into the cache first; attention then reads
		 * this batch's positions from there like the earlier ones */
		for (uint32_t t = 0; t < n; t++) {
			rope(c, c->q + (size_t)t * qd, m->n_head, c->tok_pos[t]);
			rope(c, c->kk + (size_t)t * kvd, m->n_head_kv, c->tok_pos[t]);
			kv_store(c, c->tok_seq[t], l, c->tok_pos[t], c->kk + (size_t)t * kvd, c->vv + (size_t)t * kvd);
		}
		struct att_job aj = { c, l };
		inf_pool_run_chunks(c->pool, att_chunk, &aj, n * m->n_head);
		matmul(c, L->wo, c->att, n, c->xb, NULL);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			c->x[i] += c->xb[i];
		for (uint32_t t = 0; t < n; t++)
			rmsnorm(c->xb + (size_t)t * dim, c->x + (size_t)t * dim, L->ffn_norm, dim, m->rms_eps);
		c->act_src = NULL;
		const struct inf_gguf_tensor *gu[2] = { L->w_gate, L->w_up };
		float *gu_out[2] = { c->hb, c->hb2 };
		matmul_n(c, 2, gu, c->xb, n, gu_out, NULL);
		for (size_t i = 0; i < (size_t)n * m->ffn_dim; i++) {
			float g = c->hb[i];
			c->hb[i] = g / (1.0f + expf(-g)) * c->hb2[i];
		}
		matmul(c, L->w_down, c->hb, n, c->xb, NULL);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			c->x[i] += c->xb[i];
	}
	/* logits of each run's last position only: row r of xb is run r's */
	for (uint32_t r = 0, t = 0; r < n_runs; r++) {
		t += runs[r].n;
		rmsnorm(c->xb + (size_t)r * dim, c->x + (size_t)(t - 1) * dim, m->output_norm, dim, m->rms_eps);
	}
	c->act_src = NULL;
	if (n_runs == 1) {
		matmul(c, m->output, c->xb, 1, runs[0].logits, NULL);
	} else {
		matmul(c, m->output, c->xb, n_runs, c->out, NULL);
		for (uint32_t r = 0; r < n_runs; r++)
			memcpy(runs[r].logits, c->out + (size_t)r * m->n_vocab, m->n_vocab * sizeof(float));
	}
	c->act_src = NULL;
	return 0;
}
