/*
 * Tokenizers built from GGUF tokenizer metadata (struct inf_vocab_spec):
 *
 *  - "llama": SentencePiece BPE. The text (with a leading space when
 *    add_space_prefix, spaces as U+2581 "▁") starts as one symbol per UTF-8
 *    character; the adjacent pair whose concatenation is a vocabulary piece
 *    with the highest score merges first (ties: leftmost), until no pair
 *    merges. A symbol that is not a piece becomes its bytes' <0xXX> tokens
 *    (byte fallback), or the unknown token when there are none.
 *  - "gpt2": byte-level BPE. The pre-tokenizer splits the text into words;
 *    each word starts as one symbol per byte and the pair with the lowest
 *    merge rank merges first (ties: leftmost). Tokens are stored as the
 *    bytes they stand for (GPT-2's byte<->unicode map undone at load).
 *
 * Control, user-defined and unknown tokens are "special": with parse_special
 * their text in the input becomes the token (longest match first at each
 * position); user-defined tokens are always matched, as llama.cpp does.
 * docs/tokenizers.md says all of this at length.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tokenizer_internal.h"

enum tok_kind { TOK_SPM, TOK_BPE };

/* Open-addressing map from byte strings (in the arena) to token ids. */
struct str_map {
	int32_t *slots; /* token id, -1 empty; (mask + 1) slots */
	size_t mask;
};

/* Open-addressing map from a pair of token ids to its merge. */
struct merge_slot {
	uint64_t key;   /* left << 32 | right; UINT64_MAX empty */
	uint32_t rank;  /* lower merges first */
	int32_t result;
};

struct merge_map {
	struct merge_slot *slots;
	size_t mask;
};

struct inf_tokenizer {
	enum tok_kind kind;
	enum inf_pre pre;
	bool ignore_merges;        /* llama3: a word that is a token is not merged */
	uint32_t n_tokens;
	char *arena;               /* owned: every token's bytes */
	size_t *offs;              /* (n_tokens + 1) offsets into arena */
	float *scores;             /* (n_tokens), SPM only */
	uint8_t *types;            /* (n_tokens), enum inf_token_type */
	struct str_map text_map;   /* plain-text tokens: their bytes -> id */
	struct merge_map merges;   /* BPE only */
	int32_t byte_token[256];   /* SPM: <0xXX>; BPE: the byte's token; -1 none */
	int32_t *special;          /* special token ids, longest text first */
	size_t n_special;
	bool special_first[256];   /* bytes some special token starts with */
	int32_t bos, eos, unk, pad, eot;
	int32_t eog[16];           /* end of generation: EOS, EOT, and the tokens named below */
	size_t n_eog;
	bool add_bos, add_eos, add_space_prefix;
	bool bos_by_default;       /* add_bos_token absent: BOS when there is one (llama.cpp's default) */
	bool spm_chunks;           /* SPM: no mergeable piece has "▁" after another
	                              character, so merges never cross the start of a
	                              word and each word can be merged on its own */
};

static const char spm_space[] = "\xE2\x96\x81"; /* U+2581 */

/* The one error writer of the text side: err may be NULL (the caller does not
 * want the message). */
void inf_text_set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, INF_TEXT_ERR_MAX, fmt, ap);
	va_end(ap);
}

static const char *tok_text(const struct inf_tokenizer *t, int32_t id, size_t *len)
{
	*len = t->offs[id + 1] - t->offs[id];
	return t->arena + t->offs[id];
}

/* ---- maps ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h ^ h >> 29;
}

static size_t table_size(size_t n)
{
	size_t size = 16;

	while (size < n * 2)
		size <<= 1;
	return size;
}

static int str_map_init(struct str_map *m, size_t n)
{
	size_t size = table_size(n);

	m->slots = malloc(size * sizeof *m->slots);
	if (!m->slots)
		return INF_TEXT_ENOMEM;
	memset(m->slots, 0xff, size * sizeof *m->slots);
	m->mask = size - 1;
	return 0;
}

static int32_t str_map_get(const struct inf_tokenizer *t, const char *s, size_t len)
{
	const struct str_map *m = &t->text_map;

	for (size_t i = hash_bytes(s, len) & m->mask;; i = (i + 1) & m->mask) {
		int32_t id = m->slots[i];
		size_t tlen;
		const char *text;

		if (id < 0)
			return -1;
		text = tok_text(t, id, &tlen);
		if (tlen == len && memcmp(text, s, len) == 0)
			return id;
	}
}

/* Adds id unless its text is there already (the first id keeps it). */
static void str_map_add(struct inf_tokenizer *t, int32_t id)
{
	struct str_map *m = &t->text_map;
	size_t len;
	const char *s = tok_text(t, id, &len);

	for (size_t i = hash_bytes(s, len) & m->mask;; i = (i + 1) & m->mask) {
		size_t tlen;
		const char *text;

		if (m->slots[i] < 0) {
			m->slots[i] = id;
			return;
		}
		text = tok_text(t, m->slots[i], &tlen);
		if (tlen == len && memcmp(text, s, len) == 0)
			return;
	}
}

static uint64_t hash_pair(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return key;
}

static const struct merge_slot *merge_get(const struct merge_map *m, int32_t a, int32_t b)
{
	uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;

	for (size_t i = hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key)
			return &m->slots[i];
		if (m->slots[i].key == UINT64_MAX)
			return NULL;
	}
}

