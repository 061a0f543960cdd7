/*
 * The readers every file of wsl/ shares: paths and files under a root
 * directory (so the same code judges this system and the tests' fixture
 * trees), read whole or up to a size, and a text's first line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int wsl_rooted(char *buf, size_t len, const char *root, const char *path)
{
	size_t rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/')
		rl--;   /* "/" becomes "", "dir/" becomes "dir" */
	int n = snprintf(buf, len, "%.*s%s", (int)rl, root, path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

ssize_t wsl_read(const char *root, const char *path, char *buf, size_t size, bool *truncated)
{
	char full[WSL_PATH_MAX + 64];
	if (truncated)
		*truncated = false;
	buf[0] = 0;
	if (wsl_rooted(full, sizeof full, root, path))
		return -ENAMETOOLONG;
	int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	size_t n = 0;
	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			buf[0] = 0;
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (truncated && n == size - 1) {
		char extra;
		*truncated = read(fd, &extra, 1) == 1;
	}
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

ssize_t wsl_read_alloc(const char *root, const char *path, size_t max, char **out)
{
	bool truncated;
	char *buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = wsl_read(root, path, buf, max + 1, &truncated);
	if (n < 0 || truncated) {
		free(buf);
		return n < 0 ? n : -EFBIG;
	}
	*out = buf;
	return n;
}

void wsl_first_line(const char *s, char *buf, size_t size)
{
	size_t n = strcspn(s, "\r\n");
	snprintf(buf, size, "%.*s", (int)n, s);
}

bool wsl_is_dir(const char *root, const char *path)
{
	char full[WSL_PATH_MAX + 64];
	struct stat st;
	return !wsl_rooted(full, sizeof full, root, path) && stat(full, &st) == 0 &&
	       S_ISDIR(st.st_mode);
}

bool wsl_exists(const char *root, const char *path)
{
	char full[WSL_PATH_MAX + 64];
	struct stat st;
	return !wsl_rooted(full, sizeof full, root, path) && lstat(full, &st) == 0;
}

bool wsl_pid_alive(const char *root, long pid)
{
	char path[64];
	if (pid <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%ld", pid);
	return wsl_is_dir(root, path);
}
