/*
 * inference/model.h: the loaded model and the context's shared part, used
 * by model.c (loading, contexts), api.c (tokenize, evaluate, generate) and
 * the backends (cpu/: the forward pass reads the model's weights).
 */
#ifndef TETHER_INFERENCE_MODEL_H
#define TETHER_INFERENCE_MODEL_H

#include "backend.h"
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
	/* The backend that prepared the weights and runs every context of the
	 * model (borrowed, static); NULL until prepared, and for vocab_only. */
	const struct inf_backend *backend;
	void *backend_state;                   /* owned by backend: its release */
};

/* A context: what every backend shares. The KV cache and the scratch are
 * the backend's (state). */
struct inf_context {
	struct inf_model *m;                   /* borrowed: outlives the context */
	struct inf_context_params p;           /* resolved (the backend's own too) */
	const struct inf_backend *backend;     /* = m->backend */
	void *state;                           /* owned by backend: its context_free */
	uint32_t *n_past;                      /* (n_seq) positions in each sequence's cache */
	float *logits;                         /* (n_seq, n_vocab) each sequence's last position's */
	float *work;                           /* (n_vocab) logits the sampler may modify */
	atomic_bool cancel;
	struct inf_stats stats;
};

/* The forward pass over sequence 0's ids[0..n) at positions n_past..
 * (n <= INF_MAX_BATCH) on the context's backend, after checking the ids;
 * leaves the last position's logits in sequence 0's. Does not move n_past. */
int inf_forward(struct inf_context *ctx, const int32_t *ids, uint32_t n, char err[INF_ERR_MAX]);
/* The same for the runs of a checked batch (backend.h, struct inf_run:
 * seq, ids, n set; pos0 and logits are filled in here). */
int inf_forward_runs(struct inf_context *ctx, struct inf_run *runs, uint32_t n_runs, char err[INF_ERR_MAX]);

int inf_fail(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
double inf_now_ms(void);

#endif
