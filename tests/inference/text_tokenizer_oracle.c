/*
 * The tokenizers against independent implementations on real vocabularies:
 * tests/tokenizer-oracle/export.mjs writes each npm oracle's vocabulary (as a
 * GGUF tokenizer section would hold it) and its ids for >= 1,000 strings;
 * this program builds struct inf_vocab_spec from the file, tokenizes every
 * string and compares the ids exactly. It also checks the round trip
 * (detokenize(tokenize(raw)) == raw) on the raw bytes, invalid UTF-8 included.
 *
 * Then the same vocabulary goes through GGUF: it is written with the
 * project's GGUF writer as llama.cpp's converter lays out a tokenizer section
 * (LLaMA 2: model llama, pre default, scores, token types, add_bos; LLaMA 3:
 * model gpt2, pre llama-bpe, token types, merges), with no tensors like
 * llama.cpp's ggml-vocab-*.gguf, to DIR/NAME.gguf; loaded vocabulary-only
 * through the public API (inf_model_load), every string is compared again,
 * and, given TETHER, a sample of them through `tether tokenize --json`.
 *
 *   text_tokenizer_oracle DIR NAME [TETHER]
 *       (reads DIR/NAME.vocab and DIR/NAME.cases, writes DIR/NAME.gguf)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inference.h"
#include "internal.h"
#include "text.h"
#include "tokenizer_internal.h"

struct vocab {
	char model[64], pre[64];
	struct inf_vocab_spec spec;
	char **tokens, **merges;
	uint32_t *token_lens, *merge_lens;
	float *scores;
	int32_t *types;
};

static int unhex(const char *s, char **out, uint32_t *len)
{
	size_t n = strlen(s);
	char *b;

	if (strcmp(s, "-") == 0)
		n = 0;
	if (n % 2)
		return -1;
	b = malloc(n / 2 + 1);
	if (!b)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return -1;
		}
		b[i] = (char)v;
	}
	b[n / 2] = 0;
	*out = b;
	*len = (uint32_t)(n / 2);
	return 0;
}

static char *read_line(FILE *f)
{
	static char *line;
	static size_t cap;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0)
		return NULL;
	if (n && line[n - 1] == '\n')
		line[n - 1] = 0;
	return line;
}

static int load_vocab(const char *path, struct vocab *v)
{
	FILE *f = fopen(path, "r");
	char *line, key[32], val[64];
	uint32_t n_tokens = 0, n_merges = 0;
	int32_t bos = -1, eos = -1, unk = -1, eot = -1, asp = -1;

	if (!f) {
		perror(path);
		return -1;
	}
	line = read_line(f);
	if (!line || strcmp(line, "tether-vocab 1") != 0)
		goto bad;
	while ((line = read_line(f)) && sscanf(line, "%31s %63s", key, val) == 2) {
		if (!strcmp(key, "model"))
			snprintf(v->model, sizeof v->model, "%s", val);
		else if (!strcmp(key, "pre"))
			snprintf(v->pre, sizeof v->pre, "%s", val);
		else if (!strcmp(key, "bos"))
			bos = atoi(val);
		else if (!strcmp(key, "eos"))
			eos = atoi(val);
		else if (!strcmp(key, "unk"))
			unk = atoi(val);
		else if (!strcmp(key, "eot"))
			eot = atoi(val);
		else if (!strcmp(key, "add_space_prefix"))
			asp = atoi(val);
		else if (!strcmp(key, "n_tokens"))
			n_tokens = (uint32_t)strtoul(val, NULL, 10);
		else if (!strcmp(key, "n_merges")) {
			n_merges = (uint32_t)strtoul(val, NULL, 10);
			break;
		}
	}
	v->tokens = calloc(n_tokens, sizeof *v->tokens);
	v->token_lens = calloc(n_tokens, sizeof *v->token_lens);
	v->scores = calloc(n_tokens, sizeof *v->scores);
	v->types = calloc(n_tokens, sizeof *v->types);
	v->merges = calloc(n_merges + 1, sizeof *v->merges);
	v->merge_lens = calloc(n_merges + 1, sizeof *v->merge_lens);
	for (uint32_t i = 0; i < n_tokens; i++) {
		char hexs[4096];
		int type;
		double score;

		line = read_line(f);
		if (!line || sscanf(line, "%d %lf %4095s", &type, &score, hexs) != 3 ||
		    unhex(hexs, &v->tokens[i], &v->token_lens[i]))
			goto bad;
		v->types[i] = type;
		v->scores[i] = (float)score;
	}
	for (uint32_t i = 0; i < n_merges; i++) {
		line = read_line(f);
		if (!line || unhex(line, &v->merges[i], &v->merge_lens[i]))
			goto bad;
	}
	fclose(f);
	v->spec = (struct inf_vocab_spec){
		.model = v->model,
		.pre = strcmp(v->pre, "-") ? v->pre : NULL,
		.n_tokens = n_tokens,
		.tokens = (const char *const *)v->tokens,
		.token_lens = v->token_lens,
		.scores = strcmp(v->model, "llama") == 0 ? v->scores : NULL,
		.types = v->types,
		.n_merges = n_merges,
		.merges = (const char *const *)v->merges,
		.merge_lens = v->merge_lens,
		.bos_id = bos, .eos_id = eos, .unk_id = unk, .pad_id = -1, .eot_id = eot,
		.add_bos = -1, .add_eos = -1, .add_space_prefix = asp,
	};
	return 0;
bad:
	fprintf(stderr, "%s: malformed vocabulary file\n", path);
	fclose(f);
	return -1;
}

static void free_vocab(struct vocab *v)
{
	for (uint32_t i = 0; i < v->spec.n_tokens; i++)
		free(v->tokens[i]);
	for (uint32_t i = 0; i < v->spec.n_merges; i++)
		free(v->merges[i]);
	free(v->tokens), free(v->token_lens), free(v->scores), free(v->types);
	free(v->merges), free(v->merge_lens);
}

static void print_escaped(const char *s, size_t len)
{
	fputc('"', stderr);
	for (size_t i = 0; i < len && i < 200; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fprintf(stderr, len > 200 ? "\"...\n" : "\"\n");
}

static void print_ids(const char *what, const int32_t *ids, size_t n, size_t at)
{
	size_t from = at > 6 ? at - 6 : 0;

	fprintf(stderr, "   %s (%zu ids) from #%zu:", what, n, from);
	for (size_t i = from; i < n && i < from + 16; i++)
		fprintf(stderr, i == at ? " [%d]" : " %d", ids[i]);
	fprintf(stderr, "\n");
}

/* Concatenated pieces; SentencePiece's space prefix taken off again. */
static char *detokenize(const struct inf_tokenizer *tok, const int32_t *ids, size_t n,
			bool strip_prefix, size_t *len)
{
	size_t cap = 64, o = 0;
	char *out = malloc(cap);

	for (size_t i = 0; i < n; i++) {
		int k;

		while (cap - o < 256)
			out = realloc(out, cap *= 2);
		k = inf_token_to_piece(tok, ids[i], true, out + o, cap - o);
		if (k < 0) {
			free(out);
			return NULL;
		}
		if (i == 0 && strip_prefix && k > 0 && out[o] == ' ')
			memmove(out + o, out + o + 1, (size_t)--k);
		o += (size_t)k;
	}
	*len = o;
	return out;
}

