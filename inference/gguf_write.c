/*
 * gguf_write.c: a GGUF v2/v3 writer, for tests and benchmarks to make
 * models of any architecture and type (random weights), and the seeds of
 * the GGUF fuzzer. Out-of-memory makes the writer fail at finish.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

struct wtensor {
	char name[INF_GGUF_MAX_NAME + 1];
	uint32_t type, n_dims;
	uint64_t ne[INF_GGUF_MAX_DIMS];
	uint64_t offset, n_bytes;
};

struct inf_gguf_writer {
	uint32_t version, alignment;
	uint64_t n_kv;
	struct buf kv, data;
	struct wtensor *tensors;
	size_t n_tensors, cap_tensors;
	bool oom;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_le(struct buf *b, uint64_t v, unsigned n)
{
	uint8_t t[8];
	for (unsigned i = 0; i < n; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	put(b, t, n);
}

static void put_str(struct buf *b, const char *s, size_t n)
{
	put_le(b, n, 8);
	put(b, s, n);
}

struct inf_gguf_writer *inf_gguf_writer_new(uint32_t version, uint32_t alignment)
{
	struct inf_gguf_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->version = version;
	w->alignment = alignment ? alignment : 32;
	if (alignment)
		inf_gguf_w_u32(w, "general.alignment", alignment);
	return w;
}

void inf_gguf_writer_free(struct inf_gguf_writer *w)
{
	if (!w)
		return;
	free(w->kv.p);
	free(w->data.p);
	free(w->tensors);
	free(w);
}

static void key(struct inf_gguf_writer *w, const char *k, uint32_t type)
{
	put_str(&w->kv, k, strlen(k));
	put_le(&w->kv, type, 4);
	w->n_kv++;
}

void inf_gguf_w_u32(struct inf_gguf_writer *w, const char *k, uint32_t v)
{
	key(w, k, INF_GGUF_U32);
	put_le(&w->kv, v, 4);
}

void inf_gguf_w_i32(struct inf_gguf_writer *w, const char *k, int32_t v)
{
	key(w, k, INF_GGUF_I32);
	put_le(&w->kv, (uint32_t)v, 4);
}

void inf_gguf_w_f32(struct inf_gguf_writer *w, const char *k, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	key(w, k, INF_GGUF_F32);
	put_le(&w->kv, u, 4);
}

void inf_gguf_w_bool(struct inf_gguf_writer *w, const char *k, bool v)
{
	key(w, k, INF_GGUF_BOOL);
	put_le(&w->kv, v, 1);
}

void inf_gguf_w_str(struct inf_gguf_writer *w, const char *k, const char *v)
{
	key(w, k, INF_GGUF_STRING);
	put_str(&w->kv, v, strlen(v));
}

void inf_gguf_w_arr(struct inf_gguf_writer *w, const char *k, uint32_t type, const void *items, uint64_t n)
{
	static const unsigned size[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
	key(w, k, INF_GGUF_ARRAY);
	put_le(&w->kv, type, 4);
	put_le(&w->kv, n, 8);
	if (type < sizeof size / sizeof size[0] && size[type])
		put(&w->kv, items, n * size[type]);   /* host is little-endian (x86, arm64) */
}

void inf_gguf_w_arr_str(struct inf_gguf_writer *w, const char *k, const char *const *items, uint64_t n)
{
	key(w, k, INF_GGUF_ARRAY);
	put_le(&w->kv, INF_GGUF_STRING, 4);
	put_le(&w->kv, n, 8);
	for (uint64_t i = 0; i < n; i++)
		put_str(&w->kv, items[i], strlen(items[i]));
}

void inf_gguf_w_arr_strn(struct inf_gguf_writer *w, const char *k, const char *const *items,
			 const uint32_t *lens, uint64_t n)
{
	key(w, k, INF_GGUF_ARRAY);
	put_le(&w->kv, INF_GGUF_STRING, 4);
	put_le(&w->kv, n, 8);
	for (uint64_t i = 0; i < n; i++)
		put_str(&w->kv, items[i], lens[i]);
}

