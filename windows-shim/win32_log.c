/*
 * shim.log: one line per decision, appended by every instance (one per
 * distro) to the same file. The file is opened for each line rather than held:
 * logging is rare (decisions, not every health check), and so a rotation done
 * by one instance never leaves another writing into a renamed file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win32.h"

static struct {
	char dir[SHIM_PATH_MAX];
	long max_bytes, files;
	char tag[300];
	bool open;
} lg;

int w32_log_open(const char *dir, long max_bytes, long files, const char *tag)
{
	snprintf(lg.dir, sizeof lg.dir, "%s", dir);
	lg.max_bytes = max_bytes;
	lg.files = files;
	snprintf(lg.tag, sizeof lg.tag, "%s", tag);
	lg.open = true;
	return 0;
}

void w32_log_close(void)
{
	lg.open = false;
}

static wchar_t *log_name(long i)
{
	char path[SHIM_PATH_MAX + 32];
	if (i)
		snprintf(path, sizeof path, "%s\\shim.%ld.log", lg.dir, i);
	else
		snprintf(path, sizeof path, "%s\\shim.log", lg.dir);
	return w32_wide(path);
}

/* shim.log -> shim.1.log -> ... -> shim.<files>.log (the oldest is dropped). */
static void rotate(void)
{
	for (long i = lg.files; i >= 1; i--) {
		wchar_t *from = log_name(i - 1), *to = log_name(i);
		if (from && to)
			MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING);
		free(from);
		free(to);
	}
}

void w32_log(const char *fmt, ...)
{
	char line[4096];
	SYSTEMTIME t;
	va_list ap;
	int n;

	GetLocalTime(&t);
	n = snprintf(line, sizeof line, "%04u-%02u-%02u %02u:%02u:%02u.%03u [%lu] %s: ",
		     t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond, t.wMilliseconds,
		     (unsigned long)GetCurrentProcessId(), lg.tag);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof line)
		n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 3)
		n = sizeof line - 3;
	memcpy(line + n, "\r\n", 3);
	n += 2;

	if (!lg.open) {
		w32_err("%s", line);
		return;
	}
	wchar_t *name = log_name(0);
	HANDLE f = name ? CreateFileW(name, FILE_APPEND_DATA,
				      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
				      OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL)
			: INVALID_HANDLE_VALUE;
	free(name);
	if (f == INVALID_HANDLE_VALUE) {
		w32_err("%s", line);   /* the log is unwritable: say it where we can */
		return;
	}
	DWORD done;
	LARGE_INTEGER size = { 0 };
	WriteFile(f, line, (DWORD)n, &done, NULL);
	GetFileSizeEx(f, &size);
	CloseHandle(f);
	if (size.QuadPart > lg.max_bytes)
		rotate();
}
