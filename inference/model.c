/*
 * model.c: from a parsed GGUF file to a model (hyperparameters, tensors of
 * the right shapes and types, the tokenizer, then the backend chosen and
 * its preparation of the weights), and contexts: their parameters, size
 * checks and shared part, with the backend's state.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

int inf_fail(char *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, INF_ERR_MAX, fmt, ap);
	va_end(ap);
	return code;
}

double inf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *inf_strerror(int code)
{
	switch (code) {
	case INF_OK: return "ok";
	case INF_EINVAL: return "invalid argument";
	case INF_ENOMEM: return "out of memory";
	case INF_EUNSUPPORTED: return "not supported";
	case INF_ERANGE: return "buffer too small";
	case INF_EFORMAT: return "malformed GGUF file";
	case INF_EIO: return "I/O error";
	case INF_ECANCELED: return "canceled";
	case INF_ECONTEXT: return "context size";
	}
	return "unknown error";
}

#define SUPPORTED_TYPES "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K"

/* A tensor that must exist with shape (ne0, ne1) (ne1 = 0: a vector). */
static int want(const struct inf_gguf *g, const char *name, uint64_t ne0, uint64_t ne1, bool matrix,
		const struct inf_gguf_tensor **out, char *err)
{
	const struct inf_gguf_tensor *t = inf_gguf_tensor(g, name);
	if (!t)
		return inf_fail(err, INF_EFORMAT, "tensor '%s' is missing", name);
	bool shape_ok = ne1 ? (t->n_dims == 2 && t->ne[0] == ne0 && t->ne[1] == ne1)
			    : (t->n_dims == 1 && t->ne[0] == ne0);
	if (!shape_ok)
		return inf_fail(err, INF_EFORMAT,
				"tensor '%s' has shape [%llu, %llu, %llu, %llu] (%u dims), expected [%llu, %llu]",
				name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
				(unsigned long long)t->ne[2], (unsigned long long)t->ne[3], t->n_dims,
				(unsigned long long)ne0, (unsigned long long)(ne1 ? ne1 : 1));
	if (matrix && !inf_type_computable(t->type))
		return inf_fail(err, INF_EUNSUPPORTED,
				"tensor '%s' has type %s, which this engine does not support (supported: " SUPPORTED_TYPES ")",
				name, inf_type_name(t->type));
	if (!matrix && t->type != INF_TYPE_F32 && t->type != INF_TYPE_F16 && t->type != INF_TYPE_BF16)
		return inf_fail(err, INF_EUNSUPPORTED,
				"tensor '%s' has type %s; norm weights and biases must be F32, F16 or BF16",
				name, inf_type_name(t->type));
	*out = t;
	return 0;
}

/* Vectors are copied to floats (small, and then aligned whatever the file). */
static int want_vec(const struct inf_gguf *g, const char *name, uint64_t n, float **out, char *err)
{
	const struct inf_gguf_tensor *t;
	int rc = want(g, name, n, 0, false, &t, err);
	if (rc)
		return rc;
	*out = malloc(n * sizeof **out);
	if (!*out)
		return inf_fail(err, INF_ENOMEM, "out of memory for '%s'", name);
	inf_dequantize(t->type, t->data, *out, n);
	return 0;
}

static int get_u32(const struct inf_gguf *g, const char *arch, const char *suffix, bool required,
		   uint32_t lo, uint32_t hi, uint32_t *out, char *err)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	int rc = inf_gguf_get_u32(g, key, out, err);
	if (rc < 0)
		return INF_EFORMAT;
	if (rc == 1) {
		if (required)
			return inf_fail(err, INF_EFORMAT, "metadata '%s' is missing", key);
		return 0;
	}
	if (*out < lo || *out > hi)
		return inf_fail(err, INF_EFORMAT, "metadata '%s' = %u is out of range [%u, %u]", key, *out, lo, hi);
	return 0;
}

static int get_f64(const struct inf_gguf *g, const char *arch, const char *suffix, double *out, char *err)
{
	char key[128];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	int rc = inf_gguf_get_f64(g, key, out, err);
	if (rc < 0)
		return INF_EFORMAT;
	if (rc == 0 && !isfinite(*out))
		return inf_fail(err, INF_EFORMAT, "metadata '%s' is not finite", key);
	return rc;
}

