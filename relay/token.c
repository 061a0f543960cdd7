/* The connection token: generation, storage, comparison. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "internal.h"

int relay_token_generate(char out[RELAY_TOKEN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[RELAY_TOKEN_BYTES];
	size_t have = 0;

	while (have < sizeof raw) {
		ssize_t n = getrandom(raw + have, sizeof raw - have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		have += (size_t)n;
	}
	for (size_t i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[RELAY_TOKEN_HEX] = 0;
	explicit_bzero(raw, sizeof raw);
	return 0;
}

bool relay_token_equal(const char *candidate, size_t len, const char *token)
{
	/* The length is not secret (always 64); the content is compared in
	 * full so the time does not depend on where the first difference is. */
	if (len != RELAY_TOKEN_HEX)
		return false;
	volatile unsigned char diff = 0;
	for (size_t i = 0; i < RELAY_TOKEN_HEX; i++)
		diff |= (unsigned char)(candidate[i] ^ token[i]);
	return diff == 0;
}

