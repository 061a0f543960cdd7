/* Leveled logs, one write(2) per line, to stderr or an append-only file. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Set once at start by main; the only module state in relay. */
static int log_fd = STDERR_FILENO;
static int log_level = RELAY_LOG_INFO;

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

int relay_log_open(const char *path, int level)
{
	log_level = level;
	if (!path || !*path)
		return 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	log_fd = fd;
	return 0;
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
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, relay_log_level_name(level));
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	while (len > (size_t)n && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	/* A lost log line is better than a blocked or killed daemon. */
	ssize_t w = write(log_fd, line, len);
	(void)w;
}
