/*
 * inference/cpu/cpu.h: the CPU backend's own declarations (cpu.c: the
 * backend table and its contexts; pack.c: the packed weights; forward.c:
 * the forward pass). Nothing outside cpu/ includes this.
 */
#ifndef TETHER_INFERENCE_CPU_H
#define TETHER_INFERENCE_CPU_H

#include "model.h"

/* The CPU backend's state of a context: the KV cache and the scratch for a
 * batch. The shared part (positions, logits, cancel) is struct
 * inf_context's. */
struct inf_cpu_context {
	const struct inf_model *m;             /* borrowed */
	uint32_t n_ctx;                        /* positions each sequence's cache holds */
	uint32_t n_seq;                        /* sequences */
	const struct inf_kernels *k;
	struct inf_pool *pool;
	/* KV cache, elements of kv_type (uint16_t F16 or float), laid out
	 * (n_seq, n_layer, n_head_kv, n_ctx, head_dim) for keys and for values:
	 * each sequence's cache is its own block, and a kv head's positions
	 * are contiguous, streamed by the attention kernel. */
	void *k_cache, *v_cache;
	size_t kv_elem;                        /* bytes per cache element */
	/* scratch for a batch of up to INF_MAX_BATCH tokens */
	float *x, *xb, *q, *kk, *vv, *att, *hb, *hb2;  /* (batch, width) */
	uint32_t *tok_seq, *tok_pos;           /* (batch) each token's sequence and position */
	float *out;                            /* (min(n_seq, batch), n_vocab) the runs' logits */
	float *scores;                         /* (n_threads, n_ctx) */
	void *act;                             /* quantized activations */
	const float *act_src;                  /* what act holds, to reuse it */
	enum inf_act_kind act_kind;
	float *inv_freq;                       /* (n_rot/2) */
};

/* The backend's forward operation (struct inf_backend.forward). */
int inf_cpu_forward(void *state, const struct inf_run *runs, uint32_t n_runs, const atomic_bool *cancel,
		    char err[INF_ERR_MAX]);

/* Packs the model's Q8_0, Q4_0, Q4_K and Q6_K matrices (docs/inference.md,
 * "Packed weights") where this CPU has the packed kernels, unless no_pack;
 * on failure nothing stays packed. inf_cpu_unpack frees the copies. */
int inf_cpu_pack(struct inf_model *m, bool no_pack, char err[INF_ERR_MAX]);
void inf_cpu_unpack(struct inf_model *m);

#endif
