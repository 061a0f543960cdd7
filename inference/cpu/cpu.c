/*
 * cpu/cpu.c: the CPU backend (struct inf_backend, backend.h): it runs on
 * any CPU (the kernels of the best ISA it has, kernels.c), prepares a model
 * by packing its weights (pack.c), and gives each context a KV cache, the
 * scratch for a batch and a thread pool (pool.c); forward.c is the forward
 * pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static int probe(const char **isa, char why[INF_ERR_MAX])
{
	(void)why;
	*isa = inf_isa_name(inf_kernels_get(INF_ISA_AUTO)->isa);
	return 0;
}

static int prepare(struct inf_model *m, const struct inf_model_options *opt, void **state, char err[INF_ERR_MAX])
{
	*state = NULL;   /* the packed copies hang off the tensors */
	return inf_cpu_pack(m, opt && opt->no_pack, err);
}

static void release(struct inf_model *m, void *state)
{
	(void)state;
	inf_cpu_unpack(m);
}

/* ---- contexts ---- */

/* Logits rows of the output scratch: one per run (a batch's runs are at
 * most n_seq and at most its tokens); none for one sequence, whose run
 * writes straight into the shared part's logits. */
static uint32_t out_rows(uint32_t n_seq)
{
	return n_seq < 2 ? 0 : n_seq < INF_MAX_BATCH ? n_seq : INF_MAX_BATCH;
}

/* Scratch floats of a context (the logits are the shared part's). */
static uint64_t scratch_floats(const struct inf_model *m, uint32_t n_threads, uint32_t n_ctx, uint32_t n_seq)
{
	uint64_t qd = (uint64_t)m->n_head * m->head_dim, kvd = (uint64_t)m->n_head_kv * m->head_dim;
	uint64_t per_tok = 2 * (uint64_t)m->dim + 2 * qd + 2 * kvd + 2 * (uint64_t)m->ffn_dim + 2;
	return per_tok * INF_MAX_BATCH + (uint64_t)n_threads * n_ctx + m->n_rot +
	       (uint64_t)out_rows(n_seq) * m->n_vocab;
}

static uint64_t act_bytes(const struct inf_model *m)
{
	uint64_t w = m->dim > m->ffn_dim ? m->dim : m->ffn_dim;
	uint64_t qd = (uint64_t)m->n_head * m->head_dim;
	if (qd > w)
		w = qd;
	/* the largest of the three formats per row, times the batch */
	return (w * 4 + 64) * INF_MAX_BATCH;
}

static size_t kv_elem_bytes(enum inf_kv_type type)
{
	return type == INF_KV_F32 ? sizeof(float) : sizeof(uint16_t);
}

static uint64_t kv_bytes(const struct inf_model *m, uint32_t n_ctx, enum inf_kv_type type, uint32_t n_seq)
{
	return 2ull * n_seq * m->n_layer * n_ctx * m->n_head_kv * m->head_dim * kv_elem_bytes(type);
}

static uint64_t context_bytes(const struct inf_model *m, const struct inf_context_params *p, uint64_t *kv)
{
	uint32_t n_seq = p->n_seq ? p->n_seq : 1;
	*kv = kv_bytes(m, p->n_ctx, p->kv_type, n_seq);
	return *kv + scratch_floats(m, p->n_threads, p->n_ctx, n_seq) * 4 + act_bytes(m);
}

static void context_free(void *state)
{
	struct inf_cpu_context *c = state;
	if (!c)
		return;
	inf_pool_free(c->pool);
	free(c->k_cache);
	free(c->v_cache);
	free(c->x);
	free(c->xb);
	free(c->q);
	free(c->att);
	free(c->kk);
	free(c->vv);
	free(c->hb);
	free(c->hb2);
	free(c->tok_seq);
	free(c->tok_pos);
	free(c->out);
	free(c->scores);
	free(c->act);
	free(c->inv_freq);
	free(c);
}

static int context_create(const struct inf_model *m, struct inf_context_params *p, void **state,
			  char err[INF_ERR_MAX])
{
	*state = NULL;
	const struct inf_kernels *k = inf_kernels_get(p->isa);
	if (!k)
		return inf_fail(err, INF_EUNSUPPORTED, "isa %s is not supported by this CPU", inf_isa_name(p->isa));
	struct inf_cpu_context *c = calloc(1, sizeof *c);
	if (!c)
		return inf_fail(err, INF_ENOMEM, "out of memory");
	c->m = m;
	c->n_ctx = p->n_ctx;
	c->n_seq = p->n_seq ? p->n_seq : 1;
	c->k = k;
	size_t kvd = (size_t)m->n_head_kv * m->head_dim, qd = (size_t)m->n_head * m->head_dim;
	size_t kvn = (size_t)c->n_seq * m->n_layer * p->n_ctx * kvd, B = INF_MAX_BATCH;
	c->kv_elem = kv_elem_bytes(p->kv_type);
	c->k_cache = malloc(kvn * c->kv_elem);
	c->v_cache = malloc(kvn * c->kv_elem);
	c->x = malloc(B * m->dim * sizeof(float));
	c->xb = malloc(B * m->dim * sizeof(float));
	c->q = malloc(B * qd * sizeof(float));
	c->att = malloc(B * qd * sizeof(float));
	c->kk = malloc(B * kvd * sizeof(float));
	c->vv = malloc(B * kvd * sizeof(float));
	c->hb = malloc(B * m->ffn_dim * sizeof(float));
	c->hb2 = malloc(B * m->ffn_dim * sizeof(float));
	c->tok_seq = malloc(B * sizeof(uint32_t));
	c->tok_pos = malloc(B * sizeof(uint32_t));
	c->out = malloc((size_t)out_rows(c->n_seq) * m->n_vocab * sizeof(float) + 1);
	c->scores = malloc((size_t)p->n_threads * p->n_ctx * sizeof(float));
	c->act = aligned_alloc(64, (act_bytes(m) + 63) / 64 * 64);
	c->inv_freq = malloc(m->n_rot / 2 * sizeof(float) + 1);
	if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->att || !c->kk || !c->vv ||
	    !c->hb || !c->hb2 || !c->tok_seq || !c->tok_pos || !c->out || !c->scores || !c->act || !c->inv_freq) {
		context_free(c);
		return inf_fail(err, INF_ENOMEM, "out of memory for a context of %u sequences of %u tokens",
				p->n_seq ? p->n_seq : 1, p->n_ctx);
	}
	for (uint32_t i = 0; i < m->n_rot / 2; i++) {
		double f = m->rope_scale * pow(m->rope_base, -2.0 * i / m->n_rot);
		if (m->rope_freqs)
			f /= m->rope_freqs[i];
		c->inv_freq[i] = (float)f;
	}
	if (inf_pool_create(p->n_threads, &c->pool)) {
		context_free(c);
		return inf_fail(err, INF_ENOMEM, "cannot start %u threads", p->n_threads);
	}
	p->isa = k->isa;
	*state = c;
	return 0;
}

const struct inf_backend inf_backend_cpu = {
	.name = "cpu",
	.probe = probe,
	.prepare = prepare,
	.release = release,
	.context_bytes = context_bytes,
	.context_create = context_create,
	.context_free = context_free,
	.forward = inf_cpu_forward,
};
