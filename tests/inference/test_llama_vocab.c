/*
 * Optional check against llama.cpp's own vocabulary test files: for every
 * ggml-vocab-*.gguf in $TETHER_LLAMA_VOCAB_DIR (llama.cpp's models/ folder;
 * third-party files, never committed here) with its .inp/.out pair, loads the
 * file vocabulary-only through the public API, tokenizes each input as
 * llama.cpp's tests/test-tokenizer-0.cpp does (no BOS/EOS, special token
 * texts not parsed) and compares the ids with the .out line. A file whose
 * tokenizer kind or pre-tokenizer is not supported must fail to give a
 * tokenizer with an error naming that value. Without the variable the test is
 * skipped (exit 77) saying why.
 *
 *   test_llama_vocab [DIR] [NAME=GGUF]...   (DIR overrides the variable)
 *
 * NAME=GGUF compares DIR/NAME.inp/.out with another file's tokenizer, for the
 * pairs whose vocabulary llama.cpp does not ship (ggml-vocab-llama-bpe.gguf=
 * the Llama 3 oracle's GGUF that text_tokenizer_oracle writes).
 *
 * Formats (test-tokenizer-0.cpp): .inp is the inputs joined by
 * "\n__ggml_vocab_test__\n"; .out has one line of space-separated ids per
 * input.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inference.h"
#include "internal.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *p = malloc(cap + 1);
	for (size_t r; p && (r = fread(p + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap) {
			char *q = realloc(p, (cap *= 2) + 1);
			if (!q) {
				free(p);
				p = NULL;
			}
			p = q;
		}
	}
	fclose(f);
	if (p)
		p[n] = 0;
	*len = n;
	return p;
}

static void print_escaped(const char *s, size_t len)
{
	fputc('"', stderr);
	for (size_t i = 0; i < len && i < 120; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fprintf(stderr, len > 120 ? "\"...\n" : "\"\n");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The string value of key in the file, "" when absent (for the messages). */
static void meta_str(const char *path, const char *key, char *out, size_t cap)
{
	struct inf_gguf *g;
	char err[INF_ERR_MAX];
	struct inf_gguf_str s;
	*out = 0;
	if (inf_gguf_open(path, &g, err))
		return;
	if (inf_gguf_get_str(g, key, &s, err) == 0)
		snprintf(out, cap, "%.*s", (int)(s.len < cap - 1 ? s.len : cap - 1), s.p);
	inf_gguf_free(g);
}

/* Returns the number of failures for this file (mismatches, or an
 * unsupported tokenizer whose error does not name its value). */
