/*
 * bench/infer.c: inference speed against the memory-bandwidth bound.
 *
 * Builds (once, into the cache dir) random-weight llama models with the
 * project's GGUF writer: 271M (dim 1024, 16 layers, 16 heads, ffn 2816,
 * vocab 32000) and 15M (dim 288, 6 layers, 6 heads, ffn 768, vocab 32000),
 * each in F16, Q8_0 and Q4_0 (and 271M in Q4_K and Q6_K). Measures this machine's read bandwidth with
 * the same number of threads in the same run, then for each model: prompt
 * tokens/s (one batch) and generation tokens/s (one token at a time), and
 * generation as a fraction of the bound = bandwidth / bytes of weights read
 * per token. It never fails on a slow number.
 *   bench_infer CACHE_DIR [THREADS] [PROMPT_TOKENS] [GEN_TOKENS] [MODEL...]
 * MODEL (e.g. 271M-Q8_0) runs only the models named.
 * BENCH_BATCH=1: after each model's line, several sequences decoding
 * together (inf_evaluate_batch, one token of each per batch): aggregate
 * generation tok/s for 1, 2, 4 and 8 sequences and the ratio to 1.
 */
#include <immintrin.h>
#include <stddef.h>
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
	/* "-v2": with a tokenizer section, which llama.cpp requires to load a
	 * model (the files of the first version had none) */
	snprintf(path, cap, "%s/%s-%s-v2.gguf", dir, d->name, inf_type_name(d->type));
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
	s.with_vocab = true;   /* byte-level BPE, 32000 tokens: what llama.cpp needs to load it */
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

/* llama.cpp's llama-bench on the same file: the best of its two samples
 * for the prompt test and for the generation test (as ours is the best of
 * two). 0 where it failed; its output goes to stderr only on failure. */
struct llama_result {
	double prompt, gen;
};

static double max_sample(const char *line)
{
	const char *p = strstr(line, "\"samples_ts\"");
	double best = 0;
	if (!p || !(p = strchr(p, '[')))
		return 0;
	for (p++; *p && *p != ']';) {
		char *end;
		double v = strtod(p, &end);
		if (end == p) {
			p++;
			continue;
		}
		best = v > best ? v : best;
		p = end;
	}
	return best;
}

static struct llama_result run_llama(const char *exe, const char *model, uint32_t threads, uint32_t n_prompt,
				     uint32_t n_gen, enum inf_kv_type kv)
{
	struct llama_result r = { 0, 0 };
	if (strchr(exe, '\'') || strchr(model, '\'')) {
		fprintf(stderr, "bench_infer: LLAMA_BENCH or the model path holds a quote: not run\n");
		return r;
	}
	char cmd[2048], line[8192];
	snprintf(cmd, sizeof cmd, "'%s' -m '%s' -t %u -p %u -n %u -ctk %s -ctv %s -r 2 -o jsonl 2>&1", exe, model,
		 threads, n_prompt, n_gen, inf_kv_type_name(kv), inf_kv_type_name(kv));
	FILE *f = popen(cmd, "r");
	if (!f) {
		fprintf(stderr, "bench_infer: cannot run %s\n", exe);
		return r;
	}
	while (fgets(line, sizeof line, f)) {
		const char *np = strstr(line, "\"n_prompt\": "), *ng = strstr(line, "\"n_gen\": ");
		if (!np || !ng) {
			fputs(line, stderr);   /* llama-bench's messages: shown only when something failed */
			continue;
		}
		if (atoi(np + 12) > 0)
			r.prompt = max_sample(line);
		else if (atoi(ng + 9) > 0)
			r.gen = max_sample(line);
	}
	int st = pclose(f);
	if (st)
		fprintf(stderr, "bench_infer: %s exited with status %d on %s\n", exe, st, model);
	return r;
}

#define MAX_RUNS 16

struct result {
	double prompt, gen, gen0, bound, ll_prompt, ll_gen;
	/* derived per run: percentages of the bound, ratios to llama.cpp */
	double gen_pct, gen0_pct, ll_gen_pct, prompt_x, gen0_x, gen_x;
};

