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

int relay_write_file_atomic(const char *dir, const char *name, const char *content)
{
	char tmp[256], path[256];
	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp ||
	    relay_runtime_path(path, sizeof path, dir, name))
		return -ENAMETOOLONG;
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(content), off = 0;
	while (off < len) {
		ssize_t n = write(fd, content + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return -e;
		}
		off += (size_t)n;
	}
	if (close(fd) || rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}
