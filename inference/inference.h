/*
 * inference/inference.h: the inference library's public API (prefix inf_).
 *
 * Loads a GGUF llama-family model (architectures llama and qwen2) and runs
 * it on a backend chosen at load (today the CPU's, the only one built).
 * docs/inference.md describes the formats, the types, what is validated,
 * the backends and the numerical tolerances.
 *
 * Conventions: functions return 0 (INF_OK) or a negative INF_E* code and,
 * on error, write a message naming the problem (file, byte offset, key or
 * tensor name, parameter and value) into err[INF_ERR_MAX]. Nothing in this
 * library calls exit() or abort() on any input. Token ids are int32_t.
 *
 * Threads: a model is read-only once loaded and may back several contexts;
 * a context is used by one thread at a time, except inf_cancel(), which any
 * thread may call at any time.
 */
#ifndef TETHER_INFERENCE_H
#define TETHER_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The sampler parameters, chat message and token-type definitions are shared
 * with the text side (tokenizers, templates, samplers). */
#include "text.h"

#define INF_ERR_MAX 512

enum {
	INF_OK = 0,
	INF_EINVAL = INF_TEXT_EINVAL,           /* bad argument or parameter (named) */
	INF_ENOMEM = INF_TEXT_ENOMEM,
	INF_EUNSUPPORTED = INF_TEXT_EUNSUPPORTED, /* architecture, tensor type, template... */
	INF_ERANGE = INF_TEXT_ERANGE,           /* output buffer too small */
	INF_EFORMAT = -5,                       /* malformed or truncated GGUF file */
	INF_EIO = -6,                           /* open/stat/mmap failed (errno text) */
	INF_ECANCELED = -7,                     /* inf_cancel() was called */
	INF_ECONTEXT = -8,                      /* n_ctx exceeded, or above trained/memory */
};

const char *inf_strerror(int code);

/* ---- models ---- */

/* How the KV cache stores keys and values. F16 (the default, as llama.cpp's)
 * halves the cache and the bytes attention reads per token, at a rounding of
 * K and V to 11 significant bits; F32 keeps them exact. */
enum inf_kv_type {
	INF_KV_F16 = 0,
	INF_KV_F32,
};
const char *inf_kv_type_name(enum inf_kv_type type);   /* "f16", "f32" */

struct inf_model;

struct inf_model_options {
	/* Called from the loading thread as the weights are touched (paged in),
	 * fraction in [0, 1]; NULL: none. */
	void (*progress)(double fraction, void *user);
	void *progress_user;
	/* Touch every weight page while loading (so the first token does not
	 * pay for page faults); progress is reported only when true. */
	bool prefault;
	/* Load the tokenizer and the chat template only (llama.cpp's
	 * vocabulary files, ggml-vocab-*.gguf, have no tensors): no tensor or
	 * hyperparameter is read or required and any general.architecture is
	 * accepted; tokenize and model info work, inf_context_create fails
	 * (INF_EUNSUPPORTED, saying the model was loaded vocabulary-only). A
	 * file with no tensors at all can only be loaded this way. */
	bool vocab_only;
	/* Keep Q8_0, Q4_0 and Q4_K matrices as the file has them even where
	 * the CPU has packed kernels (AVX-512 VNNI), which otherwise get a
	 * copy in the packed layout at load (see docs/inference.md). */
	bool no_pack;
};

/* Maps the file and validates it whole before anything uses it. */
int inf_model_load(const char *path, const struct inf_model_options *opt,
		   struct inf_model **out, char err[INF_ERR_MAX]);
/* The same from a caller-owned buffer, which must outlive the model. */
int inf_model_load_memory(const void *buf, size_t len, const struct inf_model_options *opt,
			  struct inf_model **out, char err[INF_ERR_MAX]);
void inf_model_free(struct inf_model *model);

#define INF_N_TYPES 40   /* ggml type ids below this are named */

/* Which backend runs a model's forward pass, and why each other backend
 * does not (inf_model_info.backend; docs/inference.md, "Backends"). */
