/* UTF-8 and JSON-text checks on untrusted bytes. */
#include <string.h>

#include "base.h"

bool relay_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		if (!n || i + n > len)
			return false;
		uint32_t cp = n == 1 ? c : c & (0x7f >> n);
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n;
	}
	return true;
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
