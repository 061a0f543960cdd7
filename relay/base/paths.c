/* The per-user runtime directory and the single-instance lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

int relay_runtime_dir_default(char *buf, size_t len)
{
	const char *env = getenv("TETHER_RUNTIME_DIR");
	int n = env && *env ? snprintf(buf, len, "%s", env)
			    : snprintf(buf, len, "/tmp/tether-%u", (unsigned)getuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int relay_runtime_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int relay_runtime_dir_prepare(const char *dir, char err[RELAY_ERR_MAX])
{
	struct stat st;

	if (!*dir || dir[0] != '/') {
		snprintf(err, RELAY_ERR_MAX, "runtime dir '%s' must be an absolute path", dir);
		return -EINVAL;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		int e = errno;
		snprintf(err, RELAY_ERR_MAX, "cannot create runtime dir %s: %s", dir, strerror(e));
		return -e;
	}
	if (lstat(dir, &st)) {
		int e = errno;
		snprintf(err, RELAY_ERR_MAX, "cannot stat runtime dir %s: %s", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, RELAY_ERR_MAX, "runtime dir %s is not a directory (a symlink?)", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != getuid()) {
		snprintf(err, RELAY_ERR_MAX, "runtime dir %s belongs to uid %u, not to us (uid %u)",
			 dir, (unsigned)st.st_uid, (unsigned)getuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(err, RELAY_ERR_MAX,
			 "runtime dir %s has mode %03o: other users could reach the token; "
			 "run 'chmod 700 %s'", dir, (unsigned)(st.st_mode & 0777), dir);
		return -EPERM;
	}
	return 0;
}

int relay_lock_acquire(const char *dir, const char *name, long *holder_pid)
{
	char path[256], pid[32];
	if (relay_runtime_path(path, sizeof path, dir, name))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		*holder_pid = strtol(pid, NULL, 10);
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

