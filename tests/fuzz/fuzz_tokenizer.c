/*
 * libFuzzer target for the tokenizers: any bytes go through a small built-in
 * SentencePiece vocabulary (with byte fallback) and a byte-level BPE one
 * (with every byte, once per pre-tokenizer list, and without tokens for
 * bytes 0xF5-0xFF).
 * Nothing may crash; every id is in range; detokenizing gives the input back
 * (SentencePiece: but for its space prefix, and for U+2581 which stands for
 * a space; byte-level BPE: always, control tokens rendered, but for the bytes
 * without a token, which are dropped).
 *
 * The first input byte picks the flags (add_special, parse_special).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tokenizer_internal.h"

static struct inf_tokenizer *spm, *bpe, *bpe_gaps;

/* The byte-level vocabulary again with each other pre-tokenizer list. */
static const char *other_pres[] = {"gpt2", "qwen2", "smollm", "falcon", "deepseek-llm",
	"deepseek-coder", "deepseek-v3", "tekken"};
static struct inf_tokenizer *bpe_pre[sizeof other_pres / sizeof other_pres[0]];
static int32_t spm_user_token; /* <|x|>: text after it gets a space prefix again */

static void build(void)
{
	static const char *pieces[] = {"\xE2\x96\x81", "e", "h", "t", "a", "n", "d", "\xE2\x96\x81t",
		"he", "\xE2\x96\x81the", "an", ("\xE2\x96\x81" "and"), "\xE2\x96\x81\xE2\x96\x81", "<|x|>",
		"\xE4\xB8\xAD", "\xE2\x96\x81\xE4\xB8\xAD", "<", ">", "|", "x"};
	static const char *bpe_extra[] = {"th", "the", "\xC4\xA0the", "<|end|>", "an", "and"};
	static const char *merges[] = {"t h", "th e", "\xC4\xA0 the", "a n", "an d"};
	static char bytes[256][8], mapped[256][4];
	const char *tok[300];
	uint32_t lens[300], merge_lens[5];
	float scores[300];
	int32_t types[300];
	uint32_t n = 0, next = 256;
	char err[INF_TEXT_ERR_MAX];
	struct inf_vocab_spec s;

	tok[n] = "<unk>", types[n++] = INF_TOKEN_UNKNOWN;
	tok[n] = "<s>", types[n++] = INF_TOKEN_CONTROL;
	tok[n] = "</s>", types[n++] = INF_TOKEN_CONTROL;
	for (int b = 0; b < 256; b++) {
		snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
		tok[n] = bytes[b], types[n++] = INF_TOKEN_BYTE;
	}
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		if (strcmp(pieces[i], "<|x|>") == 0)
			spm_user_token = (int32_t)n;
		tok[n] = pieces[i], types[n++] = strcmp(pieces[i], "<|x|>") ? INF_TOKEN_NORMAL :
									      INF_TOKEN_USER_DEFINED;
	}
	for (uint32_t i = 0; i < n; i++) {
		lens[i] = (uint32_t)strlen(tok[i]);
		scores[i] = -(float)i;
	}
	s = (struct inf_vocab_spec){.model = "llama", .n_tokens = n, .tokens = tok,
		.token_lens = lens, .scores = scores, .types = types, .bos_id = 1, .eos_id = 2,
		.unk_id = 0, .pad_id = -1, .eot_id = -1, .add_bos = 1, .add_eos = 1,
		.add_space_prefix = 1};
	if (inf_tokenizer_create(&s, &spm, err))
		abort(); /* the built-in vocabulary is the fuzzer's own */

	n = 0;
	for (uint32_t b = 0; b < 256; b++) {
		bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
		size_t k = inf_utf8_put(printable ? b : next++, mapped[b]);

		mapped[b][k] = 0;
		tok[n] = mapped[b], types[n++] = INF_TOKEN_NORMAL;
	}
	for (size_t i = 0; i < sizeof bpe_extra / sizeof bpe_extra[0]; i++)
		tok[n] = bpe_extra[i], types[n++] = strcmp(bpe_extra[i], "<|end|>") ?
						   INF_TOKEN_NORMAL : INF_TOKEN_CONTROL;
	for (uint32_t i = 0; i < n; i++)
		lens[i] = (uint32_t)strlen(tok[i]);
	for (int i = 0; i < 5; i++)
		merge_lens[i] = (uint32_t)strlen(merges[i]);
	s = (struct inf_vocab_spec){.model = "gpt2", .pre = "llama-bpe", .n_tokens = n,
		.tokens = tok, .token_lens = lens, .types = types, .n_merges = 5, .merges = merges,
		.merge_lens = merge_lens, .bos_id = -1, .eos_id = -1, .unk_id = -1, .pad_id = -1,
		.eot_id = n - 3, .add_bos = -1, .add_eos = -1, .add_space_prefix = -1};
	if (inf_tokenizer_create(&s, &bpe, err))
		abort();

	for (size_t i = 0; i < sizeof other_pres / sizeof other_pres[0]; i++) {
		s.pre = other_pres[i];
		if (inf_tokenizer_create(&s, &bpe_pre[i], err))
			abort();
	}

	/* The same without tokens for bytes 0xF5-0xFF (as GPT-NeoX's vocabulary
	 * lacks bytes that never occur in UTF-8), GPT-2's pre-tokenizer. */
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (i < 0xF5 || i > 0xFF)
			tok[m] = tok[i], lens[m] = lens[i], types[m++] = types[i];
	s.pre = NULL;
	s.n_tokens = m;
	s.eot_id = (int32_t)m - 3;
	if (inf_tokenizer_create(&s, &bpe_gaps, err))
		abort();
}