static int load_hparams(struct inf_model *m, char *err)
{
	const struct inf_gguf *g = m->g;
	struct inf_gguf_str s;
	int rc = inf_gguf_get_str(g, "general.architecture", &s, err);
	if (rc < 0)
		return INF_EFORMAT;
	if (rc == 1)
		return inf_fail(err, INF_EFORMAT, "metadata 'general.architecture' is missing");
	char arch[32];
	snprintf(arch, sizeof arch, "%.*s", (int)(s.len < 31 ? s.len : 31), s.p);
	if (s.len == 5 && !memcmp(s.p, "llama", 5)) {
		m->arch = INF_ARCH_LLAMA;
		m->info.arch = "llama";
	} else if (s.len == 5 && !memcmp(s.p, "qwen2", 5)) {
		m->arch = INF_ARCH_QWEN2;
		m->info.arch = "qwen2";
	} else {
		return inf_fail(err, INF_EUNSUPPORTED,
				"architecture '%s' is not supported (supported: llama, qwen2)", arch);
	}
	if ((rc = get_u32(g, arch, "embedding_length", true, 1, 65536, &m->dim, err)) ||
	    (rc = get_u32(g, arch, "block_count", true, 1, 1024, &m->n_layer, err)) ||
	    (rc = get_u32(g, arch, "feed_forward_length", true, 1, 1u << 20, &m->ffn_dim, err)) ||
	    (rc = get_u32(g, arch, "attention.head_count", true, 1, 1024, &m->n_head, err)) ||
	    (rc = get_u32(g, arch, "context_length", true, 1, 1u << 24, &m->n_ctx_train, err)))
		return rc;
	m->n_head_kv = m->n_head;
	if ((rc = get_u32(g, arch, "attention.head_count_kv", false, 1, m->n_head, &m->n_head_kv, err)))
		return rc;
	if (m->dim % m->n_head || m->n_head % m->n_head_kv)
		return inf_fail(err, INF_EFORMAT,
				"%s.embedding_length %u, attention.head_count %u and head_count_kv %u do not divide",
				arch, m->dim, m->n_head, m->n_head_kv);
	m->head_dim = m->dim / m->n_head;
	uint32_t kl = m->head_dim;
	if ((rc = get_u32(g, arch, "attention.key_length", false, 1, 65536, &kl, err)))
		return rc;
	if (kl != m->head_dim)
		return inf_fail(err, INF_EUNSUPPORTED,
				"%s.attention.key_length %u differs from embedding_length/head_count %u (not supported)",
				arch, kl, m->head_dim);
	if (m->head_dim % 2)
		return inf_fail(err, INF_EFORMAT, "head dimension %u is odd", m->head_dim);
	m->n_rot = m->head_dim;
	if ((rc = get_u32(g, arch, "rope.dimension_count", false, 2, m->head_dim, &m->n_rot, err)))
		return rc;
	if (m->n_rot % 2)
		return inf_fail(err, INF_EFORMAT, "%s.rope.dimension_count %u is odd", arch, m->n_rot);
	double eps = 0;
	if ((rc = get_f64(g, arch, "attention.layer_norm_rms_epsilon", &eps, err)) < 0)
		return rc;
	if (rc == 1)
		return inf_fail(err, INF_EFORMAT, "metadata '%s.attention.layer_norm_rms_epsilon' is missing", arch);
	if (!(eps > 0 && eps < 1))
		return inf_fail(err, INF_EFORMAT, "%s.attention.layer_norm_rms_epsilon %g is out of range (0, 1)", arch, eps);
	m->rms_eps = (float)eps;
	m->rope_base = 10000;
	if ((rc = get_f64(g, arch, "rope.freq_base", &m->rope_base, err)) < 0)
		return rc;
	if (!(m->rope_base > 1))
		return inf_fail(err, INF_EFORMAT, "%s.rope.freq_base %g must be above 1", arch, m->rope_base);
	m->rope_scale = 1;
	char key[128];
	snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
	rc = inf_gguf_get_str(g, key, &s, err);
	if (rc < 0)
		return INF_EFORMAT;
	double factor = 1;
	bool linear = false;
	if (rc == 0) {
		if (s.len == 6 && !memcmp(s.p, "linear", 6))
			linear = true;
		else if (!(s.len == 4 && !memcmp(s.p, "none", 4)))
			return inf_fail(err, INF_EUNSUPPORTED,
					"%s = '%.*s' is not supported (none, linear; llama3 scaling comes as rope_freqs.weight)",
					key, (int)(s.len > 32 ? 32 : s.len), s.p);
	}
	if (linear) {
		if ((rc = get_f64(g, arch, "rope.scaling.factor", &factor, err)) < 0)
			return rc;
		if (rc == 1)
			return inf_fail(err, INF_EFORMAT, "%s is linear but %s.rope.scaling.factor is missing", key, arch);
	} else if ((rc = get_f64(g, arch, "rope.scale_linear", &factor, err)) < 0) {
		return rc;
	}
	if (!(factor >= 1 && factor <= 1024))
		return inf_fail(err, INF_EFORMAT, "rope scaling factor %g is out of range [1, 1024]", factor);
	m->rope_scale = 1 / factor;
	return 0;
}