/* The tokenizer section as llama.cpp's convert_hf_to_gguf.py writes it for
 * LLaMA 2 (_set_vocab_sentencepiece: model "llama", pre "default", tokens,
 * scores, token types; then the special ids and add_bos/add_eos from
 * tokenizer_config.json) and LLaMA 3 (_set_vocab_gpt2: model "gpt2", pre
 * "llama-bpe", tokens, token types, merges; the special ids; Meta's
 * tokenizer_config.json has no add_bos_token, so none is written). No
 * eot_token_id: the converter writes none for either. */
static int write_gguf(const struct vocab *v, const char *name, const char *path)
{
	struct inf_gguf_writer *w = inf_gguf_writer_new(3, 0);
	const struct inf_vocab_spec *s = &v->spec;
	bool spm = strcmp(v->model, "llama") == 0;
	int rc;

	if (!w)
		return -1;
	inf_gguf_w_str(w, "general.architecture", "llama");
	inf_gguf_w_str(w, "general.name", name);
	inf_gguf_w_u32(w, "llama.vocab_size", s->n_tokens);
	inf_gguf_w_str(w, "tokenizer.ggml.model", v->model);
	inf_gguf_w_str(w, "tokenizer.ggml.pre", spm ? "default" : v->pre);
	inf_gguf_w_arr_strn(w, "tokenizer.ggml.tokens", s->tokens, s->token_lens, s->n_tokens);
	if (spm)
		inf_gguf_w_arr(w, "tokenizer.ggml.scores", INF_GGUF_F32, v->scores, s->n_tokens);
	inf_gguf_w_arr(w, "tokenizer.ggml.token_type", INF_GGUF_I32, v->types, s->n_tokens);
	if (!spm)
		inf_gguf_w_arr_strn(w, "tokenizer.ggml.merges", s->merges, s->merge_lens, s->n_merges);
	inf_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)s->bos_id);
	inf_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)s->eos_id);
	if (s->unk_id >= 0)
		inf_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)s->unk_id);
	if (spm) {
		inf_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", true);
		inf_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", false);
	}
	rc = inf_gguf_writer_save(w, path);
	inf_gguf_writer_free(w);
	return rc;
}

