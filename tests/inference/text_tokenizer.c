/*
 * Tokenizer unit tests on small hand-made vocabularies: merge order by score
 * and by rank, byte fallback, space prefix, special tokens, BOS/EOS, output
 * buffer sizes, pre-tokenizer splits, and every rejected vocabulary.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "text.h"
#include "tokenizer_internal.h"

#define MAXTOK 400

struct vb {
	const char *tokens[MAXTOK];
	uint32_t lens[MAXTOK];
	float scores[MAXTOK];
	int32_t types[MAXTOK];
	char bytes[256][8];
	uint32_t n;
	const char *merges[16];
	uint32_t merge_lens[16];
	uint32_t n_merges;
};

static int32_t add(struct vb *v, const char *text, float score, int type)
{
	v->tokens[v->n] = text;
	v->lens[v->n] = (uint32_t)strlen(text);
	v->scores[v->n] = score;
	v->types[v->n] = type;
	return (int32_t)v->n++;
}

static struct inf_vocab_spec spec_of(struct vb *v, const char *model, const char *pre)
{
	return (struct inf_vocab_spec){
		.model = model, .pre = pre, .n_tokens = v->n, .tokens = v->tokens,
		.token_lens = v->lens, .scores = v->scores, .types = v->types,
		.n_merges = v->n_merges, .merges = v->merges, .merge_lens = v->merge_lens,
		.bos_id = -1, .eos_id = -1, .unk_id = -1, .pad_id = -1, .eot_id = -1,
		.add_bos = -1, .add_eos = -1, .add_space_prefix = -1,
	};
}

/* <unk> <s> </s> <0x00>..<0xFF> then pieces */
static struct vb spm_vocab;
static int32_t SP, A, B, C, AB, BC, SPA, SPAB, USR;

static void build_spm(void)
{
	struct vb *v = &spm_vocab;

	memset(v, 0, sizeof *v);
	add(v, "<unk>", 0, INF_TOKEN_UNKNOWN);
	add(v, "<s>", 0, INF_TOKEN_CONTROL);
	add(v, "</s>", 0, INF_TOKEN_CONTROL);
	for (int b = 0; b < 256; b++) {
		snprintf(v->bytes[b], sizeof v->bytes[b], "<0x%02X>", b);
		add(v, v->bytes[b], 0, INF_TOKEN_BYTE);
	}
	SP = add(v, "\xE2\x96\x81", -1e9f, INF_TOKEN_NORMAL);
	A = add(v, "a", -1e9f, INF_TOKEN_NORMAL);
	B = add(v, "b", -1e9f, INF_TOKEN_NORMAL);
	C = add(v, "c", -1e9f, INF_TOKEN_NORMAL);
	AB = add(v, "ab", -5, INF_TOKEN_NORMAL);
	BC = add(v, "bc", -3, INF_TOKEN_NORMAL);
	SPA = add(v, "\xE2\x96\x81" "a", -4, INF_TOKEN_NORMAL);
	SPAB = add(v, "\xE2\x96\x81" "ab", -1, INF_TOKEN_NORMAL);
	USR = add(v, "<|u|>", 0, INF_TOKEN_USER_DEFINED);
}

static struct inf_tokenizer *make(struct inf_vocab_spec s)
{
	struct inf_tokenizer *t = NULL;
	char err[INF_TEXT_ERR_MAX] = "";
	int rc = inf_tokenizer_create(&s, &t, err);

	if (rc)
		fprintf(stderr, "create: %s\n", err);
	CHECK_EQ(rc, 0);
	return t;
}

static size_t tok(struct inf_tokenizer *t, const char *s, bool add_special, bool parse_special,
		  int32_t *ids)
{
	char err[INF_TEXT_ERR_MAX] = "";
	size_t n = 0;
	int rc = inf_tokenize(t, s, strlen(s), add_special, parse_special, ids, 64, &n, err);

	if (rc)
		fprintf(stderr, "tokenize: %s\n", err);
	CHECK_EQ(rc, 0);
	return n;
}