static void merge_add(struct merge_map *m, int32_t a, int32_t b, uint32_t rank, int32_t result)
{
	uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;

	for (size_t i = hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key)
			return; /* a repeated merge keeps its first (best) rank */
		if (m->slots[i].key == UINT64_MAX) {
			m->slots[i] = (struct merge_slot){key, rank, result};
			return;
		}
	}
}

/* ---- GPT-2's byte <-> unicode map ---- */

/* Printable bytes stand for themselves; the others (controls, space, 0x7F-0xA0,
 * 0xAD) are moved to U+0100 upwards in byte order. */
static void gpt2_byte_map(uint32_t byte_to_cp[256])
{
	uint32_t next = 256;

	for (uint32_t b = 0; b < 256; b++) {
		bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
				 (b >= 0xAE && b <= 0xFF);

		byte_to_cp[b] = printable ? b : next++;
	}
}

static int cp_to_byte(uint32_t cp)
{
	if ((cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
		return (int)cp;
	if (cp >= 256 && cp < 256 + 68) {
		static int table[68];
		static bool ready;

		if (!ready) { /* idempotent: racing threads write the same values */
			uint32_t map[256];

			gpt2_byte_map(map);
			for (int b = 0; b < 256; b++)
				if (map[b] >= 256)
					table[map[b] - 256] = b;
			ready = true;
		}
		return table[cp - 256];
	}
	return -1;
}

/* Undoes the byte map of s into out (room for len bytes); returns the length,
 * or -1 when s holds a character outside the map. */
static long gpt2_unmap(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int b;

		i += inf_utf8_next((const unsigned char *)s + i, len - i, &cp);
		b = cp == INF_CP_INVALID ? -1 : cp_to_byte(cp);
		if (b < 0)
			return -1;
		out[o++] = (char)b;
	}
	return (long)o;
}

/* ---- create ---- */

static bool is_special_type(int type)
{
	return type == INF_TOKEN_CONTROL || type == INF_TOKEN_USER_DEFINED ||
	       type == INF_TOKEN_UNKNOWN;
}

static int cmp_special(const void *a, const void *b, void *arg)
{
	const struct inf_tokenizer *t = arg;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	size_t lx = t->offs[x + 1] - t->offs[x], ly = t->offs[y + 1] - t->offs[y];

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int check_id(const struct inf_vocab_spec *s, int32_t id, const char *what, char *err)
{
	if (id < -1 || (id >= 0 && (uint32_t)id >= s->n_tokens)) {
		inf_text_set_err(err, "tokenizer: %s %d is out of range (vocabulary has %u tokens)", what, id,
			s->n_tokens);
		return INF_TEXT_EINVAL;
	}
	return 0;
}

static int check_flag(int v, const char *what, char *err)
{
	if (v < -1 || v > 1) {
		inf_text_set_err(err, "tokenizer: %s is %d (expected 0, 1 or absent)", what, v);
		return INF_TEXT_EINVAL;
	}
	return 0;
}

static int check_spec(const struct inf_vocab_spec *s, char *err)
{
	int rc;

	if (!s->model) {
		inf_text_set_err(err, "tokenizer: tokenizer.ggml.model is missing");
		return INF_TEXT_EINVAL;
	}
	if (s->n_tokens == 0 || !s->tokens || !s->token_lens) {
		inf_text_set_err(err, "tokenizer: tokenizer.ggml.tokens is missing or empty");
		return INF_TEXT_EINVAL;
	}
	if (s->n_tokens > INT32_MAX) {
		inf_text_set_err(err, "tokenizer: %u tokens is more than token ids can hold", s->n_tokens);
		return INF_TEXT_EINVAL;
	}
	if (s->n_merges && (!s->merges || !s->merge_lens)) {
		inf_text_set_err(err, "tokenizer: %u merges announced but none given", s->n_merges);
		return INF_TEXT_EINVAL;
	}
	for (uint32_t i = 0; i < s->n_tokens; i++) {
		if (!s->tokens[i] && s->token_lens[i]) {
			inf_text_set_err(err, "tokenizer: token %u has no text", i);
			return INF_TEXT_EINVAL;
		}
		if (s->types && (s->types[i] < 0 || s->types[i] > INF_TOKEN_BYTE)) {
			inf_text_set_err(err, "tokenizer: token %u has type %d (tokenizer.ggml.token_type "
				"values are 0-6)", i, s->types[i]);
			return INF_TEXT_EINVAL;
		}
		if (s->scores && !isfinite(s->scores[i])) {
			inf_text_set_err(err, "tokenizer: token %u has a score that is not finite", i);
			return INF_TEXT_EINVAL;
		}
	}
	if ((rc = check_id(s, s->bos_id, "bos_token_id", err)) ||
	    (rc = check_id(s, s->eos_id, "eos_token_id", err)) ||
	    (rc = check_id(s, s->unk_id, "unknown_token_id", err)) ||
	    (rc = check_id(s, s->pad_id, "padding_token_id", err)) ||
	    (rc = check_id(s, s->eot_id, "eot_token_id", err)) ||
	    (rc = check_flag(s->add_bos, "add_bos_token", err)) ||
	    (rc = check_flag(s->add_eos, "add_eos_token", err)) ||
	    (rc = check_flag(s->add_space_prefix, "add_space_prefix", err)))
		return rc;
	if (s->add_bos == 1 && s->bos_id < 0) {
		inf_text_set_err(err, "tokenizer: add_bos_token is set but there is no bos_token_id");
		return INF_TEXT_EINVAL;
	}
	if (s->add_eos == 1 && s->eos_id < 0) {
		inf_text_set_err(err, "tokenizer: add_eos_token is set but there is no eos_token_id");
		return INF_TEXT_EINVAL;
	}
	return 0;
}

/* tokenizer.ggml.pre values for "gpt2" and the expression lists they name,
 * as llama.cpp maps them (llama-vocab.cpp), with ignore_merges where it sets
 * it (the tokenizer.json of Llama 3, Falcon 3 and Tekken say so). The same
 * three families are the byte-level ones llama.cpp adds BOS to when
 * tokenizer.ggml.add_bos_token is absent. */
static const struct {
	const char *name;
	enum inf_pre pre;
	bool ignore_merges; /* and BOS by default */
} pre_names[] = {
	{"default", INF_PRE_GPT2, false},
	{"gpt2", INF_PRE_GPT2, false},
	{"gpt-2", INF_PRE_GPT2, false},
	{"mpt", INF_PRE_GPT2, false},
	{"olmo", INF_PRE_GPT2, false},
	{"jais", INF_PRE_GPT2, false},
	{"phi-2", INF_PRE_GPT2, false},
	{"llama-bpe", INF_PRE_LLAMA3, true},
	{"llama3", INF_PRE_LLAMA3, true},
	{"llama-v3", INF_PRE_LLAMA3, true},
	{"falcon3", INF_PRE_LLAMA3, true},
	{"dbrx", INF_PRE_LLAMA3, false},
	{"smaug-bpe", INF_PRE_LLAMA3, false},
	{"qwen2", INF_PRE_QWEN2, false},
	{"deepseek-r1-qwen", INF_PRE_QWEN2, false},
	{"stablelm2", INF_PRE_QWEN2, false},
	{"megrez", INF_PRE_QWEN2, false},
	{"smollm", INF_PRE_STARCODER, false},
	{"starcoder", INF_PRE_STARCODER, false},
	{"refact", INF_PRE_STARCODER, false},
	{"command-r", INF_PRE_STARCODER, false},
	{"codeshell", INF_PRE_STARCODER, false},
	{"exaone", INF_PRE_STARCODER, false},
	{"minerva-7b", INF_PRE_STARCODER, false},
	{"falcon", INF_PRE_FALCON, false},
	{"deepseek-llm", INF_PRE_DEEPSEEK_LLM, false},
	{"deepseek-coder", INF_PRE_DEEPSEEK_CODER, false},
	{"deepseek-v3", INF_PRE_DEEPSEEK3, false},
	{"tekken", INF_PRE_TEKKEN, true},
};

static int setup_kind(struct inf_tokenizer *t, const struct inf_vocab_spec *s, char *err)
{
	const char *pre = s->pre;

	if (strcmp(s->model, "llama") == 0) {
		t->kind = TOK_SPM;
		if (pre && strcmp(pre, "default") != 0) {
			inf_text_set_err(err, "tokenizer: pre-tokenizer \"%.64s\" is not supported with the "
				"\"llama\" (SentencePiece) model", pre);
			return INF_TEXT_EUNSUPPORTED;
		}
		t->add_space_prefix = s->add_space_prefix != 0;
		t->bos_by_default = true;
		return 0;
	}
	if (strcmp(s->model, "gpt2") == 0) {
		size_t i = 0;

		t->kind = TOK_BPE;
		/* absent: GPT-2's expression (llama.cpp warns and uses a list
		 * of its own; see docs/tokenizers.md) */
		while (pre && i < sizeof pre_names / sizeof pre_names[0] &&
		       strcmp(pre, pre_names[i].name) != 0)
			i++;
		if (i == sizeof pre_names / sizeof pre_names[0]) {
			/* the full list would not fit in a message */
			inf_text_set_err(err, "tokenizer: pre-tokenizer \"%.64s\" is not supported (supported: "
				"gpt2, llama-bpe, qwen2, smollm, falcon, deepseek-llm, deepseek-coder, "
				"deepseek-v3, tekken and the aliases docs/tokenizers.md lists)", pre);
			return INF_TEXT_EUNSUPPORTED;
		}
		t->pre = pre ? pre_names[i].pre : INF_PRE_GPT2;
		t->ignore_merges = pre && pre_names[i].ignore_merges;
		t->bos_by_default = t->ignore_merges;
		if (s->add_space_prefix == 1) {
			inf_text_set_err(err, "tokenizer: add_space_prefix=1 is not supported for \"gpt2\" "
				"tokenizers");
			return INF_TEXT_EUNSUPPORTED;
		}
		return 0;
	}
	inf_text_set_err(err, "tokenizer: tokenizer model \"%.64s\" is not supported (supported: llama, gpt2)",
		s->model);
	return INF_TEXT_EUNSUPPORTED;
}

/* Copies the tokens' bytes into the arena: as given for SentencePiece, for
 * control and user-defined tokens; unmapped (GPT-2 byte map) for the others
 * of a byte-level vocabulary. Returns whether token i is byte-mapped text. */
static int copy_tokens(struct inf_tokenizer *t, const struct inf_vocab_spec *s, char *err)
{
	size_t total = 0, o = 0;

	for (uint32_t i = 0; i < s->n_tokens; i++) {
		if (s->token_lens[i] > SIZE_MAX / 2 - total) {
			inf_text_set_err(err, "tokenizer: tokens too long");
			return INF_TEXT_EINVAL;
		}
		total += s->token_lens[i];
	}
	t->arena = malloc(total + 1);
	t->offs = malloc((s->n_tokens + 1ull) * sizeof *t->offs);
	t->types = malloc(s->n_tokens);
	t->scores = calloc(s->n_tokens, sizeof *t->scores);
	if (!t->arena || !t->offs || !t->types || !t->scores)
		return INF_TEXT_ENOMEM;
	for (uint32_t i = 0; i < s->n_tokens; i++) {
		const char *text = s->tokens[i];
		size_t len = s->token_lens[i];
		int type = s->types ? s->types[i] : INF_TOKEN_NORMAL;
		long n;

		t->types[i] = (uint8_t)(type == INF_TOKEN_UNDEFINED ? INF_TOKEN_NORMAL : type);
		t->scores[i] = s->scores ? s->scores[i] : 0.0f;
		t->offs[i] = o;
		if (t->kind == TOK_BPE && !is_special_type(t->types[i]) &&
		    (n = gpt2_unmap(text, len, t->arena + o)) >= 0) {
			o += (size_t)n;
			continue;
		}
		if (t->kind == TOK_BPE && !is_special_type(t->types[i]))
			t->types[i] = INF_TOKEN_USER_DEFINED; /* not byte-mapped: literal text */
		if (len)
			memcpy(t->arena + o, text, len);
		o += len;
	}
	t->offs[s->n_tokens] = o;
	return 0;
}

static int build_maps(struct inf_tokenizer *t, const struct inf_vocab_spec *s, char *err)
{
	int rc;

	if ((rc = str_map_init(&t->text_map, s->n_tokens)))
		return rc;
	for (uint32_t i = 0; i < s->n_tokens; i++)
		if (t->types[i] == INF_TOKEN_NORMAL || t->types[i] == INF_TOKEN_BYTE ||
		    t->types[i] == INF_TOKEN_UNUSED ||
		    (t->kind == TOK_SPM && t->types[i] == INF_TOKEN_USER_DEFINED))
			str_map_add(t, (int32_t)i);
	for (int b = 0; b < 256; b++) {
		char buf[8];

		if (t->kind == TOK_SPM) {
			snprintf(buf, sizeof buf, "<0x%02X>", b);
			t->byte_token[b] = str_map_get(t, buf, 6);
		} else {
			/* Some vocabularies (GPT-NeoX, MPT) lack the bytes that
			 * never occur in UTF-8 (0xC0, 0xC1, 0xF5-0xFF): those
			 * bytes then give no token, as in llama.cpp. */
			buf[0] = (char)b;
			t->byte_token[b] = str_map_get(t, buf, 1);
		}
	}
	if (t->kind == TOK_SPM && s->n_merges) {
		inf_text_set_err(err, "tokenizer: the \"llama\" (SentencePiece) model uses scores, not "
			"merges, but %u merges were given", s->n_merges);
		return INF_TEXT_EINVAL;
	}
	if (t->kind == TOK_SPM) {
		t->spm_chunks = true;
		for (uint32_t i = 0; i < t->n_tokens && t->spm_chunks; i++) {
			size_t len;
			const char *text = tok_text(t, (int32_t)i, &len);

			if (t->types[i] != INF_TOKEN_NORMAL && t->types[i] != INF_TOKEN_USER_DEFINED)
				continue;
			for (size_t k = 1; k + 3 <= len; k++)
				if (memcmp(text + k, spm_space, 3) == 0 &&
				    !(k >= 3 && memcmp(text + k - 3, spm_space, 3) == 0)) {
					t->spm_chunks = false;
					break;
				}
		}
	}
	if (t->kind == TOK_SPM && !s->scores) {
		inf_text_set_err(err, "tokenizer: the \"llama\" (SentencePiece) model needs "
			"tokenizer.ggml.scores");
		return INF_TEXT_EINVAL;
	}
	if (t->kind == TOK_BPE) {
		size_t size = table_size(s->n_merges);
		char *buf;

		t->merges.slots = malloc(size * sizeof *t->merges.slots);
		if (!t->merges.slots)
			return INF_TEXT_ENOMEM;
		memset(t->merges.slots, 0xff, size * sizeof *t->merges.slots);
		t->merges.mask = size - 1;
		for (uint32_t r = 0; r < s->n_merges; r++) {
			const char *m = s->merges[r], *sp;
			size_t len = s->merge_lens[r];
			long la, lb;
			int32_t a, b, res;

			sp = m ? memchr(m, ' ', len) : NULL;
			if (!sp || sp == m || sp == m + len - 1) {
				inf_text_set_err(err, "tokenizer: merge %u is not two tokens separated by a "
					"space", r);
				return INF_TEXT_EINVAL;
			}
			buf = malloc(len);
			if (!buf)
				return INF_TEXT_ENOMEM;
			la = gpt2_unmap(m, (size_t)(sp - m), buf);
			lb = la < 0 ? -1 : gpt2_unmap(sp + 1, len - (size_t)(sp - m) - 1, buf + la);
			if (la < 0 || lb < 0) {
				free(buf);
				inf_text_set_err(err, "tokenizer: merge %u holds a character outside the byte "
					"map", r);
				return INF_TEXT_EINVAL;
			}
			a = str_map_get(t, buf, (size_t)la);
			b = str_map_get(t, buf + la, (size_t)lb);
			res = str_map_get(t, buf, (size_t)(la + lb));
			free(buf);
			if (a < 0 || b < 0) {
				inf_text_set_err(err, "tokenizer: merge %u names a token that is not in the "
					"vocabulary", r);
				return INF_TEXT_EINVAL;
			}
			if (res >= 0) /* a merge whose result is no token can never apply */
				merge_add(&t->merges, a, b, r, res);
		}
	}
	return 0;
}

static int build_specials(struct inf_tokenizer *t)
{
	size_t n = 0;

	for (uint32_t i = 0; i < t->n_tokens; i++)
		if (is_special_type(t->types[i]) && t->offs[i + 1] > t->offs[i])
			n++;
	t->special = malloc((n ? n : 1) * sizeof *t->special);
	if (!t->special)
		return INF_TEXT_ENOMEM;
	for (uint32_t i = 0; i < t->n_tokens; i++)
		if (is_special_type(t->types[i]) && t->offs[i + 1] > t->offs[i])
			t->special[t->n_special++] = (int32_t)i;
	qsort_r(t->special, t->n_special, sizeof *t->special, cmp_special, t);
	for (size_t i = 0; i < t->n_special; i++)
		t->special_first[(unsigned char)t->arena[t->offs[t->special[i]]]] = true;
	return 0;
}

static void add_eog(struct inf_tokenizer *t, int32_t id)
{
	if (id < 0 || t->n_eog == sizeof t->eog / sizeof t->eog[0])
		return;
	for (size_t i = 0; i < t->n_eog; i++)
		if (t->eog[i] == id)
			return;
	t->eog[t->n_eog++] = id;
}

/* Converters write no id for the token that ends a turn when it is not the
 * EOS (Gemma's <end_of_turn>, Phi-3's <|end|>, a base Qwen's <|im_end|>), so
 * llama.cpp recognises these texts as ends of generation, and makes them
 * control tokens if they are not: the same here, before the maps are built
 * from the types. */
static void find_eog(struct inf_tokenizer *t)
{
	static const char *const texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
		"<|endoftext|>", "<|eom_id|>", "<EOT>"};

	for (uint32_t i = 0; i < t->n_tokens; i++) {
		size_t len = t->offs[i + 1] - t->offs[i];

		if (len < 5 || len > 13 || t->arena[t->offs[i]] != '<' || t->types[i] == INF_TOKEN_BYTE)
			continue;
		for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
			if (strlen(texts[k]) == len && memcmp(texts[k], t->arena + t->offs[i], len) == 0) {
				t->types[i] = INF_TOKEN_CONTROL;
				if (t->n_eog < sizeof t->eog / sizeof t->eog[0] - 2) /* room for EOS, EOT */
					add_eog(t, (int32_t)i);
			}
	}
}

int inf_tokenizer_create(const struct inf_vocab_spec *spec, struct inf_tokenizer **out,
			 char err[INF_TEXT_ERR_MAX])
{
	struct inf_tokenizer *t;
	int rc;

	*out = NULL;
	if ((rc = check_spec(spec, err)))
		return rc;
	t = calloc(1, sizeof *t);
	if (!t)
		return INF_TEXT_ENOMEM;
	t->n_tokens = spec->n_tokens;
	if ((rc = setup_kind(t, spec, err)) || (rc = copy_tokens(t, spec, err)) ||
	    (find_eog(t), rc = build_maps(t, spec, err)) || (rc = build_specials(t))) {
		if (rc == INF_TEXT_ENOMEM)
			inf_text_set_err(err, "tokenizer: out of memory");
		inf_tokenizer_free(t);
		return rc;
	}
	t->bos = spec->bos_id, t->eos = spec->eos_id, t->unk = spec->unk_id;
	t->pad = spec->pad_id, t->eot = spec->eot_id;
	add_eog(t, t->eos);
	add_eog(t, t->eot);
	/* Without the metadata: BOS when the vocabulary has one and llama.cpp
	 * adds it by default for this kind (SentencePiece, and the byte-level
	 * Llama 3, Falcon 3 and Tekken lists), never EOS. */
	t->add_bos = spec->add_bos == -1 ? t->bos_by_default && spec->bos_id >= 0 : spec->add_bos == 1;
	t->add_eos = spec->add_eos == 1;
	*out = t;
	return 0;
}

void inf_tokenizer_free(struct inf_tokenizer *t)
{
	if (!t)
		return;
	free(t->arena);
	free(t->offs);
	free(t->scores);
	free(t->types);
	free(t->text_map.slots);
	free(t->merges.slots);
	free(t->special);
	free(t);
}

uint32_t inf_tokenizer_n_tokens(const struct inf_tokenizer *t)
{
	return t->n_tokens;
}

int32_t inf_tokenizer_bos(const struct inf_tokenizer *t)
{
	return t->bos;
}

int32_t inf_tokenizer_eos(const struct inf_tokenizer *t)
{
	return t->eos;
}

enum inf_pre inf_tokenizer_pre(const struct inf_tokenizer *t, bool *ignore_merges)
{
	*ignore_merges = t->ignore_merges;
	return t->pre;
}

bool inf_tokenizer_adds_space_prefix(const struct inf_tokenizer *t)
{
	return t->kind == TOK_SPM && t->add_space_prefix;
}

bool inf_tokenizer_is_eog(const struct inf_tokenizer *t, int32_t id)
{
	for (size_t i = 0; id >= 0 && i < t->n_eog; i++)
		if (t->eog[i] == id)
			return true;
	return false;
}

/* ---- encoding ---- */

struct out_ids {
	int32_t *ids;
	size_t cap, n;
};

static void emit(struct out_ids *o, int32_t id)
{
	if (o->n < o->cap)
		o->ids[o->n] = id;
	o->n++;
}

struct symbol {
	uint32_t start, len; /* bytes in the buffer being merged */
	int32_t prev, next;  /* neighbours, -1 none */
	int32_t id;          /* BPE: the symbol's token */
};

struct bigram {
	int32_t left, right;
	double prio;         /* lower pops first: -score (SPM) or rank (BPE) */
	uint32_t size;       /* the pair's byte length when queued (stale check) */
	int32_t result;      /* BPE: the merged token */
};

struct heap {
	struct bigram *a;
	size_t n, cap;
};

static bool bigram_before(const struct bigram *x, const struct bigram *y)
{
	if (x->prio != y->prio)
		return x->prio < y->prio;
	return x->left < y->left;
}

static int heap_push(struct heap *h, struct bigram b)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct bigram *a = realloc(h->a, cap * sizeof *a);

		if (!a)
			return INF_TEXT_ENOMEM;
		h->a = a, h->cap = cap;
	}
	i = h->n++;
	while (i > 0 && bigram_before(&b, &h->a[(i - 1) / 2])) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = b;
	return 0;
}