static int load_tensors(struct inf_model *m, char *err)
{
	const struct inf_gguf *g = m->g;
	const struct inf_gguf_tensor *t = inf_gguf_tensor(g, "token_embd.weight");
	if (!t)
		return inf_fail(err, INF_EFORMAT, "tensor 'token_embd.weight' is missing");
	if (t->n_dims != 2 || t->ne[0] != m->dim || t->ne[1] < 1 || t->ne[1] > (1u << 22))
		return inf_fail(err, INF_EFORMAT, "tensor 'token_embd.weight' has shape [%llu, %llu], expected [%u, n_vocab <= 2^22]",
				(unsigned long long)t->ne[0], (unsigned long long)t->ne[1], m->dim);
	m->n_vocab = (uint32_t)t->ne[1];
	int rc = want(g, "token_embd.weight", m->dim, m->n_vocab, true, &m->tok_embd, err);
	if (rc)
		return rc;
	uint32_t qd = m->n_head * m->head_dim, kvd = m->n_head_kv * m->head_dim;
	m->layers = calloc(m->n_layer, sizeof *m->layers);
	if (!m->layers)
		return inf_fail(err, INF_ENOMEM, "out of memory");
	for (uint32_t l = 0; l < m->n_layer; l++) {
		struct inf_layer *L = &m->layers[l];
		char n[64];
#define N(suffix) (snprintf(n, sizeof n, "blk.%u." suffix, l), n)
		if ((rc = want_vec(g, N("attn_norm.weight"), m->dim, &L->attn_norm, err)) ||
		    (rc = want(g, N("attn_q.weight"), m->dim, qd, true, &L->wq, err)) ||
		    (rc = want(g, N("attn_k.weight"), m->dim, kvd, true, &L->wk, err)) ||
		    (rc = want(g, N("attn_v.weight"), m->dim, kvd, true, &L->wv, err)) ||
		    (rc = want(g, N("attn_output.weight"), qd, m->dim, true, &L->wo, err)) ||
		    (rc = want_vec(g, N("ffn_norm.weight"), m->dim, &L->ffn_norm, err)) ||
		    (rc = want(g, N("ffn_gate.weight"), m->dim, m->ffn_dim, true, &L->w_gate, err)) ||
		    (rc = want(g, N("ffn_up.weight"), m->dim, m->ffn_dim, true, &L->w_up, err)) ||
		    (rc = want(g, N("ffn_down.weight"), m->ffn_dim, m->dim, true, &L->w_down, err)))
			return rc;
		if (m->arch == INF_ARCH_QWEN2 &&
		    ((rc = want_vec(g, N("attn_q.bias"), qd, &L->bq, err)) ||
		     (rc = want_vec(g, N("attn_k.bias"), kvd, &L->bk, err)) ||
		     (rc = want_vec(g, N("attn_v.bias"), kvd, &L->bv, err))))
			return rc;
		if (m->arch == INF_ARCH_LLAMA && inf_gguf_tensor(g, N("attn_q.bias")))
			return inf_fail(err, INF_EUNSUPPORTED, "tensor '%s': llama with attention biases is not supported", n);
#undef N
	}
	if ((rc = want_vec(g, "output_norm.weight", m->dim, &m->output_norm, err)))
		return rc;
	if (inf_gguf_tensor(g, "output.weight")) {
		if ((rc = want(g, "output.weight", m->dim, m->n_vocab, true, &m->output, err)))
			return rc;
	} else {
		m->output = m->tok_embd;
		m->info.tied_output = true;
	}
	if (inf_gguf_tensor(g, "rope_freqs.weight")) {
		if ((rc = want_vec(g, "rope_freqs.weight", m->n_rot / 2, &m->rope_freqs, err)))
			return rc;
		for (uint32_t i = 0; i < m->n_rot / 2; i++)
			if (!(m->rope_freqs[i] > 0) || !isfinite(m->rope_freqs[i]))
				return inf_fail(err, INF_EFORMAT, "tensor 'rope_freqs.weight': item %u is %g, not a positive number",
						i, m->rope_freqs[i]);
		m->info.rope_freqs = true;
	}
	return 0;
}