static void spm_merges_highest_score_first(void)
{
	struct inf_vocab_spec s = spec_of(&spm_vocab, "llama", NULL);
	struct inf_tokenizer *t;
	int32_t ids[64];
	size_t n;

	s.add_space_prefix = 0;
	t = make(s);
	/* "abc": bc (-3) beats ab (-5) */
	n = tok(t, "abc", false, false, ids);
	CHECK_EQ(n, 2);
	CHECK_EQ(ids[0], A);
	CHECK_EQ(ids[1], BC);
	inf_tokenizer_free(t);

	spm_vocab.scores[BC] = -6; /* now ab wins */
	t = make(s);
	n = tok(t, "abc", false, false, ids);
	CHECK_EQ(n, 2);
	CHECK_EQ(ids[0], AB);
	CHECK_EQ(ids[1], C);
	inf_tokenizer_free(t);
	spm_vocab.scores[BC] = -3;
}

static void spm_space_prefix_and_byte_fallback(void)
{
	struct inf_vocab_spec s = spec_of(&spm_vocab, "llama", NULL);
	struct inf_tokenizer *t = make(s); /* add_space_prefix absent: on */
	int32_t ids[64];
	char piece[16];
	size_t n = tok(t, "ab\xC3\xA9", false, false, ids);

	CHECK_EQ(n, 3);
	CHECK_EQ(ids[0], SPAB);
	CHECK_EQ(ids[1], 3 + 0xC3);
	CHECK_EQ(ids[2], 3 + 0xA9);
	/* invalid UTF-8 goes through the byte tokens unchanged */
	n = tok(t, "\xFF", false, false, ids);
	CHECK_EQ(n, 2);
	CHECK_EQ(ids[0], SP);
	CHECK_EQ(ids[1], 3 + 0xFF);
	CHECK_EQ(inf_token_to_piece(t, ids[1], false, piece, sizeof piece), 1);
	CHECK_EQ((unsigned char)piece[0], 0xFF);
	CHECK_EQ(inf_token_to_piece(t, SPAB, false, piece, sizeof piece), 3);
	CHECK(memcmp(piece, " ab", 3) == 0);
	/* the empty text is no tokens, not a lone space */
	CHECK_EQ(tok(t, "", false, false, ids), 0);
	CHECK(inf_tokenizer_adds_space_prefix(t));
	inf_tokenizer_free(t);
	s.add_space_prefix = 0;
	t = make(s);
	CHECK(!inf_tokenizer_adds_space_prefix(t));
	CHECK_EQ(tok(t, "ab", false, false, ids), 1);
	CHECK_EQ(ids[0], AB);
	inf_tokenizer_free(t);
}

static void spm_unknown_without_byte_tokens(void)
{
	struct vb v = {0};
	int32_t ids[64], a;
	struct inf_vocab_spec s;
	struct inf_tokenizer *t;

	add(&v, "<unk>", 0, INF_TOKEN_UNKNOWN);
	a = add(&v, "a", 0, INF_TOKEN_NORMAL);
	s = spec_of(&v, "llama", NULL);
	s.unk_id = 0;
	s.add_space_prefix = 0;
	t = make(s);
	CHECK_EQ(tok(t, "a\xC3\xA9" "a", false, false, ids), 3);
	CHECK_EQ(ids[0], a);
	CHECK_EQ(ids[1], 0); /* one unknown token for the whole character */
	CHECK_EQ(ids[2], a);
	inf_tokenizer_free(t);
}

/* A piece with "▁" inside lets merges cross word starts: no word-by-word
 * shortcut then. */
static void spm_pieces_spanning_a_space(void)
{
	struct vb v = {0};
	int32_t ids[64], ab;
	struct inf_vocab_spec s;
	struct inf_tokenizer *t;

	add(&v, "a", -1e9f, INF_TOKEN_NORMAL);
	add(&v, "b", -1e9f, INF_TOKEN_NORMAL);
	add(&v, "\xE2\x96\x81", -1e9f, INF_TOKEN_NORMAL);
	add(&v, "a\xE2\x96\x81", -2, INF_TOKEN_NORMAL);
	ab = add(&v, "a\xE2\x96\x81" "b", -1, INF_TOKEN_NORMAL);
	s = spec_of(&v, "llama", NULL);
	s.add_space_prefix = 0;
	t = make(s);
	CHECK_EQ(tok(t, "a b", false, false, ids), 1);
	CHECK_EQ(ids[0], ab);
	inf_tokenizer_free(t);
}