#define INF_MAX_BACKENDS 4
struct inf_backend_choice {
	const char *name;              /* "cpu"; "" for a model loaded vocab_only (none) */
	const char *isa;               /* what its contexts use by default (cpu: the ISA
	                                  that isa AUTO picks, "avx512"); "" when none */
	uint32_t n_not_chosen;
	struct inf_backend_not_chosen {
		const char *name;      /* "cuda" */
		char reason[INF_ERR_MAX]; /* "not built into this binary" */
	} not_chosen[INF_MAX_BACKENDS];
};


struct inf_model_info {
	const char *arch;              /* "llama" or "qwen2"; vocab_only: general.architecture as is, "" if absent */
	bool vocab_only;               /* loaded with inf_model_options.vocab_only: then only
	                                  arch, name, gguf_version, n_vocab (the token count),
	                                  n_tensors, file_bytes and the tokenizer and template
	                                  fields are set; the others are 0 */
	uint64_t n_tensors;            /* tensors in the file */
	const char *name;              /* general.name, "" if absent */
	uint32_t gguf_version;
	uint32_t n_vocab, dim, n_layer, n_head, n_head_kv, head_dim, ffn_dim;
	uint32_t n_ctx_train;          /* {arch}.context_length */
	uint32_t n_rot;                /* rope.dimension_count */
	double rope_freq_base, rope_freq_scale, rms_eps;
	bool rope_freqs;               /* rope_freqs.weight present (llama3 scaling) */
	bool tied_output;              /* output = token_embd */
	uint64_t n_params;
	uint64_t weight_bytes;         /* bytes of tensor data */
	uint64_t file_bytes;
	uint64_t packed_bytes;         /* weights copied into the packed layout at load */
	uint32_t type_counts[INF_N_TYPES]; /* tensors per ggml type id */
	const char *tokenizer_model;   /* tokenizer.ggml.model, "" if absent */
	const char *tokenizer_error;   /* why there is no usable tokenizer, or "" */
	const char *chat_family;       /* inf_chat_family_name() of the template */
	bool has_chat_template;
	struct inf_backend_choice backend; /* chosen at load */
};

void inf_model_get_info(const struct inf_model *model, struct inf_model_info *info);
const char *inf_type_name(uint32_t type);    /* "Q4_K", ...; "?" if unknown */

/* Bytes a context of n_ctx tokens allocates (KV cache + scratch); 0 for a
 * model loaded vocab_only. */
uint64_t inf_context_bytes(const struct inf_model *model, uint32_t n_ctx, enum inf_kv_type kv_type);
/* The same for a context of n_seq sequences of n_ctx positions each (the KV
 * cache of every sequence, the logits of every sequence, the scratch);
 * n_seq 0 = 1, and inf_context_bytes is n_seq 1. */
uint64_t inf_context_bytes_seq(const struct inf_model *model, uint32_t n_ctx, enum inf_kv_type kv_type,
			       uint32_t n_seq);

/* Tokenizer of the model (from the GGUF metadata). */
int inf_model_tokenize(const struct inf_model *model, const char *text, size_t len,
		       bool add_special, bool parse_special, int32_t *ids, size_t cap,
		       size_t *n_out, char err[INF_ERR_MAX]);
/* The bytes of one token (see inf_token_to_piece in text.h). */
int inf_model_token_piece(const struct inf_model *model, int32_t id, bool render_special,
			  char *buf, size_t cap);
bool inf_model_has_tokenizer(const struct inf_model *model);
/* True for a token that ends generation (EOS, EOT, ...). */
bool inf_model_token_is_eog(const struct inf_model *model, int32_t id);
/* Renders messages in the model's chat template, with the assistant's turn
 * opened; *out is malloc'd, *family the template family's name. As
 * inf_generate's chat does (BOS left to the tokenizer). INF_EUNSUPPORTED
 * when the model has no template. */
int inf_model_render_chat(const struct inf_model *model, const struct inf_chat_message *msgs,
			  size_t n, char **out, const char **family, char err[INF_ERR_MAX]);

/* ---- contexts ---- */