/* `tether tokenize --model GGUF --json [--no-special] [--parse-special]`
 * with text on stdin; the ids parsed from its JSON into ids. Returns the
 * count, or -1 (with the reason on stderr). */
static long cli_tokenize(const char *tether, const char *gguf, const char *text, size_t len, bool bos,
			 bool parse_special, int32_t *ids, size_t cap)
{
	int in[2], out[2];
	pid_t pid;
	char *buf = NULL, *p;
	size_t n = 0, bcap = 0;
	long count = 0;
	int status;

	if (pipe(in) || pipe(out))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *argv[8] = {tether, "tokenize", "--model", gguf, "--json"};
		int k = 5;

		if (!bos)
			argv[k++] = "--no-special";
		if (parse_special)
			argv[k++] = "--parse-special";
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execv(tether, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* tether reads all of stdin before it writes */
	for (size_t o = 0; o < len;) {
		ssize_t k = write(in[1], text + o, len - o);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		o += (size_t)k;
	}
	close(in[1]);
	for (;;) {
		if (n + 4096 > bcap && !(buf = realloc(buf, bcap = bcap * 2 + 8192)))
			break;
		ssize_t k = read(out[0], buf + n, bcap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(out[0]);
	waitpid(pid, &status, 0);
	if (!buf || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "tether tokenize failed (status %d)\n", status);
		free(buf);
		return -1;
	}
	buf[n] = 0;
	p = strstr(buf, "\"ids\":[");
	if (!p) {
		fprintf(stderr, "tether tokenize printed no ids: %.200s\n", buf);
		free(buf);
		return -1;
	}
	for (p += 7; *p && *p != ']';) {
		char *q;
		long id = strtol(p, &q, 10);

		if (q == p)
			break;
		if ((size_t)count < cap)
			ids[count] = (int32_t)id;
		count++;
		p = q + (*q == ',');
	}
	free(buf);
	return count;
}

int main(int argc, char **argv)
{
	char path[4096], err[INF_TEXT_ERR_MAX] = "";
	struct vocab v = {0};
	struct inf_tokenizer *tok;
	FILE *f;
	char *line;
	size_t cases = 0, mismatches = 0, round_trips = 0, rt_failures = 0, invalid = 0;
	size_t decode_failures = 0;
	size_t cap = 1 << 16;
	int32_t *ids = malloc(cap * sizeof *ids), *want = malloc(cap * sizeof *want);
	bool spm, parse_special;
	char gguf[4096], merr[INF_ERR_MAX] = "";
	struct inf_model *model = NULL;
	struct inf_model_options mo = { .vocab_only = true };
	const char *tether = argc > 3 ? argv[3] : NULL;
	size_t gguf_cases = 0, gguf_mismatches = 0, cli_cases = 0, cli_mismatches = 0;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s DIR NAME [TETHER]\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof path, "%s/%s.vocab", argv[1], argv[2]);
	if (load_vocab(path, &v))
		return 1;
	if (inf_tokenizer_create(&v.spec, &tok, err)) {
		fprintf(stderr, "inf_tokenizer_create: %s\n", err);
		return 1;
	}
	spm = strcmp(v.model, "llama") == 0;
	parse_special = !spm; /* llama3-tokenizer-js always parses its specials */
	snprintf(gguf, sizeof gguf, "%s/%s.gguf", argv[1], argv[2]);
	if (write_gguf(&v, argv[2], gguf) || inf_model_load(gguf, &mo, &model, merr)) {
		fprintf(stderr, "%s: cannot write or load it: %s\n", gguf, merr);
		return 1;
	}
	{
		struct inf_model_info mi;

		inf_model_get_info(model, &mi);
		if (!inf_model_has_tokenizer(model) || !mi.vocab_only || mi.n_vocab != v.spec.n_tokens ||
		    strcmp(mi.tokenizer_model, v.model) || strcmp(mi.arch, "llama")) {
			fprintf(stderr, "%s: loaded as %s/%s with %u tokens (%s)\n", gguf, mi.arch,
				mi.tokenizer_model, mi.n_vocab, mi.tokenizer_error);
			return 1;
		}
	}
	snprintf(path, sizeof path, "%s/%s.cases", argv[1], argv[2]);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	while ((line = read_line(f))) {
		char *flags = strtok(line, " "), *raw_hex = strtok(NULL, " ");
		char *text_hex = strtok(NULL, " "), *ids_s = strtok(NULL, " ");
		char *raw, *text, *back;
		uint32_t raw_len, text_len;
		size_t n, n_want = 0, at, back_len;
		bool bos;

		if (!flags || !raw_hex || !text_hex || !ids_s || unhex(raw_hex, &raw, &raw_len) ||
		    unhex(text_hex, &text, &text_len)) {
			fprintf(stderr, "%s: malformed line %zu\n", path, cases + 1);
			return 1;
		}
		bos = flags[0] == 'b';
		for (char *p = strcmp(ids_s, "-") ? ids_s : NULL; p && *p;) {
			want[n_want++] = (int32_t)strtol(p, &p, 10);
			p += *p == ',';
		}
		cases++;
		invalid += raw_len != text_len || memcmp(raw, text, raw_len) != 0;
		/* 0. our WHATWG decoding of the raw bytes is TextDecoder's */
		{
			size_t dlen;
			char *d = inf_utf8_replace_invalid(raw, raw_len, &dlen);

			if (!d || dlen != text_len || memcmp(d, text, dlen) != 0) {
				fprintf(stderr, "case %zu: inf_utf8_replace_invalid differs from "
					"TextDecoder on ", cases);
				print_escaped(raw, raw_len);
				decode_failures++;
			}
			free(d);
		}
		/* 1. exactly the oracle's ids for the string the oracle saw */
		if (inf_tokenize(tok, text, text_len, bos, parse_special, ids, cap, &n, err)) {
			fprintf(stderr, "case %zu: inf_tokenize: %s\n", cases, err);
			mismatches++;
		} else if (n != n_want || memcmp(ids, want, n * sizeof *ids) != 0) {
			for (at = 0; at < n && at < n_want && ids[at] == want[at]; at++)
				;
			if (++mismatches <= 10) {
				fprintf(stderr, "MISMATCH case %zu (%s, bos=%d) at id #%zu: ", cases,
					argv[2], bos, at);
				print_escaped(text, text_len);
				print_ids("oracle", want, n_want, at);
				print_ids("ours  ", ids, n, at);
			}
		}
		/* 1b. the same through the GGUF file and the public API */
		gguf_cases++;
		if (inf_model_tokenize(model, text, text_len, bos, parse_special, ids, cap, &n, merr) ||
		    n != n_want || memcmp(ids, want, n * sizeof *ids) != 0) {
			if (++gguf_mismatches <= 5) {
				fprintf(stderr, "GGUF MISMATCH case %zu (%s, bos=%d) %s: ", cases, argv[2], bos, merr);
				print_escaped(text, text_len);
			}
		}
		/* 1c. and through `tether tokenize`, for a sample (a process each) */
		if (tether && cases % 40 == 1) {
			long k = cli_tokenize(tether, gguf, text, text_len, bos, parse_special, ids, cap);

			cli_cases++;
			if (k < 0 || (size_t)k != n_want || memcmp(ids, want, n_want * sizeof *ids) != 0) {
				if (++cli_mismatches <= 5) {
					fprintf(stderr, "CLI MISMATCH case %zu (%s, bos=%d, %ld ids): ", cases,
						argv[2], bos, k);
					print_escaped(text, text_len);
				}
			}
		}
		/* 2. the raw bytes (invalid UTF-8 as is) come back unchanged, but
		 * for U+2581 in SentencePiece input, which stands for a space */
		if (spm && memmem(raw, raw_len, "\xE2\x96\x81", 3)) {
			free(raw);
			free(text);
			continue;
		}
		if (inf_tokenize(tok, raw, raw_len, false, parse_special, ids, cap, &n, err)) {
			fprintf(stderr, "case %zu: inf_tokenize (raw): %s\n", cases, err);
			rt_failures++;
		} else {
			for (size_t i = 0; i < n; i++)
				if (ids[i] < 0 || (uint32_t)ids[i] >= v.spec.n_tokens)
					rt_failures++;
			back = detokenize(tok, ids, n, spm, &back_len);
			round_trips++;
			if (!back || back_len != raw_len || memcmp(back, raw, raw_len) != 0) {
				if (++rt_failures <= 5) {
					fprintf(stderr, "ROUND TRIP case %zu: ", cases);
					print_escaped(raw, raw_len);
					if (back)
						print_escaped(back, back_len);
				}
			}
			free(back);
		}
		free(raw);
		free(text);
	}
	fclose(f);

	/* Informal speed figure on prose (not a check: bench/ has the goals). */
	{
		static const char prose[] = "The quick brown fox jumps over the lazy dog. It's a "
			"test of the tokenizer's speed on ordinary English prose, with punctuation, "
			"numbers like 1234 and 3.14, and the usual words.\n";
		size_t reps = 2000, len = (sizeof prose - 1) * reps, n;
		char *big = malloc(len);
		int32_t *out = malloc(len * sizeof *out);
		struct timespec t0, t1;

		for (size_t i = 0; i < reps; i++)
			memcpy(big + i * (sizeof prose - 1), prose, sizeof prose - 1);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		inf_tokenize(tok, big, len, false, false, out, len, &n, err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%s: %.2f MB/s on prose (%zu bytes -> %zu tokens)\n", argv[2],
		       len / 1e6 / ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9),
		       len, n);
		free(big);
		free(out);
	}
	printf("%s: %zu strings compared with the oracle (%zu not valid UTF-8), %zu mismatches; "
	       "%zu round trips, %zu failures; %zu UTF-8 decoding differences\n", argv[2], cases,
	       invalid, mismatches, round_trips, rt_failures, decode_failures);
	printf("%s: through GGUF (%s, inf_model_load vocab_only): %zu strings compared, %zu mismatches; "
	       "through tether tokenize: %zu strings compared, %zu mismatches%s\n", argv[2], gguf, gguf_cases,
	       gguf_mismatches, cli_cases, cli_mismatches, tether ? "" : " (no TETHER given)");
	inf_model_free(model);
	inf_tokenizer_free(tok);
	free_vocab(&v);
	free(ids);
	free(want);
	if (cases < 1000)
		fprintf(stderr, "only %zu strings: the oracle export is incomplete\n", cases);
	if (gguf_cases != cases || (tether && cli_cases < 20))
		fprintf(stderr, "only %zu strings through GGUF, %zu through the CLI\n", gguf_cases, cli_cases);
	return mismatches || rt_failures || decode_failures || cases < 1000 || gguf_mismatches ||
			       cli_mismatches || gguf_cases != cases || (tether && cli_cases < 20) ? 1 : 0;
}