/* The tokenizer section, handed to the text side. Absent: the model still
 * evaluates token ids; tokenizing then says why it cannot. */
static int load_tokenizer(struct inf_model *m, char *err)
{
	const struct inf_gguf *g = m->g;
	struct inf_gguf_str s;
	int rc = inf_gguf_get_str(g, "tokenizer.chat_template", &s, err);
	if (rc < 0)
		return INF_EFORMAT;
	if (rc == 0) {
		m->chat_template = malloc(s.len + 1);
		if (!m->chat_template)
			return inf_fail(err, INF_ENOMEM, "out of memory");
		memcpy(m->chat_template, s.p, s.len);
		m->chat_template[s.len] = 0;
		m->chat_family = inf_chat_detect(m->chat_template);
	}
	rc = inf_gguf_get_str(g, "tokenizer.ggml.model", &s, err);
	if (rc < 0)
		return INF_EFORMAT;
	if (rc == 1 && m->vocab_only)
		return inf_fail(err, INF_EFORMAT,
				"tokenizer.ggml.model is absent: the file has no tokenizer to load vocabulary-only");
	if (rc == 1) {
		snprintf(m->tok_err, sizeof m->tok_err, "the model has no tokenizer (tokenizer.ggml.model is absent)");
		return 0;
	}
	snprintf(m->tokenizer_model, sizeof m->tokenizer_model, "%.*s", (int)(s.len < 31 ? s.len : 31), s.p);
	struct inf_vocab_spec v = { .model = m->tokenizer_model, .bos_id = -1, .eos_id = -1, .unk_id = -1,
				    .pad_id = -1, .eot_id = -1, .add_bos = -1, .add_eos = -1, .add_space_prefix = -1 };
	char pre[64] = "";
	if ((rc = inf_gguf_get_str(g, "tokenizer.ggml.pre", &s, err)) < 0)
		return INF_EFORMAT;
	if (rc == 0) {
		snprintf(pre, sizeof pre, "%.*s", (int)(s.len < 63 ? s.len : 63), s.p);
		v.pre = pre;
	}
	const struct inf_gguf_kv *kt = inf_gguf_find(g, "tokenizer.ggml.tokens");
	if (!kt || kt->type != INF_GGUF_ARRAY || kt->arr_type != INF_GGUF_STRING)
		return inf_fail(err, INF_EFORMAT, "tokenizer.ggml.tokens is missing or not an array of strings");
	if (m->vocab_only && (kt->arr_n == 0 || kt->arr_n > (1u << 22)))
		return inf_fail(err, INF_EFORMAT, "tokenizer.ggml.tokens has %llu tokens, expected 1 to 2^22",
				(unsigned long long)kt->arr_n);
	if (!m->vocab_only && (kt->arr_n == 0 || kt->arr_n > m->n_vocab))
		return inf_fail(err, INF_EFORMAT, "tokenizer.ggml.tokens has %llu tokens, the embedding %u rows",
				(unsigned long long)kt->arr_n, m->n_vocab);
	v.n_tokens = (uint32_t)kt->arr_n;
	if (m->vocab_only)
		m->n_vocab = v.n_tokens;
	const char **toks = malloc(v.n_tokens * sizeof *toks);
	uint32_t *lens = malloc(v.n_tokens * sizeof *lens);
	float *scores = NULL;
	int32_t *types = NULL;
	const char **merges = NULL;
	uint32_t *mlens = NULL;
	rc = INF_ENOMEM;
	if (!toks || !lens)
		goto out;
	for (uint32_t i = 0; i < v.n_tokens; i++) {
		toks[i] = kt->arr_strs[i].p;
		lens[i] = (uint32_t)kt->arr_strs[i].len;
	}
	v.tokens = toks;
	v.token_lens = lens;
	const struct inf_gguf_kv *ks = inf_gguf_find(g, "tokenizer.ggml.scores");
	if (ks) {
		if (ks->type != INF_GGUF_ARRAY || ks->arr_type != INF_GGUF_F32 || ks->arr_n != v.n_tokens) {
			rc = inf_fail(err, INF_EFORMAT, "tokenizer.ggml.scores must be %u f32 values", v.n_tokens);
			goto out;
		}
		if (!(scores = malloc(v.n_tokens * sizeof *scores)))
			goto out;
		memcpy(scores, ks->arr_data, v.n_tokens * sizeof *scores);
		v.scores = scores;
	}
	const struct inf_gguf_kv *ky = inf_gguf_find(g, "tokenizer.ggml.token_type");
	if (ky) {
		if (ky->type != INF_GGUF_ARRAY || (ky->arr_type != INF_GGUF_I32 && ky->arr_type != INF_GGUF_U32) ||
		    ky->arr_n != v.n_tokens) {
			rc = inf_fail(err, INF_EFORMAT, "tokenizer.ggml.token_type must be %u i32 values", v.n_tokens);
			goto out;
		}
		if (!(types = malloc(v.n_tokens * sizeof *types)))
			goto out;
		memcpy(types, ky->arr_data, v.n_tokens * sizeof *types);
		v.types = types;
	}
	const struct inf_gguf_kv *km = inf_gguf_find(g, "tokenizer.ggml.merges");
	if (km) {
		if (km->type != INF_GGUF_ARRAY || km->arr_type != INF_GGUF_STRING) {
			rc = inf_fail(err, INF_EFORMAT, "tokenizer.ggml.merges must be an array of strings");
			goto out;
		}
		v.n_merges = (uint32_t)km->arr_n;
		merges = malloc((v.n_merges + 1) * sizeof *merges);
		mlens = malloc((v.n_merges + 1) * sizeof *mlens);
		if (!merges || !mlens)
			goto out;
		for (uint32_t i = 0; i < v.n_merges; i++) {
			merges[i] = km->arr_strs[i].p;
			mlens[i] = (uint32_t)km->arr_strs[i].len;
		}
		v.merges = merges;
		v.merge_lens = mlens;
	}
	static const struct { const char *key; size_t off; } ids[] = {
		{ "tokenizer.ggml.bos_token_id", offsetof(struct inf_vocab_spec, bos_id) },
		{ "tokenizer.ggml.eos_token_id", offsetof(struct inf_vocab_spec, eos_id) },
		{ "tokenizer.ggml.unknown_token_id", offsetof(struct inf_vocab_spec, unk_id) },
		{ "tokenizer.ggml.padding_token_id", offsetof(struct inf_vocab_spec, pad_id) },
		{ "tokenizer.ggml.eot_token_id", offsetof(struct inf_vocab_spec, eot_id) },
	};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		uint32_t id;
		int r = inf_gguf_get_u32(g, ids[i].key, &id, err);
		if (r < 0) {
			rc = INF_EFORMAT;
			goto out;
		}
		if (r == 0) {
			if (id >= v.n_tokens) {
				rc = inf_fail(err, INF_EFORMAT, "%s = %u is not below the %u tokens", ids[i].key, id, v.n_tokens);
				goto out;
			}
			*(int32_t *)((char *)&v + ids[i].off) = (int32_t)id;
		}
	}
	static const struct { const char *key; size_t off; } flags[] = {
		{ "tokenizer.ggml.add_bos_token", offsetof(struct inf_vocab_spec, add_bos) },
		{ "tokenizer.ggml.add_eos_token", offsetof(struct inf_vocab_spec, add_eos) },
		{ "tokenizer.ggml.add_space_prefix", offsetof(struct inf_vocab_spec, add_space_prefix) },
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		bool b;
		int r = inf_gguf_get_bool(g, flags[i].key, &b, err);
		if (r < 0) {
			rc = INF_EFORMAT;
			goto out;
		}
		if (r == 0)
			*(int *)((char *)&v + flags[i].off) = b;
	}
	char terr[INF_TEXT_ERR_MAX];
	if (inf_tokenizer_create(&v, &m->tok, terr)) {
		/* The weights still load (model info, logits by id); tokenizing
		 * reports this. */
		snprintf(m->tok_err, sizeof m->tok_err, "%s", terr);
		m->tok = NULL;
	}
	rc = 0;