static void specials_bos_eos_and_parse_special(void)
{
	struct inf_vocab_spec s = spec_of(&spm_vocab, "llama", NULL);
	struct inf_tokenizer *t;
	int32_t ids[64];
	char piece[16];
	size_t n;

	s.bos_id = 1, s.eos_id = 2, s.add_eos = 1, s.add_space_prefix = 0;
	t = make(s);
	n = tok(t, "a<s>a", true, true, ids);
	CHECK_EQ(n, 5);
	CHECK_EQ(ids[0], 1);
	CHECK_EQ(ids[1], A);
	CHECK_EQ(ids[2], 1);
	CHECK_EQ(ids[3], A);
	CHECK_EQ(ids[4], 2);
	/* without parse_special "<s>" is text; user-defined tokens always match */
	n = tok(t, "<s><|u|>", false, false, ids);
	CHECK(n > 2);
	CHECK_EQ(ids[n - 1], USR);
	CHECK(ids[0] != 1);
	CHECK_EQ(inf_token_to_piece(t, 1, false, piece, sizeof piece), 0);
	CHECK_EQ(inf_token_to_piece(t, 1, true, piece, sizeof piece), 3);
	CHECK(inf_tokenizer_is_eog(t, 2));
	CHECK(!inf_tokenizer_is_eog(t, 1));
	CHECK_EQ(inf_tokenizer_bos(t), 1);
	CHECK_EQ(inf_tokenizer_eos(t), 2);
	CHECK_EQ(inf_token_to_piece(t, -1, false, piece, sizeof piece), INF_TEXT_EINVAL);
	CHECK_EQ(inf_token_to_piece(t, (int32_t)spm_vocab.n, false, piece, sizeof piece),
		 INF_TEXT_EINVAL);
	inf_tokenizer_free(t);
}

static struct vb bpe_vocab; /* below */

/* add_bos_token absent: BOS for SentencePiece and for the byte-level lists
 * llama.cpp gives it to (Llama 3, Falcon 3, Tekken), not for the others
 * (SmolLM's, Qwen's, GPT-2's...); present: as it says. */
static void bos_by_default_as_llama_cpp(void)
{
	static const struct {
		const char *model, *pre;
		int add_bos;
		bool bos;
	} cases[] = {
		{"llama", NULL, -1, true}, {"gpt2", "llama-bpe", -1, true}, {"gpt2", "falcon3", -1, true},
		{"gpt2", "tekken", -1, true}, {"gpt2", "smollm", -1, false}, {"gpt2", "qwen2", -1, false},
		{"gpt2", NULL, -1, false}, {"gpt2", "deepseek-llm", -1, false},
		{"gpt2", "smollm", 1, true}, {"gpt2", "llama-bpe", 0, false}, {"llama", NULL, 0, false},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool spm = strcmp(cases[i].model, "llama") == 0;
		struct inf_vocab_spec s = spec_of(spm ? &spm_vocab : &bpe_vocab, cases[i].model,
						  cases[i].pre);
		struct inf_tokenizer *t;
		int32_t ids[8];
		size_t n;

		if (!spm)
			s.scores = NULL;
		s.bos_id = spm ? 1 : 'x';
		s.add_bos = cases[i].add_bos;
		s.add_space_prefix = spm ? 0 : -1;
		t = make(s);
		if (!t)
			continue;
		n = tok(t, "a", true, false, ids);
		if ((n == 2 && ids[0] == s.bos_id) != cases[i].bos) {
			fprintf(stderr, "%s/%s add_bos %d: %zu ids, BOS %s\n", cases[i].model,
				cases[i].pre ? cases[i].pre : "-", cases[i].add_bos, n,
				cases[i].bos ? "missing" : "added");
			check_failures++;
		}
		inf_tokenizer_free(t);
	}
}

/* Ends of turn that no id names (Gemma's <end_of_turn>, Phi-3's <|end|>)
 * are found by their text, as llama.cpp does, and made control tokens. */