/* Sequences decoding together: each of n_seq sequences gets the prompt
 * (one batch per sequence), then n_gen batches of one token of each are
 * timed. Aggregate generation tok/s, the best of two. */
static double batch_gen(struct inf_context *c, uint32_t n_seq, const int32_t *prompt, uint32_t n_prompt,
			uint32_t n_gen, uint32_t n_vocab)
{
	char err[INF_ERR_MAX];
	double best = 0;
	for (int rep = 0; rep < 2; rep++) {
		for (uint32_t s = 0; s < n_seq; s++) {
			struct inf_batch_seq b = { s, prompt, n_prompt };
			inf_seq_truncate(c, s, 0, err);
			if (inf_evaluate_batch(c, &b, 1, err)) {
				fprintf(stderr, "%s\n", err);
				return 0;
			}
		}
		int32_t ids[INF_MAX_SEQ];
		struct inf_batch_seq b[INF_MAX_SEQ];
		double t0 = now_s();
		for (uint32_t t = 0; t < n_gen; t++) {
			for (uint32_t s = 0; s < n_seq; s++) {
				ids[s] = (int32_t)((t * 31 + s * 977) % n_vocab);
				b[s] = (struct inf_batch_seq){ s, &ids[s], 1 };
			}
			if (inf_evaluate_batch(c, b, n_seq, err)) {
				fprintf(stderr, "%s\n", err);
				return 0;
			}
		}
		double tps = (double)n_seq * n_gen / (now_s() - t0);
		best = tps > best ? tps : best;
	}
	return best;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* median (min-max) of field `off` over n results */
static void stat_of(const struct result *r, int n, size_t off, double *med, double *lo, double *hi)
{
	double v[MAX_RUNS];
	for (int i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&r[i] + off);
	qsort(v, (size_t)n, sizeof v[0], cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

/* BENCH_BATCH: 1, 2, 4 and 8 sequences decoding together after the
 * prompt, aggregate tok/s and the ratio to one sequence in the same
 * context (same code path, one entry per batch). */
static void print_batch(struct inf_model *m, const struct inf_context_params *base, uint32_t n_vocab,
			uint32_t n_prompt, uint32_t n_gen)
{
	static const uint32_t counts[] = { 1, 2, 4, 8 };
	struct inf_context_params p = *base;
	p.n_seq = 8;
	struct inf_context *c;
	char err[INF_ERR_MAX];
	if (inf_context_create(m, &p, &c, err)) {
		fprintf(stderr, "batch: %s\n", err);
		return;
	}
	int32_t *ids = malloc(n_prompt * sizeof *ids);
	for (uint32_t t = 0; t < n_prompt; t++)
		ids[t] = (int32_t)((t * 7919) % n_vocab);
	double one = 0;
	printf("%-11s", "  together:");
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		double tps = batch_gen(c, counts[i], ids, n_prompt, n_gen, n_vocab);
		if (counts[i] == 1)
			one = tps;
		printf("  %u seq %.1f tok/s (x%.2f)", counts[i], tps, one ? tps / one : 0);
		fflush(stdout);
	}
	printf("\n");
	fflush(stdout);
	free(ids);
	inf_context_free(c);
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
	bool no_pack = getenv("BENCH_NO_PACK") && strcmp(getenv("BENCH_NO_PACK"), "0");
	const char *kv_name = getenv("BENCH_KV") ? getenv("BENCH_KV") : "f16";
	enum inf_kv_type kv = !strcmp(kv_name, "f32") ? INF_KV_F32 : INF_KV_F16;
	if (strcmp(kv_name, inf_kv_type_name(kv))) {
		fprintf(stderr, "bench_infer: BENCH_KV must be f16 or f32, not %s\n", kv_name);
		return 2;
	}
	bool batch = getenv("BENCH_BATCH") && strcmp(getenv("BENCH_BATCH"), "0");
	const char *llama = getenv("LLAMA_BENCH");
	if (llama && !*llama)
		llama = NULL;
	int runs = getenv("BENCH_RUNS") ? atoi(getenv("BENCH_RUNS")) : 1;
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "bench_infer: BENCH_RUNS must be 1..%d, not %s\n", MAX_RUNS, getenv("BENCH_RUNS"));
		return 2;
	}
	static const struct model_def defs[] = {
		{ "15M", 288, 6, 6, 768, INF_TYPE_F16 },
		{ "15M", 288, 6, 6, 768, INF_TYPE_Q8_0 },
		{ "15M", 288, 6, 6, 768, INF_TYPE_Q4_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_F16 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q8_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q4_0 },
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q4_K },   /* beyond the list: Q4_K_M's main type */
		{ "271M", 1024, 16, 16, 2816, INF_TYPE_Q6_K },   /* and its other type (output, some v/down) */
	};
	enum { N_DEFS = sizeof defs / sizeof defs[0] };
	static struct result res[N_DEFS][MAX_RUNS];
	uint64_t per_token_of[N_DEFS] = { 0 };
	bool wanted[N_DEFS];
	for (size_t i = 0; i < N_DEFS; i++) {
		char name[64];
		snprintf(name, sizeof name, "%s-%s", defs[i].name, inf_type_name(defs[i].type));
		wanted[i] = argc <= 5;
		for (int a = 5; a < argc; a++)
			wanted[i] |= !strcmp(argv[a], name);
	}
	/* BENCH_WRITE_ONLY=1: write the wanted models, print their paths, measure
	 * nothing (bench/serve uses the same files). */
	if (getenv("BENCH_WRITE_ONLY") && strcmp(getenv("BENCH_WRITE_ONLY"), "0")) {
		for (size_t i = 0; i < N_DEFS; i++) {
			char path[512];
			if (!wanted[i])
				continue;
			if (ensure(argv[1], &defs[i], path, sizeof path))
				return 1;
			printf("%s\n", path);
		}
		return 0;
	}
	if (llama)
		printf("llama.cpp: %s (best of its 2 samples per test, run right after ours on the same file)\n", llama);
	/* Runs interleave: within a run every model is measured by us and then by
	 * llama.cpp, so a busy spell on the machine hits both alike. */
	for (int run = 0; run < runs; run++) {
		struct inf_pool *pool;
		if (inf_pool_create(threads, &pool))
			return 1;
		double bw = bandwidth(pool);
		inf_pool_free(pool);
		printf("run %d/%d: memory read bandwidth, %u threads: %.1f GB/s; KV cache %s\n", run + 1, runs, threads, bw,
		       inf_kv_type_name(kv));
		if (llama)
			printf("%-5s %-5s %9s %12s %11s %10s %9s %10s %9s %9s %9s %9s\n", "model", "type", "weights",
			       "prompt tok/s", "gen tok/s", "bound", "of bound", "ll prompt", "ll gen", "ll bound",
			       "prompt x", "gen x");
		else
			printf("%-5s %-5s %9s %12s %11s %10s %9s\n", "model", "type", "weights", "prompt tok/s",
			       "gen tok/s", "bound", "of bound");
		printf("      (gen: after the prompt; the line \"@0\": from an empty context, as llama-bench "
		       "measures it%s)\n", llama ? "; gen x = ours @0 / llama.cpp" : "");
		for (size_t i = 0; i < N_DEFS; i++) {
			char path[512], err[INF_ERR_MAX];
			if (!wanted[i])
				continue;
			if (ensure(argv[1], &defs[i], path, sizeof path))
				return 1;
			struct inf_model *m;
			struct inf_model_options mo = { .prefault = true, .no_pack = no_pack };
			if (inf_model_load(path, &mo, &m, err)) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			struct inf_model_info info;
			inf_model_get_info(m, &info);
			/* bytes read per generated token: every matrix once (the
			 * embedding contributes one row) */
			uint64_t per_token =
				info.weight_bytes - inf_row_bytes(defs[i].type, (uint64_t)info.dim * info.n_vocab);
			per_token_of[i] = per_token;
			if (run == 0 && info.packed_bytes)
				fprintf(stderr, "%s-%s: %.0f MB of weights packed at load\n", defs[i].name,
					inf_type_name(defs[i].type), info.packed_bytes / 1e6);
			struct inf_context_params p;
			inf_context_params_default(&p);
			p.n_ctx = n_prompt + n_gen + 1;
			p.n_threads = threads;
			p.kv_type = kv;
			struct inf_context *c;
			if (inf_context_create(m, &p, &c, err)) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			int32_t *ids = malloc(n_prompt * sizeof *ids);
			for (uint32_t t = 0; t < n_prompt; t++)
				ids[t] = (int32_t)((t * 7919) % info.n_vocab);
			double best_prompt = 0, best_gen = 0, best_gen0 = 0;
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
				/* and from position 0, as llama-bench measures it */
				inf_truncate(c, 0, err);
				t0 = now_s();
				for (uint32_t t = 0; t < n_gen; t++) {
					int32_t id = (int32_t)((t * 31) % info.n_vocab);
					inf_evaluate(c, &id, 1, err);
				}
				double tg0 = n_gen / (now_s() - t0);
				best_prompt = tp > best_prompt ? tp : best_prompt;
				best_gen = tg > best_gen ? tg : best_gen;
				best_gen0 = tg0 > best_gen0 ? tg0 : best_gen0;
			}
			free(ids);
			inf_context_free(c);
			struct result *r = &res[i][run];
			r->prompt = best_prompt;
			r->gen = best_gen;
			r->gen0 = best_gen0;
			r->bound = bw * 1e9 / per_token;
			r->gen_pct = 100 * r->gen / r->bound;
			r->gen0_pct = 100 * r->gen0 / r->bound;
			printf("%-5s %-5s %7.0fMB %12.1f %11.1f %10.1f %8.0f%%\n", defs[i].name, inf_type_name(defs[i].type),
			       per_token / 1e6, r->prompt, r->gen, r->bound, r->gen_pct);
			printf("%-5s %-5s %9s %12s %11.1f %10s %8.0f%%", "", "@0", "", "", r->gen0, "", r->gen0_pct);
			if (llama) {
				fflush(stdout);
				struct llama_result l = run_llama(llama, path, threads, n_prompt, n_gen, kv);
				r->ll_prompt = l.prompt;
				r->ll_gen = l.gen;
				r->ll_gen_pct = 100 * l.gen / r->bound;
				r->prompt_x = l.prompt ? r->prompt / l.prompt : 0;
				r->gen0_x = l.gen ? r->gen0 / l.gen : 0;
				r->gen_x = l.gen ? r->gen / l.gen : 0;
				printf(" %10.1f %9.1f %8.0f%% %9.2f %9.2f", l.prompt, l.gen, r->ll_gen_pct, r->prompt_x,
				       r->gen0_x);
			}
			printf("\n");
			fflush(stdout);
			if (batch)
				print_batch(m, &p, info.n_vocab, n_prompt, n_gen);
			inf_model_free(m);
		}
	}
	if (runs < 2)
		return 0;
	printf("\nmedian (min-max) of %d runs%s\n", runs, llama ? "; x = ours / llama.cpp, per run" : "");
	for (size_t i = 0; i < N_DEFS; i++) {
		if (!wanted[i])
			continue;
		const struct result *r = res[i];
		double med, lo, hi;
		printf("%-5s %-5s %7.0fMB\n", defs[i].name, inf_type_name(defs[i].type), per_token_of[i] / 1e6);
#define ROW(label, field, fmt)                                                       \
		stat_of(r, runs, offsetof(struct result, field), &med, &lo, &hi);      \
		printf("  %-22s " fmt " (" fmt "-" fmt ")\n", label, med, lo, hi)
		ROW("prompt tok/s", prompt, "%.1f");
		ROW("gen tok/s", gen, "%.1f");
		ROW("gen @0 tok/s", gen0, "%.1f");
		ROW("bound tok/s", bound, "%.1f");
		ROW("gen of bound %", gen_pct, "%.0f");
		ROW("gen @0 of bound %", gen0_pct, "%.0f");
		if (llama) {
			ROW("llama.cpp prompt tok/s", ll_prompt, "%.1f");
			ROW("llama.cpp gen tok/s", ll_gen, "%.1f");
			ROW("llama.cpp of bound %", ll_gen_pct, "%.0f");
			ROW("prompt x", prompt_x, "%.2f");
			ROW("gen @0 x", gen0_x, "%.2f");
			ROW("gen (after prompt) x", gen_x, "%.2f");
		}
#undef ROW
	}
	return 0;
}