static void check(struct inf_tokenizer *t, const uint8_t *data, size_t size, bool add_special,
		  bool parse_special, bool is_spm)
{
	char err[INF_TEXT_ERR_MAX];
	size_t n = 0, cap = size * 4 + 8, o = 0;
	int32_t *ids = malloc(cap * sizeof *ids);
	char *back = malloc(size * 4 + 64);
	int rc = inf_tokenize(t, (const char *)data, size, add_special, parse_special, ids, cap, &n,
			      err);
	bool special = false;

	if (rc)
		abort(); /* any bytes must tokenize */
	for (size_t i = 0; i < n; i++) {
		bool bos_eos = add_special && is_spm && (i == 0 || i == n - 1);
		int k;

		if (ids[i] < 0 || (uint32_t)ids[i] >= inf_tokenizer_n_tokens(t))
			abort();
		special |= is_spm && !bos_eos && (ids[i] <= 2 || ids[i] == spm_user_token);
		k = inf_token_to_piece(t, ids[i], parse_special && !bos_eos, back + o,
				       size * 4 + 64 - o);
		if (k < 0)
			abort();
		o += (size_t)k;
	}
	/* SentencePiece text after a special token gets the space prefix again */
	if (is_spm && !special && !memmem(data, size, "\xE2\x96\x81", 3)) {
		size_t skip = size && o && back[0] == ' ' ? 1 : 0;

		if (o - skip != size || memcmp(back + skip, data, size) != 0)
			abort();
	}
	if (!is_spm && t != bpe_gaps && (o != size || memcmp(back, data, size) != 0))
		abort();
	if (t == bpe_gaps) { /* the input but for the bytes without a token */
		size_t k = 0;
		for (size_t i = 0; i < size; i++)
			if (data[i] < 0xF5 && (k >= o || (uint8_t)back[k++] != data[i]))
				abort();
		if (k != o)
			abort();
	}
	free(ids);
	free(back);
}

/* Every list on the decoded input directly: words in order, none empty,
 * covering it all. */
static void check_pretokenizers(const uint8_t *data, size_t size)
{
	uint32_t *cps = malloc((size + 1) * sizeof *cps);
	size_t *ends = malloc((size + 1) * sizeof *ends), n = 0;

	for (size_t i = 0; i < size;) {
		i += inf_utf8_next(data + i, size - i, &cps[n]);
		n++;
	}
	for (int pre = 0; pre < INF_PRE_COUNT; pre++) {
		size_t words = inf_pretokenize((enum inf_pre)pre, cps, n, ends), prev = 0;

		if (words > n || (n && !words))
			abort();
		for (size_t w = 0; w < words; w++) {
			if (ends[w] <= prev)
				abort();
			prev = ends[w];
		}
		if (prev != n)
			abort();
	}
	free(cps);
	free(ends);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags;

	if (!spm)
		build();
	if (size == 0)
		return 0;
	flags = data[0];
	data++, size--;
	check(spm, data, size, flags & 1, flags & 2, true);
	check(bpe, data, size, false, flags & 2, false);
	check(bpe_gaps, data, size, false, flags & 2, false);
	for (size_t i = 0; i < sizeof bpe_pre / sizeof bpe_pre[0]; i++)
		check(bpe_pre[i], data, size, false, flags & 2, false);
	check_pretokenizers(data, size);
	return 0;
}