static void end_of_turn_tokens_found_by_text(void)
{
	struct vb *v = &spm_vocab;
	uint32_t n0 = v->n;
	int32_t eot = add(v, "<end_of_turn>", 0, INF_TOKEN_NORMAL);
	int32_t end = add(v, "<|end|>", 0, INF_TOKEN_CONTROL);
	int32_t other = add(v, "<|user|>", 0, INF_TOKEN_CONTROL);
	struct inf_vocab_spec s = spec_of(v, "llama", NULL);
	struct inf_tokenizer *t;
	int32_t ids[64];
	size_t n;

	s.bos_id = 1, s.eos_id = 2, s.add_space_prefix = 0;
	t = make(s);
	if (t) {
		CHECK(inf_tokenizer_is_eog(t, 2));
		CHECK(inf_tokenizer_is_eog(t, eot));
		CHECK(inf_tokenizer_is_eog(t, end));
		CHECK(!inf_tokenizer_is_eog(t, other));
		CHECK(!inf_tokenizer_is_eog(t, 1));
		CHECK(!inf_tokenizer_is_eog(t, -1));
		/* <end_of_turn> is a control token now: text unless parse_special */
		n = tok(t, "<end_of_turn>", false, true, ids);
		CHECK_EQ(n, 1);
		CHECK_EQ(ids[0], eot);
		n = tok(t, "<end_of_turn>", false, false, ids);
		CHECK(n > 1);
		inf_tokenizer_free(t);
	}
	v->n = n0;
}

static void output_buffer_too_small_says_how_many(void)
{
	struct inf_vocab_spec s = spec_of(&spm_vocab, "llama", NULL);
	struct inf_tokenizer *t = make(s);
	char err[INF_TEXT_ERR_MAX] = "";
	int32_t ids[2];
	size_t n = 0;

	CHECK_EQ(inf_tokenize(t, "c c c", 5, false, false, ids, 2, &n, err), INF_TEXT_ERANGE);
	CHECK_EQ(n, 6);
	CHECK_EQ(inf_tokenize(t, "c c c", 5, false, false, NULL, 0, &n, err), INF_TEXT_ERANGE);
	CHECK_EQ(n, 6);
	inf_tokenizer_free(t);
}

/* ---- byte-level BPE ---- */

static struct vb bpe_vocab;
static char bpe_bytes[256][4];

static void build_bpe(void)
{
	struct vb *v = &bpe_vocab;
	uint32_t next = 256;

	memset(v, 0, sizeof *v);
	for (uint32_t b = 0; b < 256; b++) { /* GPT-2's byte map */
		bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
		uint32_t cp = printable ? b : next++;
		size_t k = inf_utf8_put(cp, bpe_bytes[b]);

		bpe_bytes[b][k] = 0;
		add(v, bpe_bytes[b], 0, INF_TOKEN_NORMAL);
	}
	add(v, "ab", 0, INF_TOKEN_NORMAL);        /* 256 */
	add(v, "abc", 0, INF_TOKEN_NORMAL);       /* 257 */
	add(v, "bc", 0, INF_TOKEN_NORMAL);        /* 258 */
	add(v, "\xC4\xA0" "a", 0, INF_TOKEN_NORMAL); /* 259: " a" */
	add(v, "<|end|>", 0, INF_TOKEN_CONTROL);  /* 260 */
	add(v, "xyz", 0, INF_TOKEN_NORMAL);       /* 261: no merges make it */
	v->merges[0] = "b c";
	v->merges[1] = "a b";
	v->merges[2] = "a bc";
	v->merges[3] = "\xC4\xA0 a";
	v->n_merges = 4;
	for (uint32_t i = 0; i < v->n_merges; i++)
		v->merge_lens[i] = (uint32_t)strlen(v->merges[i]);
}

static void bpe_merges_lowest_rank_first(void)
{
	struct inf_vocab_spec s = spec_of(&bpe_vocab, "gpt2", "qwen2");
	struct inf_tokenizer *t;
	int32_t ids[64];
	char piece[8];
	size_t n;

	s.scores = NULL;
	t = make(s);
	n = tok(t, "abc a", false, false, ids);
	CHECK_EQ(n, 2); /* "abc": b c first, then a bc; " a" */
	CHECK_EQ(ids[0], 257);
	CHECK_EQ(ids[1], 259);
	n = tok(t, "ab", false, false, ids);
	CHECK_EQ(n, 1);
	CHECK_EQ(ids[0], 256);
	CHECK_EQ(inf_token_to_piece(t, 259, false, piece, sizeof piece), 2);
	CHECK(memcmp(piece, " a", 2) == 0);
	/* the words of "xyz" are merged, never looked up whole (not llama3) */
	n = tok(t, "xyz", false, false, ids);
	CHECK_EQ(n, 3);
	/* control token only with parse_special */
	n = tok(t, "a<|end|>", false, true, ids);
	CHECK_EQ(n, 2);
	CHECK_EQ(ids[1], 260);
	n = tok(t, "a<|end|>", false, false, ids);
	CHECK(n > 2);
	inf_tokenizer_free(t);

	/* llama3: a word that is a token is taken whole (ignore_merges) */
	s.pre = "llama-bpe";
	t = make(s);
	n = tok(t, "xyz", false, false, ids);
	CHECK_EQ(n, 1);
	CHECK_EQ(ids[0], 261);
	inf_tokenizer_free(t);
}

