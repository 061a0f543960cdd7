/*
 * A fake wsl.exe for the shim's Wine tests: a real PE (Wine reports a Unix
 * script's exit code as 0 at once, so a script cannot stand in). It records
 * its argv, prints what the real one prints (UTF-16LE, CRLF, errors on
 * stdout, exit code -1 for its own failures), and follows a scenario.
 *
 * Environment (paths are Windows paths, Z:\... under Wine):
 *   FAKE_WSL_LOG       append "<unix ms>\t<argv as a JSON array>\t<raw command line>"
 *   FAKE_WSL_SCENARIO  for `-d D --exec tether anchor`:
 *                        exit:N:T  exit with code N (-1 allowed) after T ms
 *                        hang      never exit
 *                        exec      run the Linux program FAKE_WSL_TETHER with the
 *                                  arguments after `tether`, through fake_wsl_init
 *   FAKE_WSL_DISTROS   known distros, '|'-separated (default Ubuntu-22.04); -d of
 *                      another prints the "no distribution" message, exit -1
 *   FAKE_WSL_LIST      file printed for `-l -v` (raw bytes); "none": the "no
 *                      installed distributions" message, exit -1
 *   FAKE_WSL_ENDPOINT  printed for `--exec tether endpoint --json`
 *   FAKE_WSL_STATE     a directory: the lease file (rewritten every 100 ms while
 *                      this process lives) and the exec scenario's files
 *   FAKE_WSL_INIT, FAKE_WSL_TETHER  Unix paths (exec scenario)
 */
#include <windows.h>
#include <shellapi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <fcntl.h>
#include <io.h>

static wchar_t state[1024];

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void out_utf16(const wchar_t *text)
{
	DWORD n;
	WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), text, (DWORD)(wcslen(text) * 2), &n, NULL);
}

static void json_str(FILE *f, const wchar_t *w)
{
	char buf[4096];
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, sizeof buf, NULL, NULL);
	fputc('"', f);
	for (int i = 0; n > 0 && buf[i]; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static unsigned long long unix_ms(void)
{
	FILETIME ft;
	ULARGE_INTEGER u;
	GetSystemTimeAsFileTime(&ft);
	u.LowPart = ft.dwLowDateTime;
	u.HighPart = ft.dwHighDateTime;
	return (u.QuadPart - 116444736000000000ULL) / 10000;
}

static void record(int argc, wchar_t **argv)
{
	const char *log = env("FAKE_WSL_LOG");
	if (!log)
		return;
	FILE *f = fopen(log, "ab");
	if (!f)
		return;
	fprintf(f, "%llu\t[", unix_ms());
	for (int i = 1; i < argc; i++) {
		if (i > 1)
			fputc(',', f);
		json_str(f, argv[i]);
	}
	fputs("]\t", f);
	json_str(f, GetCommandLineW());
	fputc('\n', f);
	fclose(f);
}

static void state_path(wchar_t *out, const wchar_t *name)
{
	swprintf(out, 1100, L"%ls\\%ls", state, name);
}

static DWORD WINAPI lease_thread(void *arg)
{
	wchar_t path[1100], tmp[1100];
	state_path(path, L"lease");
	state_path(tmp, L"lease.tmp");
	for (unsigned long i = 0;; i++) {
		/* Written aside and renamed over the lease: a reader (fake_alive in
		 * wine_test.sh) never sees it truncated and empty. */
		HANDLE h = CreateFileW(tmp, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
				       CREATE_ALWAYS, 0, NULL);
		if (h != INVALID_HANDLE_VALUE) {
			char buf[32];
			DWORD n;
			int k = snprintf(buf, sizeof buf, "%lu\n", i);
			WriteFile(h, buf, (DWORD)k, &n, NULL);
			CloseHandle(h);
			MoveFileExW(tmp, path, MOVEFILE_REPLACE_EXISTING);
		}
		Sleep(100);
	}
	return 0;
}

/* Our stdin closing is what wsl.exe relays to the Linux side as EOF. */
static DWORD WINAPI stdin_thread(void *arg)
{
	char buf[256];
	DWORD n;
	wchar_t path[1100];
	while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &n, NULL) && n)
		;
	state_path(path, L"stop");
	CloseHandle(CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL));
	return 0;
}

static int not_found(void)
{
	out_utf16(L"There is no distribution with the supplied name.\r\n"
		  L"Error code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\r\n");
	return -1;
}

static bool known(const wchar_t *distro)
{
	const char *list = env("FAKE_WSL_DISTROS");
	char name[1024], all[4096];
	WideCharToMultiByte(CP_UTF8, 0, distro, -1, name, sizeof name, NULL, NULL);
	snprintf(all, sizeof all, "|%s|", list ? list : "Ubuntu-22.04");
	char want[1100];
	snprintf(want, sizeof want, "|%s|", name);
	return strstr(all, want) != NULL;
}

/* Runs the Linux program through fake_wsl_init (Wine starts a Unix binary
 * from CreateProcess, but its handle says "exited, 0" at once: the init
 * writes the real exit code into the state directory). */
