/*
 * inference/text/text.h: the text side's interface (library inference_text).
 *
 * The text side of inference: tokenizers built from GGUF tokenizer metadata,
 * chat templates, and samplers. The GGUF loader (model side) fills the
 * structs below from the file; this side never reads GGUF itself, so it is
 * tested directly from the npm oracles' vocabularies.
 *
 * Conventions: functions return 0 or a negative INF_E* code and, on error,
 * write a message naming the problem into err (INF_TEXT_ERR_MAX bytes).
 * Nothing here calls exit() or abort() on any input. Token ids are int32_t.
 */
#ifndef TETHER_INFERENCE_TEXT_H
#define TETHER_INFERENCE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INF_TEXT_ERR_MAX 256

/* Error codes shared with the public API (inference.h re-exports the values). */
enum {
	INF_TEXT_OK = 0,
	INF_TEXT_EINVAL = -1,      /* bad argument or malformed vocabulary */
	INF_TEXT_ENOMEM = -2,
	INF_TEXT_EUNSUPPORTED = -3, /* unknown tokenizer model / pre-tokenizer / template */
	INF_TEXT_ERANGE = -4,       /* output buffer too small; *n_out says how many needed */
};

/* Writes a message into err (INF_TEXT_ERR_MAX bytes; NULL = no message). */
void inf_text_set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* GGUF token types (tokenizer.ggml.token_type). */
enum inf_token_type {
	INF_TOKEN_UNDEFINED = 0,
	INF_TOKEN_NORMAL = 1,
	INF_TOKEN_UNKNOWN = 2,
	INF_TOKEN_CONTROL = 3,
	INF_TOKEN_USER_DEFINED = 4,
	INF_TOKEN_UNUSED = 5,
	INF_TOKEN_BYTE = 6,
};

/* What the GGUF loader hands over; strings are not NUL-terminated (lengths
 * given), and stay valid only during inf_tokenizer_create (it copies). */
struct inf_vocab_spec {
	const char *model;            /* tokenizer.ggml.model: "llama" or "gpt2" */
	const char *pre;              /* tokenizer.ggml.pre, NULL if absent:
	                                 "llama-bpe"/"llama3", "qwen2", "default", ... */
	uint32_t n_tokens;
	const char *const *tokens;    /* tokenizer.ggml.tokens */
	const uint32_t *token_lens;
	const float *scores;          /* tokenizer.ggml.scores, NULL if absent */
	const int32_t *types;         /* tokenizer.ggml.token_type, NULL if absent */
	uint32_t n_merges;            /* tokenizer.ggml.merges ("a b"), priority order */
	const char *const *merges;
	const uint32_t *merge_lens;
	int32_t bos_id, eos_id, unk_id, pad_id; /* -1 when absent */
	int32_t eot_id;               /* end of turn (e.g. <|eot_id|>, <|im_end|>), -1 if absent */
	int add_bos, add_eos;         /* 1, 0, or -1 = absent (the model's default applies) */
	int add_space_prefix;         /* tokenizer.ggml.add_space_prefix: 1, 0, -1 absent */
};

struct inf_tokenizer;

int inf_tokenizer_create(const struct inf_vocab_spec *spec, struct inf_tokenizer **out,
			 char err[INF_TEXT_ERR_MAX]);
void inf_tokenizer_free(struct inf_tokenizer *tok);

/* Encodes text[0..len) (any bytes; invalid UTF-8 never crashes and maps to
 * byte tokens or the unknown token as the model does). add_special: BOS/EOS as
 * the vocabulary says. parse_special: text like "<|eot_id|>" becomes the
 * control token instead of plain text. Writes at most cap ids; *n_out is the
 * full count (INF_TEXT_ERANGE when it exceeds cap). */
int inf_tokenize(const struct inf_tokenizer *tok, const char *text, size_t len,
		 bool add_special, bool parse_special, int32_t *ids, size_t cap,
		 size_t *n_out, char err[INF_TEXT_ERR_MAX]);