static struct bigram heap_pop(struct heap *h)
{
	struct bigram top = h->a[0], last = h->a[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && bigram_before(&h->a[c + 1], &h->a[c]))
			c++;
		if (!bigram_before(&h->a[c], &last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n)
		h->a[i] = last;
	return top;
}

/* Scratch space for one tokenize call. */
struct work {
	struct symbol *sym;
	size_t sym_cap;
	struct heap heap;
	char *buf;
	size_t buf_cap;
	uint32_t *cps;
	size_t *cp_off, *ends;
	size_t cp_cap;
};

static void work_free(struct work *w)
{
	free(w->sym);
	free(w->heap.a);
	free(w->buf);
	free(w->cps);
	free(w->cp_off);
	free(w->ends);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	void *q;

	if (need <= *cap)
		return 0;
	q = realloc(*p, need * elem);
	if (!q)
		return INF_TEXT_ENOMEM;
	*p = q, *cap = need;
	return 0;
}

/* SentencePiece: the pair (left, right) may merge when its text is a piece
 * that plain text can produce. */
static int spm_try_pair(const struct inf_tokenizer *t, struct work *w, int32_t left, int32_t right)
{
	const struct symbol *l, *r;
	int32_t id;
	int type;

	if (left < 0 || right < 0)
		return 0;
	l = &w->sym[left], r = &w->sym[right];
	id = str_map_get(t, w->buf + l->start, l->len + r->len);
	if (id < 0)
		return 0;
	type = t->types[id];
	if (type != INF_TOKEN_NORMAL && type != INF_TOKEN_USER_DEFINED)
		return 0;
	return heap_push(&w->heap, (struct bigram){left, right, -(double)t->scores[id],
						    l->len + r->len, id});
}

static int spm_encode(const struct inf_tokenizer *t, struct work *w, const char *text, size_t len,
		      bool space_prefix, struct out_ids *o, char *err)
{
	size_t n = 0, blen = 0, nsym = 0;
	int rc;

	for (size_t i = 0; i < len; i++)
		n += text[i] == ' ' ? 3 : 1;
	n += space_prefix ? 3 : 0;
	if (grow((void **)&w->buf, &w->buf_cap, n + 1, 1))
		return INF_TEXT_ENOMEM;
	if (space_prefix) {
		memcpy(w->buf, spm_space, 3);
		blen = 3;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] == ' ') {
			memcpy(w->buf + blen, spm_space, 3);
			blen += 3;
		} else {
			w->buf[blen++] = text[i];
		}
	}
	if (grow((void **)&w->sym, &w->sym_cap, blen + 1, sizeof *w->sym))
		return INF_TEXT_ENOMEM;
	for (size_t i = 0; i < blen;) {
		uint32_t cp;
		size_t k = inf_utf8_next((const unsigned char *)w->buf + i, blen - i, &cp);

		w->sym[nsym] = (struct symbol){(uint32_t)i, (uint32_t)k, (int32_t)nsym - 1,
					       i + k < blen ? (int32_t)nsym + 1 : -1, -1};
		nsym++;
		i += k;
	}
	/* Merge word by word when no merge can cross a word start (a "▁" after
	 * another character): the same result, with a small queue each time. */
	for (size_t from = 0, to; from < nsym; from = to) {
		to = from + 1;
		while (to < nsym && !(t->spm_chunks && w->sym[to].len == 3 &&
				      memcmp(w->buf + w->sym[to].start, spm_space, 3) == 0 &&
				      !(w->sym[to - 1].len == 3 &&
					memcmp(w->buf + w->sym[to - 1].start, spm_space, 3) == 0)))
			to++;
		w->heap.n = 0;
		for (size_t i = from + 1; i < to; i++)
			if ((rc = spm_try_pair(t, w, (int32_t)i - 1, (int32_t)i)))
				return rc;
		while (w->heap.n) {
			struct bigram b = heap_pop(&w->heap);
			struct symbol *l = &w->sym[b.left], *r = &w->sym[b.right];

			if (l->len == 0 || r->len == 0 || l->len + r->len != b.size)
				continue; /* one side merged since */
			l->len += r->len;
			r->len = 0;
			l->next = r->next;
			if (r->next >= 0)
				w->sym[r->next].prev = b.left;
			if ((rc = spm_try_pair(t, w, l->prev, b.left)) ||
			    (rc = spm_try_pair(t, w, b.left, l->next)))
				return rc;
		}
	}
	for (int32_t i = nsym ? 0 : -1; i >= 0; i = w->sym[i].next) {
		const struct symbol *s = &w->sym[i];
		int32_t id = str_map_get(t, w->buf + s->start, s->len);

		if (id >= 0 && t->types[id] != INF_TOKEN_BYTE) {
			emit(o, id);
			continue;
		}
		for (uint32_t k = 0; k < s->len; k++) {
			int32_t bt = t->byte_token[(unsigned char)w->buf[s->start + k]];

			if (bt < 0)
				bt = t->unk;
			if (bt < 0) {
				inf_text_set_err(err, "tokenizer: byte 0x%02X has no <0x%02X> token and the "
					"vocabulary has no unknown token",
					(unsigned char)w->buf[s->start + k],
					(unsigned char)w->buf[s->start + k]);
				return INF_TEXT_EINVAL;
			}
			emit(o, bt);
			/* without byte tokens a whole character is one unknown token */
			if (bt == t->unk && t->byte_token[(unsigned char)w->buf[s->start]] < 0)
				break;
		}
	}
	return 0;
}