/* GPT-NeoX's and MPT's vocabularies have no token for the bytes that never
 * occur in UTF-8: such a vocabulary loads, and those bytes give no token
 * (llama.cpp drops them too); every other byte keeps its token. */
static void bpe_bytes_without_a_token_are_dropped(void)
{
	struct inf_vocab_spec s = spec_of(&bpe_vocab, "gpt2", NULL);
	struct inf_tokenizer *t;
	int32_t ids[64];
	size_t n;

	s.scores = NULL;
	s.n_tokens = 200; /* bytes 0xC8..0xFF (mapped to themselves) have none */
	s.n_merges = 0;
	t = make(s);
	if (!t)
		return;
	n = tok(t, "a\xC8" "b\xFF\xFE" "c\xC8", false, false, ids);
	CHECK_EQ(n, 3);
	CHECK_EQ(ids[0], 'a');
	CHECK_EQ(ids[1], 'b');
	CHECK_EQ(ids[2], 'c');
	n = tok(t, "\xFF", false, false, ids);
	CHECK_EQ(n, 0);
	inf_tokenizer_free(t);
}

static void pretokenizer_splits(void)
{
	static const struct {
		enum inf_pre pre;
		const char *text;
		const char *words[12];
	} cases[] = {
		{INF_PRE_LLAMA3, "Hello world's  123456 !!\n\n  x",
		 {"Hello", " world", "'s", " ", " ", "123", "456", " !!\n\n", " ", " x"}},
		{INF_PRE_QWEN2, "a 123", {"a", " ", "1", "2", "3"}},
		{INF_PRE_GPT2, "I'M  ok 42x", {"I", "'", "M", " ", " ok", " 42", "x"}},
		{INF_PRE_LLAMA3, "I'M x\r\n\ty", {"I", "'M", " x", "\r\n", "\ty"}},
		/* The lists below, worked out by hand from their expressions
		 * (docs/tokenizers.md). smollm/starcoder: \p{N} first, so
		 * " 22" is no word of GPT-2's; the pieces "x " and " " keep
		 * their spaces (no text follows within the piece). */
		{INF_PRE_STARCODER, "a1 22b's  x", {"a", "1", " ", "2", "2", "b", "'s", " ", " x"}},
		{INF_PRE_STARCODER, "x 2\n", {"x", " ", "2", "\n"}},
		/* falcon: punctuation runs (ASCII symbols too, not U+20AC),
		 * GPT-2's, then [0-9]{3} out of " 12345" */
		{INF_PRE_FALCON, "Hi, you 12345!?x", {"Hi", ",", " you", " ", "123", "45", "!?", "x"}},
		{INF_PRE_FALCON, "a+=b \xE2\x82\xAC" "5", {"a", "+=", "b", " \xE2\x82\xAC", "5"}},
		/* deepseek-llm: [\r\n]; \s?letters (not CJK); \s?[!-/:-~...]
		 * (the comma); \s+$ (the last piece); CJK; \p{N}+ */
		{INF_PRE_DEEPSEEK_LLM, "Hello, \xE4\xB8\x96\xE7\x95\x8C 42\n  ",
		 {"Hello", ",", " ", "\xE4\xB8\x96\xE7\x95\x8C", " ", "42", "\n", "  "}},
		{INF_PRE_DEEPSEEK_LLM, "a bc  d", {"a", " bc", " ", " d"}},
		/* U+00D7 is in none of its classes (U+20AC would be: its "CJK"
		 * class runs from U+0800): only \s+$ splits the spaces off */
		{INF_PRE_DEEPSEEK_LLM, "x \xC3\x97  ", {"x", " \xC3\x97", "  "}},
		{INF_PRE_DEEPSEEK_LLM, "x \xE2\x82\xAC  ", {"x", " ", "\xE2\x82\xAC", "  "}},
		/* deepseek-coder: '=' is a symbol (no \p{P}), digits one by one,
		 * a tab before Cyrillic letters is their \s? */
		{INF_PRE_DEEPSEEK_CODER, "if (x1 == 23):\n\t\xD0\xBF\xD1\x80\xD0\xB8",
		 {"if", " (", "x", "1", " == ", "2", "3", "):", "\n", "\t\xD0\xBF\xD1\x80\xD0\xB8"}},
		/* deepseek-v3: \p{N}{1,3}; CJK; then "'s" and "(foo" by the first
		 * alternative, " (" by ' ?[\p{P}\p{S}]+', ")!\n\n" with its
		 * newlines; digits match nothing of the third and stay whole */
		{INF_PRE_DEEPSEEK3, "Hello 12345 \xE4\xB8\x96\xE7\x95\x8C's (foo)!\n\n",
		 {"Hello", " ", "123", "45", " ", "\xE4\xB8\x96\xE7\x95\x8C", "'s", " (", "foo", ")!\n\n"}},
		{INF_PRE_DEEPSEEK3, "x(foo 1", {"x", "(foo", " ", "1"}},
		/* a combining mark stays in its word (\p{M}), unlike Llama 3's */
		{INF_PRE_DEEPSEEK3, "a\xCC\x81" "b c", {"a\xCC\x81" "b", " c"}},
		{INF_PRE_LLAMA3, "a\xCC\x81" "b c", {"a", "\xCC\x81" "b", " c"}},
		/* tekken: upper then lower letters make a word, a run of upper
		 * ones alone another; marks go with the letters; [\r\n/]* after
		 * punctuation */
		{INF_PRE_TEKKEN, "HTTPServer getXMLHttp abcDEF a\xCC\x81" "B!/\n",
		 {"HTTPServer", " get", "XMLHttp", " abc", "DEF", " a\xCC\x81", "B", "!/\n"}},
		{INF_PRE_TEKKEN, "x//\n/y 12", {"x", "//\n/", "y", " ", "1", "2"}},
		/* U*W+ gives back the A to let the modifier letter (Lm, in both
		 * classes) end the first word */
		{INF_PRE_TEKKEN, "\xCA\xB0" "A!", {"\xCA\xB0", "A", "!"}},
	};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t cps[64];
		size_t offs[65], ends[64], n = 0, len = strlen(cases[c].text), words, start = 0;

		CHECK(len < 64);

		for (size_t i = 0; i < len;) {
			offs[n] = i;
			i += inf_utf8_next((const unsigned char *)cases[c].text + i, len - i, &cps[n]);
			n++;
		}
		offs[n] = len;
		words = inf_pretokenize(cases[c].pre, cps, n, ends);
		for (size_t w = 0; w < words; w++) {
			const char *want = cases[c].words[w];
			size_t a = offs[start], b = offs[ends[w]];

			CHECK(want != NULL);
			if (want && (strlen(want) != b - a || memcmp(want, cases[c].text + a, b - a))) {
				fprintf(stderr, "case %zu word %zu: got \"%.*s\" want \"%s\"\n", c, w,
					(int)(b - a), cases[c].text + a, want);
				check_failures++;
			}
			start = ends[w];
		}
		CHECK(cases[c].words[words] == NULL);
	}
}