enum inf_isa {
	INF_ISA_AUTO = 0,
	INF_ISA_PORTABLE,
	INF_ISA_AVX2,      /* AVX2 + FMA + F16C */
	INF_ISA_AVX512,    /* AVX-512 F/BW/VL + VNNI */
};
const char *inf_isa_name(enum inf_isa isa);
bool inf_isa_supported(enum inf_isa isa);   /* by this CPU */

/* Largest batch evaluated at once (tokens of all sequences together);
 * inf_evaluate cuts longer prompts into chunks of this. */
#define INF_MAX_BATCH 256
/* Most sequences one context holds (inf_context_params.n_seq). */
#define INF_MAX_SEQ 64

struct inf_context_params {
	uint32_t n_ctx;       /* 0: the trained context, capped at 4096 */
	uint32_t n_threads;   /* 0: online CPUs; 1..256 */
	uint64_t seed;        /* the default sampler seed */
	enum inf_isa isa;     /* AUTO: the best this CPU supports */
	/* Refuse a context larger than this many bytes (0: MemAvailable). */
	uint64_t max_bytes;
	enum inf_kv_type kv_type;
	/* Sequences sharing the context (slots), each with its own KV cache of
	 * n_ctx positions, its own n_past and its own logits; 0 = 1; at most
	 * INF_MAX_SEQ. The calls without "seq" in their name work on sequence 0. */
	uint32_t n_seq;
};
void inf_context_params_default(struct inf_context_params *p);

struct inf_context;
int inf_context_create(struct inf_model *model, const struct inf_context_params *p,
		       struct inf_context **out, char err[INF_ERR_MAX]);
void inf_context_free(struct inf_context *ctx);
/* The settings in effect (n_ctx and n_threads resolved, the ISA chosen). */
void inf_context_get_params(const struct inf_context *ctx, struct inf_context_params *p);

/* Runs ids[0..n) at positions n_past.. as one batch (matrix-matrix); after
 * it, inf_logits() holds the last position's logits. INF_ECONTEXT when the
 * batch does not fit in n_ctx. */
int inf_evaluate(struct inf_context *ctx, const int32_t *ids, size_t n, char err[INF_ERR_MAX]);
const float *inf_logits(const struct inf_context *ctx);   /* n_vocab floats */
uint32_t inf_n_past(const struct inf_context *ctx);
/* Forgets positions n_past.. (0: all). */
int inf_truncate(struct inf_context *ctx, uint32_t n_past, char err[INF_ERR_MAX]);

/* ---- several sequences in one forward pass (continuous batching) ----
 *
 * inf_evaluate, inf_logits, inf_n_past, inf_truncate, inf_sample and
 * inf_generate are sequence 0's. Batch invariance: a sequence's logits are
 * bit for bit the same whatever else is in the batch (other sequences, at
 * any positions), however its tokens were cut into batches (all at once,
 * in chunks of any size, one at a time, partly from the cache after a
 * truncate), and with any n_threads; they differ between ISAs (each has its
 * own kernels) and between kv_types. docs/inference.md, "Several sequences". */
struct inf_batch_seq {
	uint32_t seq;          /* < n_seq; each sequence at most once per batch */
	const int32_t *ids;    /* borrowed: n tokens that continue the sequence at its n_past */
	uint32_t n;            /* >= 1 */
};
/* Evaluates every entry's tokens in one forward pass (the tokens of all n
 * entries together at most INF_MAX_BATCH; 1 <= n). Afterwards
 * inf_seq_logits(ctx, seq) holds the last position's logits of each
 * sequence in the batch, and each one's n_past has advanced by its n; the
 * other sequences are untouched. Everything is checked before anything is
 * evaluated: INF_EINVAL for a seq out of range, a seq twice, an empty entry,
 * a token id out of range or too many tokens; INF_ECONTEXT (naming the
 * sequence and the numbers) when an entry would pass n_ctx; nothing is
 * evaluated then. Checks inf_cancel like inf_evaluate (the flag clears when
 * the call starts); on INF_ECANCELED no n_past moves (what the pass wrote
 * into the caches lies past them and is overwritten later). */