static int bpe_try_pair(const struct inf_tokenizer *t, struct work *w, int32_t left, int32_t right)
{
	const struct merge_slot *m;

	if (left < 0 || right < 0 || w->sym[left].id < 0 || w->sym[right].id < 0)
		return 0;
	m = merge_get(&t->merges, w->sym[left].id, w->sym[right].id);
	if (!m)
		return 0;
	return heap_push(&w->heap, (struct bigram){left, right, (double)m->rank,
						    w->sym[left].len + w->sym[right].len,
						    m->result});
}

static int bpe_word(const struct inf_tokenizer *t, struct work *w, const char *word, size_t len,
		    struct out_ids *o)
{
	int rc;

	if (t->ignore_merges) {
		int32_t id = str_map_get(t, word, len);

		if (id >= 0 && t->types[id] == INF_TOKEN_NORMAL) {
			emit(o, id);
			return 0;
		}
	}
	if (len == 1) {
		if (t->byte_token[(unsigned char)word[0]] >= 0)
			emit(o, t->byte_token[(unsigned char)word[0]]);
		return 0;
	}
	if (grow((void **)&w->sym, &w->sym_cap, len, sizeof *w->sym))
		return INF_TEXT_ENOMEM;
	for (size_t i = 0; i < len; i++)
		w->sym[i] = (struct symbol){(uint32_t)i, 1, (int32_t)i - 1,
					    i + 1 < len ? (int32_t)i + 1 : -1,
					    t->byte_token[(unsigned char)word[i]]};
	w->heap.n = 0;
	for (size_t i = 1; i < len; i++)
		if ((rc = bpe_try_pair(t, w, (int32_t)i - 1, (int32_t)i)))
			return rc;
	while (w->heap.n) {
		struct bigram b = heap_pop(&w->heap);
		struct symbol *l = &w->sym[b.left], *r = &w->sym[b.right];

		if (l->len == 0 || r->len == 0 || l->len + r->len != b.size || l->next != b.right)
			continue;
		l->len += r->len;
		l->id = b.result;
		r->len = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = b.left;
		if ((rc = bpe_try_pair(t, w, l->prev, b.left)) ||
		    (rc = bpe_try_pair(t, w, b.left, l->next)))
			return rc;
	}
	for (int32_t i = 0; i >= 0; i = w->sym[i].next)
		if (w->sym[i].id >= 0) /* a byte without a token is dropped */
			emit(o, w->sym[i].id);
	return 0;
}

