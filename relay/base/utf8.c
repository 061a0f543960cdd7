/* UTF-8 and JSON-text checks on untrusted bytes, and exact integers in JSON. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base.h"

/* The length of the valid character at s[0..len), 0 when s starts with no
 * valid character, -1 when s is the valid start of one that len cuts. */
static int char_len(const uint8_t *s, size_t len)
{
	uint8_t c = s[0];
	size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
	if (!n)
		return 0;
	uint32_t cp = n == 1 ? c : c & (0x7f >> n);
	for (size_t k = 1; k < n; k++) {
		if (k == len)
			return -1;
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return (int)n;
}

bool relay_utf8_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		int n = char_len(s + i, len - i);
		if (n <= 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

size_t relay_utf8_whole(const char *s, size_t len, bool final, char *out, size_t *out_len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		int n = u[i] ? char_len(u + i, len - i) : 0;   /* NUL: not in a C string */
		if (n < 0 && !final)
			break;   /* may complete with the next bytes */
		if (n <= 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);   /* U+FFFD for the byte */
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, (size_t)n);
		o += (size_t)n;
		i += (size_t)n;
	}
	*out_len = o;
	return i;
}

int relay_utf8_prefix(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max)
		return (int)len;
	/* back off to the start of the character that would be cut */
	while (max > 0 && ((uint8_t)s[max] & 0xc0) == 0x80)
		max--;
	return (int)max;
}

/* True when the JSON text holds the escape \u0000 (an odd run of
 * backslashes before the u, so "\\u0000" text does not count). */
bool relay_json_has_escaped_nul(const char *s, size_t len)
{
	for (const char *p = s; (p = memmem(p, len - (size_t)(p - s), "u0000", 5)); p++) {
		size_t slashes = 0;
		while (p - slashes > s && p[-1 - (long)slashes] == '\\')
			slashes++;
		if (slashes % 2)
			return true;
	}
	return false;
}

void relay_json_set_integer(cJSON *obj, const char *name, uint64_t v)
{
	char digits[24];
	snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
	cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
	cJSON_AddRawToObject(obj, name, digits);
}