int inf_evaluate_batch(struct inf_context *ctx, const struct inf_batch_seq *seqs, size_t n,
		       char err[INF_ERR_MAX]);
/* Sequence seq's logits (n_vocab floats), as its last evaluation left them
 * (zeros before one); NULL when seq >= n_seq. Valid until the context is freed. */
const float *inf_seq_logits(const struct inf_context *ctx, uint32_t seq);
/* Positions in sequence seq's cache; 0 when seq >= n_seq. */
uint32_t inf_seq_n_past(const struct inf_context *ctx, uint32_t seq);
/* Forgets sequence seq's positions n_past.. (0: all; frees the slot for a
 * new stream). The other sequences are untouched. */
int inf_seq_truncate(struct inf_context *ctx, uint32_t seq, uint32_t n_past, char err[INF_ERR_MAX]);

/* Sampling with the text side's samplers (text.h). */
struct inf_sampler;
int inf_sample(struct inf_context *ctx, struct inf_sampler *s, const int32_t *history,
	       size_t n_history, int32_t *token);
/* The same on sequence seq's logits (INF_EINVAL when seq >= n_seq or the
 * sequence has no logits yet). */
int inf_seq_sample(struct inf_context *ctx, uint32_t seq, struct inf_sampler *s, const int32_t *history,
		   size_t n_history, int32_t *token);

/* Cancels a running inf_evaluate/inf_generate from any thread; it returns
 * INF_ECANCELED soon after (between layers, or between tokens). The flag
 * clears when the next inf_evaluate or inf_generate starts (so a cancel
 * that arrives between calls is dropped). */
void inf_cancel(struct inf_context *ctx);

struct inf_stats {
	uint64_t n_prompt_tokens, n_gen_tokens;   /* since the context was made, all sequences */
	double prompt_ms, gen_ms;                 /* time in batches where some sequence has more
	                                             than one token / every one has one */
};
void inf_context_stats(const struct inf_context *ctx, struct inf_stats *st);

/* ---- generation ---- */

#define INF_SEED_CONTEXT UINT64_MAX

struct inf_generate_params {
	const char *prompt;           /* NUL-terminated */
	bool chat;                    /* apply the model's chat template (user turn) */
	const char *system;           /* with chat: a system message, or NULL */
	int32_t max_tokens;           /* 1..n_ctx */
	/* sampling.seed == INF_SEED_CONTEXT (the default): the context's seed */
	struct inf_sampler_params sampling;
	const char *const *stops;     /* stop strings, matched across tokens */
	size_t n_stops;
	/* Called for each chunk of text as it becomes safe to emit (stop strings
	 * held back); returning non-zero stops generation (reason "callback"). */
	int (*on_text)(void *user, const char *text, size_t len, int32_t token);
	void *user;
};
void inf_generate_params_default(struct inf_generate_params *p);

struct inf_generate_result {
	int32_t *prompt_ids;          /* owned: inf_generate_result_free */
	size_t n_prompt;
	int32_t *ids;                 /* generated tokens, owned */
	size_t n_ids;
	char *text;                   /* owned, NUL-terminated, stop string cut */
	size_t text_len;
	const char *stop_reason;      /* "eos", "max_tokens", "stop", "callback", "context" */
	double ttft_ms;               /* start to first generated token */
	double prompt_ms, gen_ms;     /* prompt batch; tokens after the first */
	const char *chat_family;      /* the template used, or NULL */
	uint64_t seed;                /* the sampler seed in effect */
};

/* Tokenizes the prompt (chat template applied when asked), evaluates it as a
 * batch, then samples up to max_tokens, streaming through on_text. Continues
 * the context's positions from inf_n_past (call inf_truncate(ctx, 0) to start
 * over). On INF_ECANCELED the result holds what was generated so far. */
int inf_generate(struct inf_context *ctx, const struct inf_generate_params *p,
		 struct inf_generate_result *res, char err[INF_ERR_MAX]);
void inf_generate_result_free(struct inf_generate_result *res);

#endif