static int bpe_encode(const struct inf_tokenizer *t, struct work *w, const char *text, size_t len,
		      struct out_ids *o)
{
	size_t n = 0, words, start = 0;
	int rc;

	if (grow((void **)&w->cps, &w->cp_cap, len, sizeof *w->cps) ||
	    (w->cp_cap = 0, grow((void **)&w->cp_off, &w->cp_cap, len + 1, sizeof *w->cp_off)) ||
	    (w->cp_cap = 0, grow((void **)&w->ends, &w->cp_cap, len, sizeof *w->ends)))
		return INF_TEXT_ENOMEM;
	for (size_t i = 0; i < len;) {
		w->cp_off[n] = i;
		i += inf_utf8_next((const unsigned char *)text + i, len - i, &w->cps[n]);
		n++;
	}
	w->cp_off[n] = len;
	words = inf_pretokenize(t->pre, w->cps, n, w->ends);
	for (size_t k = 0; k < words; k++) {
		size_t a = w->cp_off[start], b = w->cp_off[w->ends[k]];

		if ((rc = bpe_word(t, w, text + a, b - a, o)))
			return rc;
		start = w->ends[k];
	}
	return 0;
}

/* The longest special token whose text starts text[0..len), or -1. */
static int32_t match_special(const struct inf_tokenizer *t, const char *text, size_t len,
			     bool parse_special)
{
	for (size_t i = 0; i < t->n_special; i++) {
		int32_t id = t->special[i];
		size_t tlen;
		const char *s = tok_text(t, id, &tlen);

		if (!parse_special && t->types[id] != INF_TOKEN_USER_DEFINED)
			continue;
		if (tlen <= len && s[0] == text[0] && memcmp(s, text, tlen) == 0)
			return id;
	}
	return -1;
}

