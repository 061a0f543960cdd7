/*
 * shim internals shared by the portable files (and their tests). Not part of
 * the public API (shim.h).
 */
#ifndef TETHER_SHIM_INTERNAL_H
#define TETHER_SHIM_INTERNAL_H

#include "shim.h"

/* ---- json.c: a strict reader for one flat-ish JSON object ----------------- */

enum shim_json_type { SHIM_JSON_STRING, SHIM_JSON_INT, SHIM_JSON_NUMBER, SHIM_JSON_BOOL,
		      SHIM_JSON_NULL, SHIM_JSON_OBJECT, SHIM_JSON_ARRAY };

#define SHIM_JSON_STR_MAX 4096   /* longest decoded key or string value */
#define SHIM_JSON_DEPTH 32       /* nested values deeper than this are refused */

struct shim_json_value {
	enum shim_json_type type;
	const char *str;         /* STRING: decoded UTF-8, NUL-terminated (borrowed) */
	size_t str_len;          /* STRING: bytes, without the NUL */
	long long num;           /* INT: the value (|v| < 2^53); BOOL: 0 or 1 */
};

/* Called once per member of the top-level object, in order. Nested objects
 * and arrays are checked and skipped (type OBJECT/ARRAY, no content). Returns
 * 0 to go on, or fills msg (no location) and returns -EINVAL. */
typedef int shim_json_member_fn(void *ctx, const char *key, const struct shim_json_value *v,
				char msg[SHIM_ERR_MAX]);

/* Parses text[0..len) as one JSON object (RFC 8259, no extensions, UTF-8
 * checked, surrounding whitespace allowed). On error err is
 * "line L, column C: what" (what from the callback for a member's value). */
int shim_json_object(const char *text, size_t len, shim_json_member_fn *fn, void *ctx,
		     char err[SHIM_ERR_MAX]);

/* s for an error message: at most max bytes of it, control characters as
 * \uXXXX, so a message stays one line. Returns out. */
const char *shim_json_printable(const char *s, size_t max, char *out, size_t cap);

/* Appends the UTF-8 encoding of code point cp to out[*n] if it fits in cap
 * (keeping room for a NUL). Returns false when it does not fit. */
bool shim_utf8_put(char *out, size_t cap, size_t *n, uint32_t cp);

/* Length of the valid UTF-8 sequence at s[0..len), 0 when invalid
 * (overlong, surrogate, > U+10FFFF, truncated). *cp gets the code point. */
size_t shim_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

#endif