out:
	if (rc == INF_ENOMEM)
		inf_fail(err, rc, "out of memory loading the tokenizer");
	free(toks);
	free(lens);
	free(scores);
	free(types);
	free(merges);
	free(mlens);
	return rc;
}

static void fill_info(struct inf_model *m)
{
	struct inf_model_info *i = &m->info;
	struct inf_gguf_str s;
	char err[INF_ERR_MAX];
	if (inf_gguf_get_str(m->g, "general.name", &s, err) == 0)
		snprintf(m->name, sizeof m->name, "%.*s", (int)(s.len < 127 ? s.len : 127), s.p);
	i->name = m->name;
	i->gguf_version = m->g->version;
	i->n_vocab = m->n_vocab;
	i->dim = m->dim;
	i->n_layer = m->n_layer;
	i->n_head = m->n_head;
	i->n_head_kv = m->n_head_kv;
	i->head_dim = m->head_dim;
	i->ffn_dim = m->ffn_dim;
	i->n_ctx_train = m->n_ctx_train;
	i->n_rot = m->n_rot;
	i->rope_freq_base = m->rope_base;
	i->rope_freq_scale = m->rope_scale;
	i->rms_eps = m->rms_eps;
	i->file_bytes = m->g->size;
	for (uint64_t t = 0; !m->vocab_only && t < m->g->n_tensors; t++) {
		const struct inf_gguf_tensor *x = &m->g->tensors[t];
		i->n_params += x->n_elems;
		i->weight_bytes += x->n_bytes;
		if (x->type < INF_N_TYPES)
			i->type_counts[x->type]++;
	}
	i->vocab_only = m->vocab_only;
	i->n_tensors = m->g->n_tensors;
	i->tokenizer_model = m->tokenizer_model;
	i->tokenizer_error = m->tok ? "" : m->tok_err;
	i->chat_family = inf_chat_family_name(m->chat_family);
	i->has_chat_template = m->chat_template != NULL;
	i->backend.name = "";   /* none until one is chosen (never, vocab_only) */
	i->backend.isa = "";
}

