/*
 * bench/infer.c: inference speed against the memory-bandwidth bound.
 *
 * Builds (once, into the cache dir) random-weight llama models with the
 * project's GGUF writer: 271M (dim 1024, 16 layers, 16 heads, ffn 2816,
 * vocab 32000) and 15M (dim 288, 6 layers, 6 heads, ffn 768, vocab 32000),
 * each in F16, Q8_0 and Q4_0. Measures this machine's read bandwidth with
 * the same number of threads in the same run, then for each model: prompt
 * tokens/s (one batch) and generation tokens/s (one token at a time), and
 * generation as a fraction of the bound = bandwidth / bytes of weights read
 * per token. It never fails on a slow number.
 *   bench_infer CACHE_DIR [THREADS] [PROMPT_TOKENS] [GEN_TOKENS] [MODEL...]
 * MODEL (e.g. 271M-Q8_0) runs only the models named.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct bw_job {
	const uint8_t *buf;
	size_t len;
	uint64_t sums[256 * 8];
};

__attribute__((target("avx2"))) static void bw_run(void *arg, uint32_t ith, uint32_t nth)
{
	struct bw_job *j = arg;
	size_t per = j->len / nth / 128 * 128;
	const uint8_t *p = j->buf + per * ith, *end = p + per;
	__m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
	for (; p < end; p += 128) {
		a = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)p));
		b = _mm256_xor_si256(b, _mm256_load_si256((const __m256i *)(p + 32)));
		c = _mm256_xor_si256(c, _mm256_load_si256((const __m256i *)(p + 64)));
		d = _mm256_xor_si256(d, _mm256_load_si256((const __m256i *)(p + 96)));
	}
	a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
	j->sums[ith * 8] = (uint64_t)_mm256_extract_epi64(a, 0);
}

/* GB/s reading a buffer far larger than the caches, best of 5. */
static double bandwidth(struct inf_pool *pool)
{
	size_t len = (size_t)1 << 30;
	struct bw_job *j = calloc(1, sizeof *j);
	uint8_t *buf = aligned_alloc(64, len);
	if (!j || !buf)
		return 0;
	memset(buf, 1, len);
	j->buf = buf;
	j->len = len;
	double best = 0;
	for (int r = 0; r < 5; r++) {
		double t0 = now_s();
		inf_pool_run(pool, bw_run, j);
		double gbs = len / (now_s() - t0) / 1e9;
		if (gbs > best)
			best = gbs;
	}
	free(buf);
	free(j);
	return best;
}

struct model_def {
	const char *name;
	uint32_t dim, n_layer, n_head, ffn;
	uint32_t type;
};

static int ensure(const char *dir, const struct model_def *d, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s-%s.gguf", dir, d->name, inf_type_name(d->type));
	struct stat st;
	if (!stat(path, &st))
		return 0;
	fprintf(stderr, "writing %s ...\n", path);
	struct inf_test_model_spec s;
	inf_test_model_spec_default(&s);
	s.dim = d->dim;
	s.n_layer = d->n_layer;
	s.n_head = s.n_head_kv = d->n_head;
	s.ffn_dim = d->ffn;
	s.n_vocab = 32000;
	s.n_ctx_train = 2048;
	s.wtype = s.embd_type = d->type;
	s.with_vocab = false;
	struct inf_gguf_writer *w = inf_test_model_build(&s);
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int rc = w ? inf_gguf_writer_save(w, tmp) : -1;
	inf_gguf_writer_free(w);
	if (rc || rename(tmp, path)) {
		fprintf(stderr, "bench_infer: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_infer CACHE_DIR [THREADS] [PROMPT_TOKENS] [GEN_TOKENS] [MODEL...]\n");
		return 2;
	}
	uint32_t threads = argc > 2 ? (uint32_t)atoi(argv[2]) : 2;
	uint32_t n_prompt = argc > 3 ? (uint32_t)atoi(argv[3]) : 128;
	uint32_t n_gen = argc > 4 ? (uint32_t)atoi(argv[4]) : 32;
	static const struct model_def defs[] = {
		{ "15M", 288, 6, 6, 768, INF_TYPE_F16 },
		{ "15M", 288, 6, 6, 768, INF_TYPE_Q8_0 },
		{ "15M", 288, 6, 6, 768, INF_TYPE_Q4_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_F16 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q8_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q4_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q4_K },   /* beyond the list: Q4_K_M's main type */
	};
	struct inf_pool *pool;
	if (inf_pool_create(threads, &pool))
		return 1;
	double bw = bandwidth(pool);
	inf_pool_free(pool);
	printf("memory read bandwidth, %u threads: %.1f GB/s\n", threads, bw);
	printf("%-5s %-5s %9s %12s %11s %10s %9s\n", "model", "type", "weights", "prompt tok/s", "gen tok/s",
	       "bound", "of bound");
	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		char path[512], err[INF_ERR_MAX], name[64];
		snprintf(name, sizeof name, "%s-%s", defs[i].name, inf_type_name(defs[i].type));
		bool wanted = argc <= 5;
		for (int a = 5; a < argc; a++)
			wanted |= !strcmp(argv[a], name);
		if (!wanted)
			continue;
		if (ensure(argv[1], &defs[i], path, sizeof path))
			return 1;
		struct inf_model *m;
		struct inf_model_options mo = { .prefault = true };
		if (inf_model_load(path, &mo, &m, err)) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		struct inf_model_info info;
		inf_model_get_info(m, &info);
		/* bytes read per generated token: every matrix once (the
		 * embedding contributes one row) */
		uint64_t per_token = info.weight_bytes - inf_row_bytes(defs[i].type, (uint64_t)info.dim * info.n_vocab);
		struct inf_context_params p;
		inf_context_params_default(&p);
		p.n_ctx = n_prompt + n_gen + 1;
		p.n_threads = threads;
		struct inf_context *c;
		if (inf_context_create(m, &p, &c, err)) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		int32_t *ids = malloc(n_prompt * sizeof *ids);
		for (uint32_t t = 0; t < n_prompt; t++)
			ids[t] = (int32_t)((t * 7919) % info.n_vocab);
		double best_prompt = 0, best_gen = 0;
		for (int rep = 0; rep < 2; rep++) {
			inf_truncate(c, 0, err);
			double t0 = now_s();
			if (inf_evaluate(c, ids, n_prompt, err)) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			double tp = n_prompt / (now_s() - t0);
			t0 = now_s();
			for (uint32_t t = 0; t < n_gen; t++) {
				int32_t id = (int32_t)((t * 31) % info.n_vocab);
				inf_evaluate(c, &id, 1, err);
			}
			double tg = n_gen / (now_s() - t0);
			best_prompt = tp > best_prompt ? tp : best_prompt;
			best_gen = tg > best_gen ? tg : best_gen;
		}
		double bound = bw * 1e9 / per_token;
		printf("%-5s %-5s %7.0fMB %12.1f %11.1f %10.1f %8.0f%%\n", defs[i].name, inf_type_name(defs[i].type),
		       per_token / 1e6, best_prompt, best_gen, bound, 100 * best_gen / bound);
		fflush(stdout);
		free(ids);
		inf_context_free(c);
		inf_model_free(m);
	}
	return 0;
}
