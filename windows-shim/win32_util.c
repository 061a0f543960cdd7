/* Small Win32 helpers: text conversion, console output, paths, the config. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win32.h"

wchar_t *w32_wide(const char *utf8)
{
	int n = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
	if (n <= 0)
		return NULL;
	wchar_t *w = malloc((size_t)n * sizeof *w);
	if (w && MultiByteToWideChar(CP_UTF8, 0, utf8, -1, w, n) != n) {
		free(w);
		return NULL;
	}
	return w;
}

char *w32_utf8(const wchar_t *wide)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
	if (n <= 0)
		return NULL;
	char *s = malloc((size_t)n);
	if (s && WideCharToMultiByte(CP_UTF8, 0, wide, -1, s, n, NULL, NULL) != n) {
		free(s);
		return NULL;
	}
	return s;
}

static void write_std(DWORD which, const char *fmt, va_list ap)
{
	char buf[8192];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	HANDLE h = GetStdHandle(which);
	DWORD mode, done;

	if (n < 0 || !h || h == INVALID_HANDLE_VALUE)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	buf[n] = 0;
	if (GetConsoleMode(h, &mode)) {
		wchar_t *w = w32_wide(buf);
		if (w) {
			WriteConsoleW(h, w, (DWORD)wcslen(w), &done, NULL);
			free(w);
		}
		return;
	}
	WriteFile(h, buf, (DWORD)n, &done, NULL);
}

void w32_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_std(STD_OUTPUT_HANDLE, fmt, ap);
	va_end(ap);
}

void w32_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_std(STD_ERROR_HANDLE, fmt, ap);
	va_end(ap);
}

const char *w32_strerror(DWORD code, char *buf, size_t cap)
{
	wchar_t w[512];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
				 code, 0, w, 512, NULL);
	while (n && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L' ' || w[n - 1] == L'.'))
		w[--n] = 0;
	char *s = n ? w32_utf8(w) : NULL;
	snprintf(buf, cap, "%s (error %lu)", s ? s : "unknown error", (unsigned long)code);
	free(s);
	return buf;
}

uint64_t w32_now_ms(void)
{
	return GetTickCount64();
}

static int env_utf8(const wchar_t *name, char *buf, size_t cap)
{
	wchar_t w[SHIM_PATH_MAX];
	DWORD n = GetEnvironmentVariableW(name, w, SHIM_PATH_MAX);
	if (!n || n >= SHIM_PATH_MAX)
		return -ENOENT;
	char *s = w32_utf8(w);
	if (!s || strlen(s) >= cap) {
		free(s);
		return -ENAMETOOLONG;
	}
	strcpy(buf, s);
	free(s);
	return 0;
}

int w32_shim_dir(char *buf, size_t cap, bool create)
{
	if (env_utf8(L"TETHER_SHIM_DIR", buf, cap)) {
		char base[SHIM_PATH_MAX];
		if (env_utf8(L"LOCALAPPDATA", base, sizeof base))
			return -ENOENT;
		if ((size_t)snprintf(buf, cap, "%s\\tether", base) >= cap)
			return -ENAMETOOLONG;
	}
	if (create) {
		wchar_t *w = w32_wide(buf);
		if (!w)
			return -EINVAL;
		BOOL ok = CreateDirectoryW(w, NULL) || GetLastError() == ERROR_ALREADY_EXISTS;
		free(w);
		if (!ok)
			return -EACCES;
	}
	return 0;
}

int w32_shim_path(char *buf, size_t cap, const char *name)
{
	char dir[SHIM_PATH_MAX];
	int rc = w32_shim_dir(dir, sizeof dir, false);
	if (rc)
		return rc;
	return (size_t)snprintf(buf, cap, "%s\\%s", dir, name) >= cap ? -ENAMETOOLONG : 0;
}

int w32_load_config(struct shim_config *cfg, const char *path, char err[SHIM_ERR_MAX])
{
	char text[65536];
	DWORD len = 0;
	wchar_t *w = w32_wide(path);
	HANDLE f = w ? CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
				   OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL) : INVALID_HANDLE_VALUE;
	DWORD e = GetLastError();
	free(w);
	if (f == INVALID_HANDLE_VALUE) {
		if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
			return 0;   /* no file: the defaults */
		char why[256];
		snprintf(err, SHIM_ERR_MAX, "config %.300s: %s", path, w32_strerror(e, why, sizeof why));
		return -EACCES;
	}
	BOOL ok = ReadFile(f, text, sizeof text, &len, NULL);
	CloseHandle(f);
	if (!ok) {
		snprintf(err, SHIM_ERR_MAX, "config %.300s: read error", path);
		return -EIO;
	}
	if (len == sizeof text) {
		snprintf(err, SHIM_ERR_MAX, "config %.300s: larger than 64 KiB", path);
		return -EFBIG;
	}
	return shim_config_parse(cfg, text, len, path, err);
}

void w32_instance_key(const char *distro, char *out, size_t cap)
{
	snprintf(out, cap, "%s", *distro ? distro : "(default)");
}

wchar_t *w32_object_name(const char *what, const char *key)
{
	char name[600];
	snprintf(name, sizeof name, "Local\\tether-shim-%s-%s", what, key);
	/* A backslash after Local\ would name a namespace that does not exist. */
	for (char *p = name + 6; *p; p++)
		if (*p == '\\')
			*p = '_';
	return w32_wide(name);
}

void w32_wsl_exe(const struct shim_config *cfg, char *buf, size_t cap)
{
	wchar_t sys[MAX_PATH];
	if (cfg->wsl_exe[0]) {
		snprintf(buf, cap, "%s", cfg->wsl_exe);
		return;
	}
	/* The full path, never a search: a wsl.exe planted in the current or the
	 * shim's directory must not be the one started. */
	UINT n = GetSystemDirectoryW(sys, MAX_PATH);
	char *s = n && n < MAX_PATH ? w32_utf8(sys) : NULL;
	snprintf(buf, cap, "%s\\wsl.exe", s ? s : "C:\\Windows\\System32");
	free(s);
}