static int load(struct inf_gguf *g, const struct inf_model_options *opt, struct inf_model **out, char *err)
{
	struct inf_model *m = calloc(1, sizeof *m);
	if (!m) {
		inf_gguf_free(g);
		return inf_fail(err, INF_ENOMEM, "out of memory");
	}
	m->g = g;
	m->vocab_only = opt && opt->vocab_only;
	int rc = 0;
	if (m->vocab_only) {
		/* Any architecture: only the tokenizer is used. */
		struct inf_gguf_str s;
		rc = inf_gguf_get_str(g, "general.architecture", &s, err);
		if (rc == 0)
			snprintf(m->arch_name, sizeof m->arch_name, "%.*s", (int)(s.len < 31 ? s.len : 31), s.p);
		m->info.arch = m->arch_name;
		rc = rc < 0 ? INF_EFORMAT : 0;
	} else if (g->n_tensors == 0) {
		rc = inf_fail(err, INF_EFORMAT,
			      "the file has no tensors (a vocabulary-only file): it can only be loaded "
			      "with vocab_only (inf_model_options), to tokenize and describe its vocabulary");
	} else {
		rc = load_hparams(m, err);
		if (!rc)
			rc = load_tensors(m, err);
	}
	if (!rc)
		rc = load_tokenizer(m, err);
	if (rc) {
		inf_model_free(m);
		return rc;
	}
	fill_info(m);
	if (opt && opt->prefault && !m->vocab_only) {
		/* Touch a byte per page so the first token does not fault the
		 * weights in; report progress as it goes. */
		volatile uint8_t sink = 0;
		uint64_t step = 4096, total = g->size, report = total / 100 + 1, next = 0;
		for (uint64_t off = 0; off < total; off += step) {
			sink ^= g->base[off];
			if (opt->progress && off >= next) {
				opt->progress((double)off / (double)total, opt->progress_user);
				next = off + report;
			}
		}
		(void)sink;
		if (opt->progress)
			opt->progress(1.0, opt->progress_user);
	}
	if (!m->vocab_only) {
		/* after the prefault: it would touch the pages packing releases */
		const struct inf_backend *b = inf_backend_select(&m->info.backend, err);
		void *state = NULL;
		if (!b || (rc = b->prepare(m, opt, &state, err))) {
			inf_model_free(m);
			return b ? rc : INF_EUNSUPPORTED;
		}
		m->backend = b;
		m->backend_state = state;
	}
	*out = m;
	return 0;
}