static int exec_linux(int argc, wchar_t **argv, int first)
{
	static wchar_t cmd[8192];
	wchar_t path[1100];
	const char *init = env("FAKE_WSL_INIT"), *tether = env("FAKE_WSL_TETHER");
	if (!init || !tether || !state[0]) {
		fprintf(stderr, "fake wsl.exe: exec needs FAKE_WSL_INIT, FAKE_WSL_TETHER, FAKE_WSL_STATE\n");
		return 90;
	}
	const wchar_t *names[] = { L"exit", L"stop", L"out" };
	for (int i = 0; i < 3; i++) {
		state_path(path, names[i]);
		DeleteFileW(path);
	}
	/* Unix side: init STATE_UNIX PROGRAM ARGS... (no quoting needed: our test
	 * paths and arguments have no blanks). */
	char st[1024];
	WideCharToMultiByte(CP_UTF8, 0, state, -1, st, sizeof st, NULL, NULL);
	for (char *p = st; *p; p++)
		if (*p == '\\')
			*p = '/';
	swprintf(cmd, 8192, L"%hs %hs %hs", init, st + 2, tether);
	for (int i = first; i < argc; i++) {
		wcscat(cmd, L" ");
		wcscat(cmd, argv[i]);
	}
	STARTUPINFOW si;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	PROCESS_INFORMATION pi;
	if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
		fprintf(stderr, "fake wsl.exe: cannot start %ls: %lu\n", cmd, GetLastError());
		return 91;
	}
	CloseHandle(CreateThread(NULL, 0, stdin_thread, NULL, 0, NULL));
	/* Relay the program's output, until the init says it exited. */
	LONGLONG offset = 0;
	for (;;) {
		wchar_t exitp[1100];
		state_path(path, L"out");
		state_path(exitp, L"exit");
		bool done = GetFileAttributesW(exitp) != INVALID_FILE_ATTRIBUTES;
		HANDLE h = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE |
				       FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL);
		if (h != INVALID_HANDLE_VALUE) {
			char buf[4096];
			DWORD n, w;
			LARGE_INTEGER li;
			li.QuadPart = offset;
			SetFilePointerEx(h, li, NULL, FILE_BEGIN);
			while (ReadFile(h, buf, sizeof buf, &n, NULL) && n) {
				WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), buf, n, &w, NULL);
				offset += n;
			}
			CloseHandle(h);
		}
		if (done) {
			FILE *f = _wfopen(exitp, L"rb");
			int code = 92;
			if (f) {
				if (fscanf(f, "%d", &code) != 1)
					code = 93;
				fclose(f);
			}
			return code;
		}
		Sleep(50);
	}
}

int main(void)
{
	int argc;
	wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
	const char *st = env("FAKE_WSL_STATE");

	_setmode(_fileno(stdout), _O_BINARY);   /* "\n", as Linux programs print */
	record(argc, argv);
	if (st) {
		MultiByteToWideChar(CP_UTF8, 0, st, -1, state, 1024);
		CloseHandle(CreateThread(NULL, 0, lease_thread, NULL, 0, NULL));
	}
	if (argc == 3 && !wcscmp(argv[1], L"-l") && !wcscmp(argv[2], L"-v")) {
		const char *list = env("FAKE_WSL_LIST");
		if (!list || !strcmp(list, "none")) {
			out_utf16(L"Windows Subsystem for Linux has no installed distributions.\r\n");
			return -1;
		}
		FILE *f = fopen(list, "rb");
		char buf[8192];
		size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
		DWORD w;
		WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), buf, (DWORD)n, &w, NULL);
		if (f)
			fclose(f);
		return f ? 0 : 94;
	}
	if (argc >= 6 && !wcscmp(argv[1], L"-d") && !wcscmp(argv[3], L"--exec") &&
	    !wcscmp(argv[4], L"tether")) {
		if (!known(argv[2]))
			return not_found();
		if (argc == 7 && !wcscmp(argv[5], L"endpoint") && !wcscmp(argv[6], L"--json")) {
			const char *ep = env("FAKE_WSL_ENDPOINT");
			printf("%s\n", ep ? ep : "{}");
			return 0;
		}
		const char *sc = env("FAKE_WSL_SCENARIO");
		int code, ms;
		if (!sc)
			sc = "hang";
		if (sscanf(sc, "exit:%d:%d", &code, &ms) == 2) {
			printf("fake anchor: exiting with %d after %d ms\n", code, ms);
			fflush(stdout);
			Sleep((DWORD)ms);
			return code;
		}
		if (!strcmp(sc, "hang")) {
			printf("fake anchor: hanging\n");
			fflush(stdout);
			Sleep(INFINITE);
		}
		if (!strcmp(sc, "exec"))
			return exec_linux(argc, argv, 5);
		fprintf(stderr, "fake wsl.exe: unknown scenario %s\n", sc);
		return 95;
	}
	out_utf16(L"Invalid command line argument.\r\n");
	return -1;
}