void inf_gguf_w_tensor(struct inf_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
		       const uint64_t *ne, const void *data)
{
	if (w->n_tensors == w->cap_tensors) {
		size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
		struct wtensor *t = realloc(w->tensors, cap * sizeof *t);
		if (!t) {
			w->oom = true;
			return;
		}
		w->tensors = t;
		w->cap_tensors = cap;
	}
	struct wtensor *t = &w->tensors[w->n_tensors++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->type = type;
	t->n_dims = n_dims;
	uint64_t n = 1;
	for (uint32_t d = 0; d < n_dims; d++) {
		t->ne[d] = ne[d];
		n *= ne[d];
	}
	t->n_bytes = inf_row_bytes(type, n);
	static const uint8_t zero[64];
	while (w->data.len % w->alignment)
		put(&w->data, zero, 1);
	t->offset = w->data.len;
	put(&w->data, data, t->n_bytes);
}

void inf_gguf_w_tensor_f32(struct inf_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
			   const uint64_t *ne, const float *data)
{
	uint64_t n = 1;
	for (uint32_t d = 0; d < n_dims; d++)
		n *= ne[d];
	void *q = malloc(inf_row_bytes(type, n) + 1);
	if (!q || inf_quantize(type, data, q, n)) {
		free(q);
		w->oom = true;
		return;
	}
	inf_gguf_w_tensor(w, name, type, n_dims, ne, q);
	free(q);
}

uint8_t *inf_gguf_writer_finish(struct inf_gguf_writer *w, size_t *len)
{
	struct buf out = { 0 };
	put_le(&out, 0x46554747u, 4);
	put_le(&out, w->version, 4);
	put_le(&out, w->n_tensors, 8);
	put_le(&out, w->n_kv, 8);
	put(&out, w->kv.p, w->kv.len);
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct wtensor *t = &w->tensors[i];
		put_str(&out, t->name, strlen(t->name));
		put_le(&out, t->n_dims, 4);
		for (uint32_t d = 0; d < t->n_dims; d++)
			put_le(&out, t->ne[d], 8);
		put_le(&out, t->type, 4);
		put_le(&out, t->offset, 8);
	}
	static const uint8_t zero[64];
	while (w->n_tensors && out.len % w->alignment)
		put(&out, zero, 1);
	put(&out, w->data.p, w->data.len);
	if (out.oom || w->oom || w->kv.oom || w->data.oom) {
		free(out.p);
		return NULL;
	}
	*len = out.len;
	return out.p;
}

int inf_gguf_writer_save(struct inf_gguf_writer *w, const char *path)
{
	size_t len;
	uint8_t *p = inf_gguf_writer_finish(w, &len);
	if (!p)
		return INF_ENOMEM;
	FILE *f = fopen(path, "wb");
	int rc = f ? 0 : INF_EIO;
	if (f && fwrite(p, 1, len, f) != len)
		rc = INF_EIO;
	if (f && fclose(f))
		rc = INF_EIO;
	free(p);
	return rc;
}

/* ---- random-weight models ---- */

