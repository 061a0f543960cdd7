/*
 * The pre-tokenizer lists against Hugging Face's own implementation: reads
 * the file tests/tokenizer-oracle/pretok.mjs writes (random strings split by
 * the Rust tokenizers library's Split pre-tokenizers) and compares the
 * words inf_pretokenize makes, list by list (docs/tokenizers.md).
 *
 *   text_pretok_oracle CASES_FILE
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "tokenizer_internal.h"

static const struct {
	const char *name;
	enum inf_pre pre;
} lists[] = {
	{"gpt2", INF_PRE_GPT2}, {"llama3", INF_PRE_LLAMA3}, {"qwen2", INF_PRE_QWEN2},
	{"starcoder", INF_PRE_STARCODER}, {"falcon", INF_PRE_FALCON},
	{"deepseek-llm", INF_PRE_DEEPSEEK_LLM}, {"deepseek-coder", INF_PRE_DEEPSEEK_CODER},
	{"deepseek-v3", INF_PRE_DEEPSEEK3}, {"tekken", INF_PRE_TEKKEN},
};

#define N_LISTS (sizeof lists / sizeof lists[0])
#define MAX_TEXT 4096

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
	size_t n = 0;

	if (strcmp(h, "-") == 0)
		return 0;
	for (; h[0] && h[1] && n < cap; h += 2) {
		unsigned v;

		if (sscanf(h, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
	}
	return n;
}

static void print_words(const char *who, const unsigned char *text, const size_t *lens, size_t n)
{
	size_t o = 0;

	fprintf(stderr, "    %-6s", who);
	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, " [");
		for (size_t k = 0; k < lens[i]; k++) {
			unsigned char c = text[o + k];

			fprintf(stderr, c >= 0x20 && c < 0x7F ? "%c" : "\\x%02X", c);
		}
		fprintf(stderr, "]");
		o += lens[i];
	}
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	static char line[4 * MAX_TEXT];
	static unsigned char text[MAX_TEXT];
	static uint32_t cps[MAX_TEXT];
	static size_t offs[MAX_TEXT + 1], ends[MAX_TEXT], mine[MAX_TEXT], want[MAX_TEXT];
	size_t compared[N_LISTS] = {0}, failed[N_LISTS] = {0}, total = 0;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: text_pretok_oracle CASES_FILE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		char *name = strtok(line, " \n"), *hex = strtok(NULL, " \n"), *lens = strtok(NULL, " \n");
		size_t l = 0, len, n = 0, words, n_want = 0;

		while (name && l < N_LISTS && strcmp(lists[l].name, name))
			l++;
		if (!name || !hex || !lens || l == N_LISTS) {
			fprintf(stderr, "%s: a line that is not \"list hex lens\"\n", argv[1]);
			check_failures++;
			continue;
		}
		len = unhex(hex, text, sizeof text);
		for (char *p = strtok(lens, ","); p && strcmp(p, "-") && n_want < MAX_TEXT;
		     p = strtok(NULL, ","))
			want[n_want++] = strtoul(p, NULL, 10);
		for (size_t i = 0; i < len;) {
			offs[n] = i;
			i += inf_utf8_next(text + i, len - i, &cps[n]);
			n++;
		}
		offs[n] = len;
		words = inf_pretokenize(lists[l].pre, cps, n, ends);
		for (size_t w = 0, start = 0; w < words; w++) {
			mine[w] = offs[ends[w]] - offs[start];
			start = ends[w];
		}
		compared[l]++, total++;
		if (words != n_want || memcmp(mine, want, words * sizeof *mine)) {
			if (failed[l]++ < 5) {
				fprintf(stderr, "%s: string %zu differs\n", lists[l].name, compared[l] - 1);
				print_words("oracle", text, want, n_want);
				print_words("tether", text, mine, words);
			}
			check_failures++;
		}
	}
	fclose(f);
	for (size_t l = 0; l < N_LISTS; l++)
		printf("%-15s %zu strings, %zu mismatches\n", lists[l].name, compared[l], failed[l]);
	if (total == 0) {
		fprintf(stderr, "%s: no strings\n", argv[1]);
		return 1;
	}
	return check_failures ? 1 : 0;
}
