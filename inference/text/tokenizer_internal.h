/*
 * inference/text/tokenizer_internal.h: shared between the tokenizer's files and
 * its tests (not part of the module's API).
 */
#ifndef TETHER_INFERENCE_TOKENIZER_INTERNAL_H
#define TETHER_INFERENCE_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A code point that stands for one byte that is not part of valid UTF-8: it
 * is in no Unicode category, so pre-tokenizers treat it like punctuation and
 * tokenizers keep the byte itself (nothing is lost). */
#define INF_CP_INVALID 0xFFFFFFFFu

struct inf_cp_range {
	uint32_t lo, hi; /* inclusive */
};

struct inf_cp_table {
	const struct inf_cp_range *ranges; /* sorted, disjoint */
	size_t n;
};

/* Generated tables (tokenizer_unicode.c, scripts/gen_unicode_table.mjs). */
extern const struct inf_cp_table inf_unicode_letter; /* \p{L} */
extern const struct inf_cp_table inf_unicode_number; /* \p{N} */
extern const struct inf_cp_table inf_unicode_space;  /* ECMAScript \s */
extern const struct inf_cp_table inf_unicode_punct;  /* \p{P} */
extern const struct inf_cp_table inf_unicode_symbol; /* \p{S} */
extern const struct inf_cp_table inf_unicode_mark;   /* \p{M} */
extern const struct inf_cp_table inf_unicode_lower;  /* \p{Ll} */
extern const struct inf_cp_table inf_unicode_upper;  /* \p{Lu} and \p{Lt} */

bool inf_cp_in(const struct inf_cp_table *t, uint32_t cp);

/* Decodes one code point of s[0..len) (len > 0). Returns the bytes used: the
 * sequence's length when it is valid UTF-8 (shortest form, no surrogates,
 * at most U+10FFFF), else 1 with *cp = INF_CP_INVALID. */
size_t inf_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* Encodes cp as UTF-8 into out[4]; returns the length. */
size_t inf_utf8_put(uint32_t cp, char out[4]);

/* Replaces every ill-formed subsequence of s by U+FFFD the way the WHATWG
 * decoder (TextDecoder, "maximal subpart") does. Returns a malloc'd copy
 * (NUL-terminated; *out_len without it), or NULL when out of memory. */
char *inf_utf8_replace_invalid(const char *s, size_t len, size_t *out_len);

/* The byte-level BPE pre-tokenizers: each a list of regular expressions
 * (docs/tokenizers.md has them), every one written out by hand. */
enum inf_pre {
	INF_PRE_GPT2,      /* "default"/"gpt2"/"mpt"/"olmo"...: GPT-2's expression */
	INF_PRE_LLAMA3,    /* "llama-bpe"/"llama3": Llama 3's, digits in groups of 1-3 */
	INF_PRE_QWEN2,     /* "qwen2"/"deepseek-r1-qwen": Llama 3's with single digits */
	INF_PRE_STARCODER, /* "smollm"/"starcoder"/"refact"/"command-r"...: digits apart, then GPT-2's */
	INF_PRE_FALCON,    /* "falcon": punctuation runs, GPT-2's, groups of three ASCII digits */
	INF_PRE_DEEPSEEK_LLM,   /* "deepseek-llm" */
	INF_PRE_DEEPSEEK_CODER, /* "deepseek-coder" */
	INF_PRE_DEEPSEEK3,      /* "deepseek-v3" */
	INF_PRE_TEKKEN,    /* "tekken" (Mistral Nemo): words split at case changes */
	INF_PRE_COUNT
};

/* Splits cps[0..n) into words; ends[i] is the index one past word i (ends
 * has room for n). Returns the number of words. Allocates nothing. */
size_t inf_pretokenize(enum inf_pre pre, const uint32_t *cps, size_t n, size_t *ends);

/* The pre-tokenizer a byte-level BPE tokenizer uses, and whether it takes a
 * word that is a token whole (for the tests of the name mapping). */
struct inf_tokenizer;
enum inf_pre inf_tokenizer_pre(const struct inf_tokenizer *t, bool *ignore_merges);

#endif