void inf_test_model_spec_default(struct inf_test_model_spec *s)
{
	memset(s, 0, sizeof *s);
	s->arch = "llama";
	s->dim = 64;
	s->n_layer = 2;
	s->n_head = 4;
	s->n_head_kv = 2;
	s->ffn_dim = 128;
	s->n_vocab = 300;
	s->n_ctx_train = 256;
	s->wtype = INF_TYPE_F32;
	s->embd_type = INF_TYPE_F32;
	s->rope_base = 10000;
	s->seed = 1;
	s->with_vocab = true;
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static float uniform(uint64_t *s)   /* [-1, 1) */
{
	return (float)((next(s) >> 11) * 0x1p-53 * 2 - 1);
}

static void add_matrix(struct inf_gguf_writer *w, uint64_t *rng, const char *name, uint32_t type,
		       uint64_t cols, uint64_t rows, float scale)
{
	uint64_t n = cols * rows, ne[2] = { cols, rows };
	float *x = malloc(n * sizeof *x);
	if (!x) {
		w->oom = true;
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		x[i] = uniform(rng) * scale;
	inf_gguf_w_tensor_f32(w, name, type, rows > 1 ? 2 : 1, ne, x);
	free(x);
}

static void add_vector(struct inf_gguf_writer *w, uint64_t *rng, const char *name, uint64_t n,
		       float center, float spread)
{
	float *x = malloc(n * sizeof *x);
	if (!x) {
		w->oom = true;
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		x[i] = center + spread * uniform(rng);
	inf_gguf_w_tensor(w, name, INF_TYPE_F32, 1, &n, x);
	free(x);
}

/* GPT-2's byte-to-character map: printable bytes stand for themselves, the
 * rest map to U+0100 onwards, in byte order. */
static void byte_token(unsigned b, char out[4])
{
	unsigned cp;
	if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) {
		cp = b;
	} else {
		unsigned k = 0;
		for (unsigned c = 0; c < b; c++)
			if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff)))
				k++;
		cp = 256 + k;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = 0;
	} else {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		out[2] = 0;
	}
}

static void add_vocab(struct inf_gguf_writer *w, const struct inf_test_model_spec *s)
{
	uint32_t n = s->n_vocab;
	char **tok = calloc(n, sizeof *tok);
	char **merges = calloc(n, sizeof *merges);
	int32_t *types = calloc(n, sizeof *types);
	if (!tok || !merges || !types)
		goto out;
	uint32_t n_merges = 0, i = 0;
	static const char letters[] = "etaoinshrdlu";
	for (; i < 256 && i < n - 2; i++) {
		tok[i] = malloc(4);
		if (!tok[i])
			goto out;
		byte_token(i, tok[i]);
		types[i] = INF_TOKEN_NORMAL;
	}
	for (; i < n - 2; i++) {   /* two-letter merges "e t" -> "et" */
		unsigned k = i - 256, a = k % 12, b = (k / 12) % 12;
		tok[i] = malloc(16);
		merges[n_merges] = malloc(8);
		if (!tok[i] || !merges[n_merges])
			goto out;
		if (k < 144) {
			snprintf(tok[i], 16, "%c%c", letters[a], letters[b]);
			snprintf(merges[n_merges++], 8, "%c %c", letters[a], letters[b]);
		} else {
			snprintf(tok[i], 16, "<u%u>", k);   /* unused filler */
			free(merges[n_merges]);
			merges[n_merges] = NULL;
		}
		types[i] = INF_TOKEN_NORMAL;
	}
	tok[n - 2] = strdup(strcmp(s->arch, "qwen2") ? "<|begin_of_text|>" : "<|im_start|>");
	tok[n - 1] = strdup(strcmp(s->arch, "qwen2") ? "<|eot_id|>" : "<|im_end|>");
	if (!tok[n - 2] || !tok[n - 1])
		goto out;
	types[n - 2] = types[n - 1] = INF_TOKEN_CONTROL;
	inf_gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	inf_gguf_w_str(w, "tokenizer.ggml.pre", strcmp(s->arch, "qwen2") ? "llama-bpe" : "qwen2");
	inf_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, n);
	inf_gguf_w_arr(w, "tokenizer.ggml.token_type", INF_GGUF_I32, types, n);
	inf_gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, n_merges);
	if (strcmp(s->arch, "qwen2")) {
		inf_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", n - 2);
		inf_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", true);
		inf_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", n - 1);
		inf_gguf_w_str(w, "tokenizer.chat_template",
			       "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
			       "'<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}");
	} else {
		inf_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", n - 1);
		inf_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", false);
		inf_gguf_w_str(w, "tokenizer.chat_template",
			       "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
			       "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}");
	}
out:
	if (tok)
		for (uint32_t j = 0; j < n; j++)
			free(tok[j]);
	if (merges)
		for (uint32_t j = 0; j < n; j++)
			free(merges[j]);
	free(tok);
	free(merges);
	free(types);
}

