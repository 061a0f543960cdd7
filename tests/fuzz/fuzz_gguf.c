/*
 * fuzz_gguf: the GGUF reader (inference/gguf.c) on a memory buffer, then
 * the model loader (inference/model.c) on what it accepts, then every
 * tensor dequantized.
 *
 * Oracle: on failure err is a non-empty NUL-terminated message; on success
 * every tensor lies inside the buffer, aligned, with its byte size matching
 * its type and shape, and every string and array lies inside the buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REQUIRE(cond)                                                                \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_gguf: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

static bool inside(const uint8_t *base, size_t size, const void *p, uint64_t n)
{
	const uint8_t *q = p;
	return q >= base && n <= size && (size_t)(q - base) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* aligned like a mapping, as inf_model_load_memory requires */
	uint8_t *buf = aligned_alloc(64, (size + 64) / 64 * 64);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct inf_gguf *g = NULL;
	char err[INF_ERR_MAX];
	memset(err, 0x55, sizeof err);
	int rc = inf_gguf_parse(buf, size, &g, err);
	if (rc) {
		REQUIRE(g == NULL);
		REQUIRE(memchr(err, 0, sizeof err) && err[0]);
		free(buf);
		return 0;
	}
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const struct inf_gguf_kv *kv = &g->kv[i];
		if (kv->type == INF_GGUF_STRING)
			REQUIRE(inside(buf, size, kv->v.s.p, kv->v.s.len));
		for (uint64_t j = 0; kv->arr_strs && j < kv->arr_n; j++)
			REQUIRE(inside(buf, size, kv->arr_strs[j].p, kv->arr_strs[j].len));
	}
	float *tmp = NULL;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct inf_gguf_tensor *t = &g->tensors[i];
		REQUIRE(inside(buf, size, t->data, t->n_bytes));
		REQUIRE(((const uint8_t *)t->data - buf - g->data_offset) % g->alignment == 0);
		REQUIRE(t->n_bytes == inf_row_bytes(t->type, t->n_elems));
		if (inf_type_computable(t->type) && t->n_elems <= (1u << 16)) {
			float *f = realloc(tmp, t->n_elems * sizeof *f);
			if (f) {
				tmp = f;
				REQUIRE(inf_dequantize(t->type, t->data, tmp, t->n_elems) == 0);
			}
		}
	}
	free(tmp);
	inf_gguf_free(g);

	struct inf_model *m = NULL;
	memset(err, 0x55, sizeof err);
	rc = inf_model_load_memory(buf, size, NULL, &m, err);
	if (rc) {
		REQUIRE(m == NULL);
		REQUIRE(memchr(err, 0, sizeof err) && err[0]);
	} else {
		struct inf_model_info info;
		inf_model_get_info(m, &info);
		REQUIRE(info.n_vocab > 0 && info.dim > 0);
		inf_model_free(m);
	}

	/* Vocabulary-only: any architecture, no tensors needed; what loads must
	 * tokenize into ids below n_vocab and refuse a context. */
	struct inf_model_options vo = { .vocab_only = true };
	memset(err, 0x55, sizeof err);
	rc = inf_model_load_memory(buf, size, &vo, &m, err);
	if (rc) {
		REQUIRE(m == NULL);
		REQUIRE(memchr(err, 0, sizeof err) && err[0]);
	} else {
		struct inf_model_info info;
		inf_model_get_info(m, &info);
		REQUIRE(info.vocab_only && info.n_vocab > 0 && info.dim == 0);
		if (inf_model_has_tokenizer(m)) {
			static const char text[] = "Hello world! <s> \xe2\x96\x81 12345 \xff\xfe";
			int32_t ids[128];
			size_t n;
			/* a vocabulary that cannot spell some byte of the text (no
			 * <0xXX> token for it, no unknown token) is an error that says so */
			memset(err, 0x55, sizeof err);
			if (inf_model_tokenize(m, text, sizeof text - 1, true, true, ids, 128, &n, err))
				REQUIRE(memchr(err, 0, sizeof err) && err[0]);
			else
				for (size_t i = 0; i < n && i < 128; i++)
					REQUIRE(ids[i] >= 0 && (uint32_t)ids[i] < info.n_vocab);
		}
		struct inf_context_params cp;
		struct inf_context *c = NULL;
		inf_context_params_default(&cp);
		REQUIRE(inf_context_create(m, &cp, &c, err) == INF_EUNSUPPORTED && c == NULL);
		inf_model_free(m);
	}
	free(buf);
	return 0;
}