/* The bytes one token stands for when detokenized (SentencePiece "▁" becomes
 * a space, <0xXX> becomes the byte, byte-level BPE is unmapped). Control
 * tokens give their text only when render_special. Returns the byte count
 * written (truncated to cap) or a negative code; the bytes may be a partial
 * UTF-8 sequence, which the caller joins across tokens. */
int inf_token_to_piece(const struct inf_tokenizer *tok, int32_t id, bool render_special,
		       char *buf, size_t cap);

uint32_t inf_tokenizer_n_tokens(const struct inf_tokenizer *tok);
int32_t inf_tokenizer_bos(const struct inf_tokenizer *tok);
int32_t inf_tokenizer_eos(const struct inf_tokenizer *tok);
bool inf_tokenizer_is_eog(const struct inf_tokenizer *tok, int32_t id); /* EOS, EOT, ... */
/* Added by the text side: whether tokenize puts a space before the text
 * (SentencePiece's add_space_prefix). Its pieces then begin with that space,
 * which a detokenizer joining pieces drops once at the start (llama.cpp does). */
bool inf_tokenizer_adds_space_prefix(const struct inf_tokenizer *tok);

/* ---- chat templates ---- */

enum inf_chat_family {
	INF_CHAT_UNKNOWN = 0,
	INF_CHAT_CHATML,      /* <|im_start|>role\n...<|im_end|>\n (Qwen2, SmolLM, ...) */
	INF_CHAT_LLAMA3,      /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
	INF_CHAT_LLAMA2,      /* [INST] ... [/INST] (Llama 2, Mistral; with <<SYS>>) */
	INF_CHAT_ZEPHYR,      /* <|user|>\n...</s>\n (TinyLlama chat) */
	INF_CHAT_GEMMA,       /* <start_of_turn>user\n...<end_of_turn>\n */
	INF_CHAT_PHI3,        /* <|user|>\n...<|end|>\n */
	/* Added by the text side: the [INST] and Llama 3 templates that render
	 * differently from the families above (docs/tokenizers.md). */
	INF_CHAT_MISTRAL,     /* Mistral v0.1/v0.2: [INST] x [/INST]y</s>, no system role */
	INF_CHAT_MISTRAL_V3,  /* Mistral v0.3: [INST] x[/INST] y</s>, system on the last turn */
	INF_CHAT_LLAMA31,     /* Llama 3.1/3.2: Llama 3 with the dated system header */
	INF_CHAT_MISTRAL_TEKKEN, /* Mistral Nemo: [INST]x[/INST]y</s>, system on the last turn */
	INF_CHAT_DEEPSEEK_R1, /* DeepSeek-R1-Distill: {system}<｜User｜>x<｜Assistant｜>y<｜end▁of▁sentence｜> */
};

struct inf_chat_message {
	const char *role;     /* "system", "user", "assistant" */
	const char *content;
};

/* Recognises the family from tokenizer.chat_template's text (NULL or "" =
 * INF_CHAT_UNKNOWN). */
enum inf_chat_family inf_chat_detect(const char *template_text);
const char *inf_chat_family_name(enum inf_chat_family family);

/* Renders messages as the family does, with the assistant prompt appended
 * when add_assistant. Returns a malloc'd NUL-terminated string in *out, or
 * an error (unknown family, a role the family cannot express). */
int inf_chat_apply(enum inf_chat_family family, const struct inf_chat_message *msgs,
		   size_t n_msgs, bool add_assistant, const char *bos_text, const char *eos_text,
		   char **out, char err[INF_TEXT_ERR_MAX]);

/* Detects the family of template_text and renders as inf_chat_apply does,
 * and also as the template itself does where it differs from its family
 * (docs/tokenizers.md lists each case): a default system prompt of its own
 * (Qwen2/2.5, SmolLM2), Qwen1.5's open last message, Gemma 3's system
 * message, Phi-3.5's empty system message and missing BOS, Llama 3.1+'s
 * date.
 * An unknown template or a missing one is INF_TEXT_EUNSUPPORTED saying so. */