static void expect_error(struct inf_vocab_spec s, int code, const char *msg);

/* Every pre-tokenizer on random text: the words cover the input in order,
 * none empty, so the lists' in-place splitting (ends[] holds the pieces of
 * one stage while the next one writes) never loses or reorders a piece; and
 * 3,000 digits give the number of words each list's digit rule says. */
static void pretokenizers_cover_the_text(void)
{
	static const uint32_t alphabet[] = {'a', 'Z', ' ', ' ', '\n', '\r', '\t', '1', '2', '\'', 's',
		',', '(', '+', '~', 0x4E16, 0x0301, 0x00E9, 0x0660, 0x3000, 0x00A0, 0xFF01, 0x20AC,
		0x0416, 0xAC00, 0x3042, INF_CP_INVALID, 0x1F600};
	enum { N = 3000 };
	static uint32_t cps[N];
	static size_t ends[N];
	uint32_t seed = 12345;

	for (int pre = 0; pre < INF_PRE_COUNT; pre++) {
		for (int round = 0; round < 20; round++) {
			size_t n = round == 0 ? N : (size_t)(seed % 200) + 1, words, prev = 0;

			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				cps[i] = round == 0 ? '7' : alphabet[(seed >> 16) % (sizeof alphabet / sizeof alphabet[0])];
			}
			words = inf_pretokenize((enum inf_pre)pre, cps, n, ends);
			CHECK(words >= 1 && words <= n);
			for (size_t w = 0; w < words; w++) {
				CHECK(ends[w] > prev);
				prev = ends[w];
			}
			CHECK_EQ(prev, n);
			/* all digits: the lists with \p{N} make one word per
			 * digit (smollm, deepseek-coder, tekken) or per three */
			if (round == 0 && (pre == INF_PRE_STARCODER || pre == INF_PRE_DEEPSEEK_CODER ||
					   pre == INF_PRE_TEKKEN))
				CHECK_EQ(words, N);
			if (round == 0 && (pre == INF_PRE_LLAMA3 || pre == INF_PRE_DEEPSEEK3 ||
					   pre == INF_PRE_FALCON))
				CHECK_EQ(words, N / 3);
			if (round == 0 && (pre == INF_PRE_GPT2 || pre == INF_PRE_DEEPSEEK_LLM))
				CHECK_EQ(words, 1);
		}
	}
}