int inf_model_load(const char *path, const struct inf_model_options *opt, struct inf_model **out,
		   char err[INF_ERR_MAX])
{
	*out = NULL;
	struct inf_gguf *g;
	int rc = inf_gguf_open(path, &g, err);
	if (rc)
		return rc;
	char inner[INF_ERR_MAX];
	rc = load(g, opt, out, inner);
	if (rc)
		inf_fail(err, rc, "%s: %s", path, inner);
	return rc;
}

int inf_model_load_memory(const void *buf, size_t len, const struct inf_model_options *opt,
			  struct inf_model **out, char err[INF_ERR_MAX])
{
	*out = NULL;
	/* Tensor data is read as floats/halves in place: the buffer must be
	 * aligned like a mapping would be. */
	if ((uintptr_t)buf % 64)
		return inf_fail(err, INF_EINVAL, "the model buffer must be 64-byte aligned");
	struct inf_gguf *g;
	int rc = inf_gguf_parse(buf, len, &g, err);
	if (rc)
		return rc;
	return load(g, opt, out, err);
}

void inf_model_free(struct inf_model *m)
{
	if (!m)
		return;
	if (m->layers)
		for (uint32_t l = 0; l < m->n_layer; l++) {
			free(m->layers[l].attn_norm);
			free(m->layers[l].ffn_norm);
			free(m->layers[l].bq);
			free(m->layers[l].bk);
			free(m->layers[l].bv);
		}
	free(m->layers);
	free(m->output_norm);
	free(m->rope_freqs);
	free(m->chat_template);
	if (m->tok)
		inf_tokenizer_free(m->tok);
	if (m->backend)
		m->backend->release(m, m->backend_state);
	inf_gguf_free(m->g);
	free(m);
}

void inf_model_get_info(const struct inf_model *m, struct inf_model_info *info)
{
	*info = m->info;
}

/* ---- contexts ---- */

void inf_context_params_default(struct inf_context_params *p)
{
	memset(p, 0, sizeof *p);
}

/* The shared part of a context: each sequence's logits and position, and
 * the sampler's copy. */
static uint64_t shared_bytes(const struct inf_model *m, uint32_t n_seq)
{
	return (n_seq + 1ull) * m->n_vocab * sizeof(float) + n_seq * sizeof(uint32_t);
}

const char *inf_kv_type_name(enum inf_kv_type type)
{
	return type == INF_KV_F32 ? "f32" : type == INF_KV_F16 ? "f16" : "?";
}

uint64_t inf_context_bytes_seq(const struct inf_model *m, uint32_t n_ctx, enum inf_kv_type type, uint32_t n_seq)
{
	if (m->vocab_only)
		return 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	n_seq = n_seq ? n_seq : 1;
	struct inf_context_params p = { .n_ctx = n_ctx, .n_threads = cpus > 0 ? (uint32_t)cpus : 1, .kv_type = type,
					.n_seq = n_seq };
	uint64_t kv;
	return shared_bytes(m, n_seq) + m->backend->context_bytes(m, &p, &kv);
}