int inf_chat_apply_template(const char *template_text, const struct inf_chat_message *msgs,
			    size_t n_msgs, bool add_assistant, const char *bos_text,
			    const char *eos_text, char **out, char err[INF_TEXT_ERR_MAX]);

/* What the caller may give a template beyond the messages. */
struct inf_chat_options {
	/* Llama 3.1+'s date_string ("Today Date: ..."), at most 31 bytes (more
	 * is an error naming it); NULL: as the template does without one:
	 * today's date ("%d %b %Y", local time) when it calls strftime_now
	 * (Llama 3.2), else its own literal default ("26 Jul 2024" in Llama 3.1
	 * and 3.3). A template without a date has no use for it (as Jinja
	 * ignores a variable the template never reads). */
	const char *date_string;
	/* The time strftime_now reads (0: now), for reproducible renderings. */
	long long now;
};

/* inf_chat_apply_template with options (opt NULL: the defaults). */
int inf_chat_apply_template_opt(const char *template_text, const struct inf_chat_message *msgs,
				size_t n_msgs, bool add_assistant, const char *bos_text,
				const char *eos_text, const struct inf_chat_options *opt, char **out,
				char err[INF_TEXT_ERR_MAX]);

/* ---- sampling ---- */

struct inf_sampler_params {
	double temperature;        /* 0 = greedy; range [0, 100] */
	int32_t top_k;             /* 0 = off; range [0, n_vocab] */
	double top_p;              /* 1 = off; range (0, 1] */
	double min_p;              /* 0 = off; range [0, 1) */
	double repeat_penalty;     /* 1 = off; range (0, 10] */
	int32_t repeat_last_n;     /* window for the three penalties; [0, n_ctx] */
	double frequency_penalty;  /* 0 = off; range [-2, 2] */
	double presence_penalty;   /* 0 = off; range [-2, 2] */
	uint64_t seed;
};

void inf_sampler_params_default(struct inf_sampler_params *p);

/* Validates every field; an out-of-range one is an error naming it. */
int inf_sampler_params_check(const struct inf_sampler_params *p, uint32_t n_vocab,
			     char err[INF_TEXT_ERR_MAX]);

struct inf_sampler;
int inf_sampler_create(const struct inf_sampler_params *p, uint32_t n_vocab,
		       struct inf_sampler **out, char err[INF_TEXT_ERR_MAX]);
void inf_sampler_free(struct inf_sampler *s);
/* Picks the next token from logits[n_vocab] (may modify logits), given the
 * history of accepted tokens (for the penalties). Deterministic for a seed.
 * NaN logits count as -inf; when no logit is finite (all -inf or NaN) it
 * returns INF_TEXT_EINVAL instead of a token. */
int32_t inf_sampler_sample(struct inf_sampler *s, float *logits, const int32_t *history,
			   size_t n_history);

/* Stop strings matched across token boundaries: feed each token's piece; it
 * says how many bytes are safe to emit now (held back bytes might begin a stop
 * string) and whether a stop string matched (the text up to it is emitted,
 * the stop string itself is not). */
struct inf_stop_matcher;
int inf_stop_create(const char *const *stops, size_t n_stops, struct inf_stop_matcher **out,
		    char err[INF_TEXT_ERR_MAX]);
void inf_stop_free(struct inf_stop_matcher *m);
/* Appends piece; *emit and *emit_len: bytes to hand the user now (pointer valid
 * until the next call); returns true when a stop string matched. */
bool inf_stop_feed(struct inf_stop_matcher *m, const char *piece, size_t len,
		   const char **emit, size_t *emit_len);
/* At the end of generation: the held-back bytes that never became a stop. */
void inf_stop_flush(struct inf_stop_matcher *m, const char **emit, size_t *emit_len);

#endif