static int encode_text(const struct inf_tokenizer *t, struct work *w, const char *text,
		       size_t len, bool after_special, struct out_ids *o, char *err)
{
	if (t->kind == TOK_SPM)
		return spm_encode(t, w, text, len, t->add_space_prefix && after_special, o, err);
	return bpe_encode(t, w, text, len, o);
}

int inf_tokenize(const struct inf_tokenizer *t, const char *text, size_t len, bool add_special,
		 bool parse_special, int32_t *ids, size_t cap, size_t *n_out,
		 char err[INF_TEXT_ERR_MAX])
{
	struct out_ids o = {ids, ids ? cap : 0, 0};
	struct work w = {0};
	bool after_special = true; /* SentencePiece: the first text gets the space prefix */
	bool any_special = false;
	size_t start = 0;
	int rc = 0;

	*n_out = 0;
	if (!text && len) {
		inf_text_set_err(err, "tokenize: text is NULL");
		return INF_TEXT_EINVAL;
	}
	if (len > (size_t)1 << 30) { /* symbol offsets are 32-bit; SPM triples spaces */
		inf_text_set_err(err, "tokenize: a text of %zu bytes is too long (at most 1 GiB)", len);
		return INF_TEXT_EINVAL;
	}
	for (size_t i = 0; i < t->n_special && !any_special; i++)
		any_special = parse_special || t->types[t->special[i]] == INF_TOKEN_USER_DEFINED;
	if (add_special && t->add_bos)
		emit(&o, t->bos);
	for (size_t i = 0; i < len && any_special; i++) {
		int32_t id;

		if (!t->special_first[(unsigned char)text[i]])
			continue;
		id = match_special(t, text + i, len - i, parse_special);
		if (id < 0)
			continue;
		if (i > start) {
			rc = encode_text(t, &w, text + start, i - start, after_special, &o, err);
			if (rc)
				goto out;
		}
		emit(&o, id);
		after_special = true;
		i += t->offs[id + 1] - t->offs[id] - 1;
		start = i + 1;
	}
	if (len > start) {
		rc = encode_text(t, &w, text + start, len - start, after_special, &o, err);
		if (rc)
			goto out;
	}
	if (add_special && t->add_eos)
		emit(&o, t->eos);
	*n_out = o.n;
	if (ids && o.n > cap) {
		inf_text_set_err(err, "tokenize: %zu tokens do not fit in %zu", o.n, cap);
		rc = INF_TEXT_ERANGE;
	} else if (!ids && o.n) {
		rc = INF_TEXT_ERANGE;
		inf_text_set_err(err, "tokenize: %zu tokens and no buffer", o.n);
	}
out:
	if (rc == INF_TEXT_ENOMEM)
		inf_text_set_err(err, "tokenize: out of memory");
	work_free(&w);
	return rc;
}