struct inf_gguf_writer *inf_test_model_build(const struct inf_test_model_spec *s)
{
	struct inf_gguf_writer *w = inf_gguf_writer_new(3, 0);
	if (!w)
		return NULL;
	uint64_t rng = s->seed * 0x9e3779b97f4a7c15ull + 1;
	char k[128];
	const char *a = s->arch;
	uint32_t hd = s->dim / s->n_head, qd = hd * s->n_head, kvd = hd * s->n_head_kv;
	inf_gguf_w_str(w, "general.architecture", a);
	inf_gguf_w_str(w, "general.name", "tether random test model");
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, a), k)
	inf_gguf_w_u32(w, KEY("context_length"), s->n_ctx_train);
	inf_gguf_w_u32(w, KEY("embedding_length"), s->dim);
	inf_gguf_w_u32(w, KEY("block_count"), s->n_layer);
	inf_gguf_w_u32(w, KEY("feed_forward_length"), s->ffn_dim);
	inf_gguf_w_u32(w, KEY("attention.head_count"), s->n_head);
	inf_gguf_w_u32(w, KEY("attention.head_count_kv"), s->n_head_kv);
	inf_gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
	inf_gguf_w_f32(w, KEY("rope.freq_base"), s->rope_base);
	inf_gguf_w_u32(w, KEY("rope.dimension_count"), hd);
#undef KEY
	if (s->with_vocab && s->n_vocab > 258)
		add_vocab(w, s);
	float sc = 1.0f / sqrtf((float)s->dim), sf = 1.0f / sqrtf((float)s->ffn_dim);
	add_matrix(w, &rng, "token_embd.weight", s->embd_type, s->dim, s->n_vocab, 1.0f);
	if (s->rope_freqs) {
		float *f = malloc(hd / 2 * sizeof *f);
		uint64_t n = hd / 2;
		if (f) {
			/* llama3-style: low frequencies stretched by up to 8x */
			for (uint32_t i = 0; i < hd / 2; i++)
				f[i] = i < hd / 4 ? 1.0f : 1.0f + 7.0f * (float)(i - hd / 4) / (float)(hd / 4);
			inf_gguf_w_tensor(w, "rope_freqs.weight", INF_TYPE_F32, 1, &n, f);
			free(f);
		}
	}
	for (uint32_t l = 0; l < s->n_layer; l++) {
		char name[64];
#define T(suffix) (snprintf(name, sizeof name, "blk.%u." suffix, l), name)
		add_vector(w, &rng, T("attn_norm.weight"), s->dim, 1.0f, 0.2f);
		add_matrix(w, &rng, T("attn_q.weight"), s->wtype, s->dim, qd, sc);
		add_matrix(w, &rng, T("attn_k.weight"), s->wtype, s->dim, kvd, sc);
		add_matrix(w, &rng, T("attn_v.weight"), s->v_down_type ? s->v_down_type : s->wtype, s->dim, kvd, sc);
		if (!strcmp(a, "qwen2")) {
			add_vector(w, &rng, T("attn_q.bias"), qd, 0.0f, 0.1f);
			add_vector(w, &rng, T("attn_k.bias"), kvd, 0.0f, 0.1f);
			add_vector(w, &rng, T("attn_v.bias"), kvd, 0.0f, 0.1f);
		}
		add_matrix(w, &rng, T("attn_output.weight"), s->wtype, qd, s->dim, sc);
		add_vector(w, &rng, T("ffn_norm.weight"), s->dim, 1.0f, 0.2f);
		add_matrix(w, &rng, T("ffn_gate.weight"), s->wtype, s->dim, s->ffn_dim, sc);
		add_matrix(w, &rng, T("ffn_up.weight"), s->wtype, s->dim, s->ffn_dim, sc);
		add_matrix(w, &rng, T("ffn_down.weight"), s->v_down_type ? s->v_down_type : s->wtype, s->ffn_dim,
			   s->dim, sf);
#undef T
	}
	add_vector(w, &rng, "output_norm.weight", s->dim, 1.0f, 0.2f);
	if (!s->tied)
		add_matrix(w, &rng, "output.weight", s->wtype, s->dim, s->n_vocab, sc);
	return w;
}