uint64_t inf_context_bytes(const struct inf_model *m, uint32_t n_ctx, enum inf_kv_type type)
{
	return inf_context_bytes_seq(m, n_ctx, type, 1);
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

int inf_context_create(struct inf_model *m, const struct inf_context_params *pin,
		       struct inf_context **out, char err[INF_ERR_MAX])
{
	*out = NULL;
	if (m->vocab_only)
		return inf_fail(err, INF_EUNSUPPORTED,
				"the model was loaded vocabulary-only (inf_model_options.vocab_only): it has no "
				"weights to evaluate");
	struct inf_context_params p = *pin;
	if (p.n_ctx == 0)
		p.n_ctx = m->n_ctx_train < 4096 ? m->n_ctx_train : 4096;
	if (p.n_ctx > m->n_ctx_train)
		return inf_fail(err, INF_ECONTEXT, "n_ctx %u is above the model's trained context of %u tokens",
				p.n_ctx, m->n_ctx_train);
	if (p.n_threads == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		p.n_threads = cpus > 0 ? (uint32_t)(cpus > 256 ? 256 : cpus) : 1;
	}
	if (p.n_threads > 256)
		return inf_fail(err, INF_EINVAL, "n_threads %u is out of range [1, 256]", p.n_threads);
	if ((unsigned)p.isa > INF_ISA_AVX512)
		return inf_fail(err, INF_EINVAL, "isa %d is not one of auto, portable, avx2, avx512", (int)p.isa);
	if ((unsigned)p.kv_type > INF_KV_F32)
		return inf_fail(err, INF_EINVAL, "kv_type %d is not one of f16, f32", (int)p.kv_type);
	if (p.n_seq == 0)
		p.n_seq = 1;
	if (p.n_seq > INF_MAX_SEQ)
		return inf_fail(err, INF_EINVAL, "n_seq %u is out of range [1, INF_MAX_SEQ %u]", p.n_seq, INF_MAX_SEQ);
	uint64_t kv = 0;
	uint64_t need = shared_bytes(m, p.n_seq) + m->backend->context_bytes(m, &p, &kv);
	uint64_t avail = p.max_bytes ? p.max_bytes : mem_available();
	char seqs[48] = "";
	if (p.n_seq > 1)
		snprintf(seqs, sizeof seqs, " x n_seq %u", p.n_seq);
	if (avail && need > avail)
		return inf_fail(err, INF_ECONTEXT,
				"n_ctx %u%s needs %llu MiB (%s KV cache %llu MiB + scratch), above the %llu MiB %s",
				p.n_ctx, seqs, (unsigned long long)(need >> 20), inf_kv_type_name(p.kv_type),
				(unsigned long long)(kv >> 20), (unsigned long long)(avail >> 20),
				p.max_bytes ? "allowed (max_bytes)" : "available (MemAvailable)");
	struct inf_context *c = calloc(1, sizeof *c);
	if (!c)
		return inf_fail(err, INF_ENOMEM, "out of memory");
	c->m = m;
	c->backend = m->backend;
	c->n_past = calloc(p.n_seq, sizeof *c->n_past);
	c->logits = calloc((size_t)p.n_seq * m->n_vocab, sizeof(float));
	c->work = calloc(m->n_vocab, sizeof(float));
	if (!c->n_past || !c->logits || !c->work) {
		inf_context_free(c);
		return inf_fail(err, INF_ENOMEM, "out of memory for a context of %u tokens", p.n_ctx);
	}
	/* the backend resolves its own parameters (cpu: the ISA) */
	int rc = c->backend->context_create(m, &p, &c->state, err);
	if (rc) {
		inf_context_free(c);
		return rc;
	}
	c->p = p;
	*out = c;
	return 0;
}

void inf_context_free(struct inf_context *c)
{
	if (!c)
		return;
	if (c->state)
		c->backend->context_free(c->state);
	free(c->n_past);
	free(c->logits);
	free(c->work);
	free(c);
}

void inf_context_get_params(const struct inf_context *c, struct inf_context_params *p)
{
	*p = c->p;
}