/* Each tokenizer.ggml.pre value gets its list, as llama.cpp maps them. */
static void pre_names_map_to_their_lists(void)
{
	static const struct {
		const char *name;
		enum inf_pre pre;
		bool ignore_merges;
	} cases[] = {
		{NULL, INF_PRE_GPT2, false}, {"default", INF_PRE_GPT2, false},
		{"gpt2", INF_PRE_GPT2, false}, {"gpt-2", INF_PRE_GPT2, false},
		{"mpt", INF_PRE_GPT2, false}, {"olmo", INF_PRE_GPT2, false},
		{"jais", INF_PRE_GPT2, false}, {"phi-2", INF_PRE_GPT2, false},
		{"llama-bpe", INF_PRE_LLAMA3, true}, {"llama3", INF_PRE_LLAMA3, true},
		{"llama-v3", INF_PRE_LLAMA3, true}, {"falcon3", INF_PRE_LLAMA3, true},
		{"dbrx", INF_PRE_LLAMA3, false}, {"smaug-bpe", INF_PRE_LLAMA3, false},
		{"qwen2", INF_PRE_QWEN2, false}, {"deepseek-r1-qwen", INF_PRE_QWEN2, false},
		{"stablelm2", INF_PRE_QWEN2, false}, {"megrez", INF_PRE_QWEN2, false},
		{"smollm", INF_PRE_STARCODER, false}, {"starcoder", INF_PRE_STARCODER, false},
		{"refact", INF_PRE_STARCODER, false}, {"command-r", INF_PRE_STARCODER, false},
		{"codeshell", INF_PRE_STARCODER, false}, {"exaone", INF_PRE_STARCODER, false},
		{"minerva-7b", INF_PRE_STARCODER, false}, {"falcon", INF_PRE_FALCON, false},
		{"deepseek-llm", INF_PRE_DEEPSEEK_LLM, false},
		{"deepseek-coder", INF_PRE_DEEPSEEK_CODER, false},
		{"deepseek-v3", INF_PRE_DEEPSEEK3, false}, {"tekken", INF_PRE_TEKKEN, true},
	};
	static const char *unsupported[] = {"Tekken", "chameleon", "viking", "bloom", "poro-chat",
		"chatglm-bpe", "gpt3-finnish", "Smollm", "smollm ", ""};
	struct inf_vocab_spec s = spec_of(&bpe_vocab, "gpt2", NULL), b;
	char msg[96];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct inf_tokenizer *t;
		bool im = !cases[i].ignore_merges;

		b = s, b.pre = cases[i].name;
		t = make(b);
		if (!t)
			continue;
		if (inf_tokenizer_pre(t, &im) != cases[i].pre || im != cases[i].ignore_merges) {
			fprintf(stderr, "pre \"%s\": list %d ignore_merges %d\n",
				cases[i].name ? cases[i].name : "(absent)", (int)inf_tokenizer_pre(t, &im), im);
			check_failures++;
		}
		inf_tokenizer_free(t);
	}
	for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
		b = s, b.pre = unsupported[i];
		snprintf(msg, sizeof msg, "pre-tokenizer \"%s\" is not supported", unsupported[i]);
		expect_error(b, INF_TEXT_EUNSUPPORTED, msg);
	}
}