/* ---- decoding ---- */

static int copy_out(char *buf, size_t cap, const char *s, size_t len)
{
	size_t n = len < cap ? len : cap;

	if (n)
		memcpy(buf, s, n);
	return (int)(len > INT32_MAX ? INT32_MAX : n);
}

int inf_token_to_piece(const struct inf_tokenizer *t, int32_t id, bool render_special, char *buf,
		       size_t cap)
{
	size_t len, o = 0;
	const char *s;

	if (id < 0 || (uint32_t)id >= t->n_tokens || (!buf && cap))
		return INF_TEXT_EINVAL;
	s = tok_text(t, id, &len);
	switch (t->types[id]) {
	case INF_TOKEN_CONTROL:
		return render_special ? copy_out(buf, cap, s, len) : 0;
	case INF_TOKEN_UNKNOWN:
		/* llama.cpp shows the unknown token as U+2585 */
		return render_special ? copy_out(buf, cap, s, len)
				      : copy_out(buf, cap, "\xE2\x96\x85", 3);
	case INF_TOKEN_BYTE:
		if (t->kind == TOK_SPM && len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
			char byte = (char)strtol((char[3]){s[3], s[4], 0}, NULL, 16);

			return copy_out(buf, cap, &byte, 1);
		}
		break;
	default:
		break;
	}
	if (t->kind == TOK_BPE)
		return copy_out(buf, cap, s, len);
	for (size_t i = 0; i < len;) { /* SentencePiece: "▁" is a space */
		if (len - i >= 3 && memcmp(s + i, spm_space, 3) == 0) {
			if (o < cap)
				buf[o] = ' ';
			o++, i += 3;
		} else {
			if (o < cap)
				buf[o] = s[i];
			o++, i++;
		}
	}
	return (int)(o < cap ? o : cap);
}
