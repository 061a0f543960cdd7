/* Leveled logs, one write(2) per line: to a size-rotated append-only file, to
 * the journal (stderr with <N> priority prefixes, when systemd connected
 * stderr to it), or to plain stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

/* Set once at start by main; the only module state in relay. */
static int log_fd = STDERR_FILENO;
static int log_level = RELAY_LOG_INFO;
static bool log_journal;          /* stderr is the journal: prefix, no timestamp */
static char log_path[1024];
static long log_max_bytes;        /* rotate beyond this; 0 = never */
static long log_size;

/* systemd sets JOURNAL_STREAM=dev:ino for a service whose stderr is the
 * journal; comparing it with stderr itself tells a child that merely inherited
 * the variable from one that really writes into the journal. */
static bool stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!v || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int relay_log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

const char *relay_log_level_name(int level)
{
	return level >= 0 && level < 4 ? level_names[level] : "?";
}

int relay_log_open(const char *path, int level, long max_bytes)
{
	struct stat st;
	log_level = level;
	log_journal = false;
	if (!path || !*path) {
		log_journal = stderr_is_journal();
		return 0;
	}
	if (strlen(path) >= sizeof log_path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	log_fd = fd;
	strcpy(log_path, path);
	log_max_bytes = max_bytes;
	log_size = fstat(fd, &st) ? 0 : (long)st.st_size;
	return 0;
}

/* One older generation is kept as PATH.1; a failed rename keeps appending
 * (a full disk must not stop the daemon). */
static void rotate(void)
{
	char old[sizeof log_path + 2];
	snprintf(old, sizeof old, "%s.1", log_path);
	if (rename(log_path, old))
		return;
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(log_fd);
	log_fd = fd;
	log_size = 0;
}

int relay_log_fd(void)
{
	return log_fd != STDERR_FILENO ? log_fd : -1;
}

void relay_log_close(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
}

void relay_log(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (level > log_level)
		return;
	int n;
	if (log_journal) {
		/* sd-daemon(3) priorities: err, warning, info, debug; the journal stamps time. */
		static const int priority[] = { 3, 4, 6, 7 };
		n = snprintf(line, sizeof line, "<%d>", priority[level]);
	} else {
		char now[RELAY_ISO8601_MAX];
		relay_iso8601_now(now, sizeof now, true);
		n = snprintf(line, sizeof line, "%s %-5s ", now, relay_log_level_name(level));
	}
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	while (len > (size_t)n && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	if (log_fd != STDERR_FILENO && log_max_bytes && log_size + (long)len > log_max_bytes)
		rotate();
	/* A lost log line is better than a blocked or killed daemon. */
	ssize_t w = write(log_fd, line, len);
	if (w > 0)
		log_size += w;
}