static void utf8_replacement_matches_whatwg(void)
{
	/* TextDecoder: "\xF0\x9F\x98" one U+FFFD; "\xED\xA0\x80" three; "\xC0\xAF" two */
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xF0\x9F\x98" "b", "a\xEF\xBF\xBD" "b"},
		{"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"\xE4\xB8\xE4\xB8\x80", "\xEF\xBF\xBD\xE4\xB8\x80"},
		{"ok", "ok"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		char *r = inf_utf8_replace_invalid(cases[i].in, strlen(cases[i].in), &n);

		CHECK(r && n == strlen(cases[i].out) && memcmp(r, cases[i].out, n) == 0);
		free(r);
	}
}

static void expect_error(struct inf_vocab_spec s, int code, const char *msg)
{
	struct inf_tokenizer *t = (struct inf_tokenizer *)&t;
	char err[INF_TEXT_ERR_MAX] = "";

	CHECK_EQ(inf_tokenizer_create(&s, &t, err), code);
	CHECK(t == NULL);
	CHECK_CONTAINS(err, msg);
}

static void bad_vocabularies_are_rejected_by_name(void)
{
	struct inf_vocab_spec s = spec_of(&spm_vocab, "llama", NULL), b;
	int32_t bad_type;

	b = s, b.model = "bert";
	expect_error(b, INF_TEXT_EUNSUPPORTED, "\"bert\" is not supported");
	b = s, b.model = NULL;
	expect_error(b, INF_TEXT_EINVAL, "tokenizer.ggml.model is missing");
	b = s, b.pre = "falcon";
	expect_error(b, INF_TEXT_EUNSUPPORTED, "\"falcon\"");
	b = s, b.bos_id = 99999;
	expect_error(b, INF_TEXT_EINVAL, "bos_token_id 99999 is out of range");
	b = s, b.add_eos = 1;
	expect_error(b, INF_TEXT_EINVAL, "add_eos_token is set but there is no eos_token_id");
	b = s, b.add_bos = 2;
	expect_error(b, INF_TEXT_EINVAL, "add_bos_token is 2");
	b = s, b.scores = NULL;
	expect_error(b, INF_TEXT_EINVAL, "needs tokenizer.ggml.scores");
	b = s, b.n_tokens = 0;
	expect_error(b, INF_TEXT_EINVAL, "tokenizer.ggml.tokens is missing or empty");
	bad_type = spm_vocab.types[5];
	spm_vocab.types[5] = 9;
	expect_error(s, INF_TEXT_EINVAL, "token 5 has type 9");
	spm_vocab.types[5] = bad_type;

	s = spec_of(&bpe_vocab, "gpt2", "llama-bpe");
	b = s, b.pre = "viking";
	expect_error(b, INF_TEXT_EUNSUPPORTED, "pre-tokenizer \"viking\" is not supported");
	b = s, b.add_space_prefix = 1;
	expect_error(b, INF_TEXT_EUNSUPPORTED, "add_space_prefix=1");
	bpe_vocab.merges[0] = "bc";
	bpe_vocab.merge_lens[0] = 2;
	expect_error(s, INF_TEXT_EINVAL, "merge 0 is not two tokens");
	bpe_vocab.merges[0] = "q zz";
	bpe_vocab.merge_lens[0] = 4;
	expect_error(s, INF_TEXT_EINVAL, "merge 0 names a token that is not in the vocabulary");
	bpe_vocab.merges[0] = "b c";
	bpe_vocab.merge_lens[0] = 3;
}

int main(void)
{
	build_spm();
	build_bpe();
	RUN(spm_merges_highest_score_first);
	RUN(spm_space_prefix_and_byte_fallback);
	RUN(spm_unknown_without_byte_tokens);
	RUN(spm_pieces_spanning_a_space);
	RUN(specials_bos_eos_and_parse_special);
	RUN(bos_by_default_as_llama_cpp);
	RUN(end_of_turn_tokens_found_by_text);
	RUN(output_buffer_too_small_says_how_many);
	RUN(bpe_merges_lowest_rank_first);
	RUN(bpe_bytes_without_a_token_are_dropped);
	RUN(pretokenizer_splits);
	RUN(pretokenizers_cover_the_text);
	RUN(pre_names_map_to_their_lists);
	RUN(utf8_replacement_matches_whatwg);
	RUN(bad_vocabularies_are_rejected_by_name);
	return check_summary();
}
