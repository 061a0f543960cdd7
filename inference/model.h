/*
 * inference/model.h: the loaded model and the context, shared by model.c
 * (loading), forward.c (the forward pass) and api.c (tokenize, generate).
 */
#ifndef TETHER_INFERENCE_MODEL_H
#define TETHER_INFERENCE_MODEL_H

#include "internal.h"

enum inf_arch { INF_ARCH_LLAMA, INF_ARCH_QWEN2 };

struct inf_layer {
	const struct inf_gguf_tensor *wq;      /* (n_head*head_dim rows, dim cols) */
	const struct inf_gguf_tensor *wk, *wv; /* (n_head_kv*head_dim, dim) */
	const struct inf_gguf_tensor *wo;      /* (dim, n_head*head_dim) */
	const struct inf_gguf_tensor *w_gate, *w_up; /* (ffn_dim, dim) */
	const struct inf_gguf_tensor *w_down;  /* (dim, ffn_dim) */
	float *attn_norm, *ffn_norm;           /* (dim), owned copies */
	float *bq, *bk, *bv;                   /* qwen2 biases, owned; NULL for llama */
};

struct inf_model {
	struct inf_gguf *g;                    /* owned; tensors point into its map */
	enum inf_arch arch;
	struct inf_model_info info;
	uint32_t dim, n_layer, n_head, n_head_kv, head_dim, ffn_dim, n_vocab, n_ctx_train, n_rot;
	float rms_eps;
	double rope_base, rope_scale;          /* theta = pos * rope_scale * base^(-2i/n_rot) / freqs[i] */
	float *rope_freqs;                     /* (n_rot/2) or NULL, owned */
	const struct inf_gguf_tensor *tok_embd;/* (n_vocab rows, dim) */
	const struct inf_gguf_tensor *output;  /* (n_vocab, dim); = tok_embd when tied */
	float *output_norm;                    /* (dim), owned */
	struct inf_layer *layers;              /* (n_layer), owned */
	struct inf_tokenizer *tok;             /* NULL: see tok_err */
	char tok_err[INF_TEXT_ERR_MAX];
	char *chat_template;                   /* owned, NUL-terminated, or NULL */
	enum inf_chat_family chat_family;
	char name[128], tokenizer_model[32];
	bool vocab_only;                       /* inf_model_options.vocab_only: no weights */
	char arch_name[32];                    /* general.architecture (vocab_only) */
};

/* Largest batch evaluated at once; longer prompts go in chunks of this. */
#define INF_MAX_BATCH 256

struct inf_context {
	struct inf_model *m;
	struct inf_context_params p;           /* resolved */
	const struct inf_kernels *k;
	struct inf_pool *pool;
	uint32_t n_past;
	/* KV cache, elements of p.kv_type (uint16_t F16 or float), laid out
	 * (n_layer, n_head_kv, n_ctx, head_dim) for keys and for values: a kv
	 * head's positions are contiguous, streamed by the attention kernel. */
	void *k_cache, *v_cache;
	size_t kv_elem;                        /* bytes per cache element */
	/* scratch for a batch of up to INF_MAX_BATCH tokens */
	float *x, *xb, *q, *kk, *vv, *att, *hb, *hb2;  /* (batch, width) */
	float *scores;                         /* (n_threads, n_ctx) */
	void *act;                             /* quantized activations */
	const float *act_src;                  /* what act holds, to reuse it */
	enum inf_act_kind act_kind;
	float *inv_freq;                       /* (n_rot/2) */
	float *logits;                         /* (n_vocab) */
	float *work;                           /* (n_vocab) logits the sampler may modify */
	atomic_bool cancel;
	struct inf_stats stats;
};

/* The forward pass over ids[0..n) at positions n_past.. (n <= INF_MAX_BATCH);
 * leaves the last position's logits in ctx->logits. */
int inf_forward(struct inf_context *ctx, const int32_t *ids, uint32_t n, char err[INF_ERR_MAX]);

int inf_fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double inf_now_ms(void);

#endif