static size_t check_file(const char *dir, const char *name, const char *gguf, size_t *n_strings,
			 size_t *n_files_compared)
{
	char path[4096], inp_path[4200], out_path[4200], err[INF_ERR_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(inp_path, sizeof inp_path, "%s.inp", path);
	snprintf(out_path, sizeof out_path, "%s.out", path);
	if (gguf)
		snprintf(path, sizeof path, "%s", gguf);
	size_t inp_len, out_len;
	char *inp = slurp(inp_path, &inp_len), *out = slurp(out_path, &out_len);
	struct inf_model *m = NULL;
	struct inf_model_options mo = { .vocab_only = true };
	size_t failures = 0;
	if (inf_model_load(path, &mo, &m, err)) {
		printf("%-34s load failed: %s\n", name, err);
		failures++;
		goto done;
	}
	struct inf_model_info info;
	inf_model_get_info(m, &info);
	if (!inf_model_has_tokenizer(m)) {
		/* The error must name what is not supported. */
		char model[64], pre[64], quoted[80];
		meta_str(path, "tokenizer.ggml.model", model, sizeof model);
		meta_str(path, "tokenizer.ggml.pre", pre, sizeof pre);
		snprintf(quoted, sizeof quoted, "\"%s\"", strcmp(model, "llama") && strcmp(model, "gpt2") ? model : pre);
		bool named = strstr(info.tokenizer_error, quoted) != NULL;
		printf("%-34s not supported (model %s, pre %s): %s%s\n", name, model, *pre ? pre : "-",
		       info.tokenizer_error, named ? "" : "  <- DOES NOT NAME IT");
		failures += !named;
		goto done;
	}
	if (!inp || !out) {
		printf("%-34s tokenizer %s loads; no .inp/.out to compare\n", name, info.tokenizer_model);
		goto done;
	}
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t cases = 0, mismatches = 0, cap = 1 << 16, n;
	int32_t *ids = malloc(cap * sizeof *ids), *want = malloc(cap * sizeof *want);
	char *o = out, *text = inp;
	/* as test-tokenizer-0.cpp: a separator at the very end ends the list */
	while (text && text < inp + inp_len && ids && want) {
		char *end = strstr(text, sep);
		size_t len = end ? (size_t)(end - text) : inp_len - (size_t)(text - inp);
		char *nl = strchr(o, '\n');
		if (!*o && !nl) {
			printf("%-34s .out has fewer lines than .inp has inputs\n", name);
			failures++;
			break;
		}
		if (nl)
			*nl = 0;
		size_t n_want = 0;
		for (char *p = o; *p;) {
			char *q;
			long v = strtol(p, &q, 10);
			if (q == p)
				break;
			if (n_want < cap)
				want[n_want++] = (int32_t)v;
			p = q;
		}
		o = nl ? nl + 1 : o + strlen(o);
		cases++;
		int rc = inf_model_tokenize(m, text, len, false, false, ids, cap, &n, err);
		if (rc || n != n_want || memcmp(ids, want, n * sizeof *ids)) {
			if (++mismatches <= 8) {
				fprintf(stderr, "MISMATCH %s case %zu: ", name, cases);
				print_escaped(text, len);
				fprintf(stderr, "   llama.cpp:");
				for (size_t i = 0; i < n_want && i < 40; i++)
					fprintf(stderr, " %d", want[i]);
				fprintf(stderr, "\n   tether:   ");
				if (rc)
					fprintf(stderr, " error %s", err);
				for (size_t i = 0; !rc && i < n && i < 40; i++)
					fprintf(stderr, " %d", ids[i]);
				fprintf(stderr, "\n");
			}
		}
		text = end ? end + sizeof sep - 1 : NULL;
	}
	free(ids);
	free(want);
	printf("%-34s tokenizer %s%s%s: %zu strings compared, %zu mismatches\n", name, info.tokenizer_model,
	       gguf ? " from " : "", gguf ? gguf : "", cases, mismatches);
	*n_strings += cases;
	*n_files_compared += 1;
	failures += mismatches;
done:
	inf_model_free(m);
	free(inp);
	free(out);
	return failures;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TETHER_LLAMA_VOCAB_DIR");
	for (int i = 1; i < argc; i++)
		if (!strchr(argv[i], '='))
			dir = argv[i];
	if (!dir || !*dir) {
		printf("SKIPPED: set TETHER_LLAMA_VOCAB_DIR to llama.cpp's models/ folder (ggml-vocab-*.gguf "
		       "with .inp/.out) to compare with llama.cpp's tokenizer tests\n");
		return 77;
	}
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return 1;
	}
	char **names = NULL;
	size_t n_names = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (l > 5 && !strcmp(e->d_name + l - 5, ".gguf") && !strncmp(e->d_name, "ggml-vocab-", 11)) {
			char **q = realloc(names, (n_names + 1) * sizeof *names);
			if (!q)
				return 1;
			names = q;
			names[n_names++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n_names, sizeof *names, cmp_names);
	size_t failures = 0, strings = 0, compared = 0;
	for (size_t i = 0; i < n_names; i++) {
		failures += check_file(dir, names[i], NULL, &strings, &compared);
		free(names[i]);
	}
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			continue;
		*eq = 0;
		failures += check_file(dir, argv[i], eq + 1, &strings, &compared);
	}
	free(names);
	printf("%zu vocabulary files, %zu compared with llama.cpp: %zu strings, %zu failures\n", n_names, compared,
	       strings, failures);
	if (n_names == 0) {
		printf("no ggml-vocab-*.gguf in %s\n", dir);
		return 1;
	}
	return failures ? 1 : 0;
}
