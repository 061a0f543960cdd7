/*
 * The Linux half of the fake wsl.exe (what WSL's init does for `--exec`):
 *   fake_wsl_init STATE PROGRAM [ARGS...]
 * runs PROGRAM in its own process group with stdout and stderr appended to
 * STATE/out, and writes its exit code to STATE/exit when it ends (the exit
 * status, or N when signal N killed it, as wsl.exe reports). The fake
 * wsl.exe relays its stdin's EOF as STATE/stop, and rewrites STATE/lease
 * while it lives: on either (stop, or a lease unchanged for 1 s: the Windows
 * side is gone) the program's group gets SIGTERM, then SIGKILL 5 s later.
 * This stands for the distro stopping the program; the real WSL instead
 * orphans it and powers the distro off once no Windows client is left.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *path(const char *dir, const char *name)
{
	static char buf[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void read_lease(const char *dir, char *out, size_t cap)
{
	FILE *f = fopen(path(dir, "lease"), "r");
	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)cap, f))
			out[0] = 0;
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fake_wsl_init STATE PROGRAM [ARGS...]\n");
		return 2;
	}
	const char *dir = argv[1];
	FILE *ip = fopen(path(dir, "init.pid"), "w");
	if (ip) {
		fprintf(ip, "%d\n", (int)getpid());
		fclose(ip);
	}
	int out = open(path(dir, "out"), O_WRONLY | O_CREAT | O_APPEND, 0644);
	int devnull = open("/dev/null", O_RDONLY);
	pid_t child = fork();
	if (child == 0) {
		setpgid(0, 0);
		dup2(devnull, 0);
		dup2(out, 1);
		dup2(out, 2);
		execv(argv[2], argv + 2);
		fprintf(stderr, "fake_wsl_init: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	setpgid(child, child);
	FILE *pf = fopen(path(dir, "child.pid"), "w");
	if (pf) {
		fprintf(pf, "%d\n", (int)child);
		fclose(pf);
	}

	char lease[64] = "", prev[64] = "";
	int unchanged = 0, term_ticks = -1;
	for (;;) {
		int status;
		pid_t r = waitpid(child, &status, WNOHANG);
		if (r == child) {
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
			FILE *f = fopen(path(dir, "exit.tmp"), "w");
			if (f) {
				fprintf(f, "%d\n", code);
				fclose(f);
				rename(path(dir, "exit.tmp"), path(dir, "exit"));
			}
			kill(-child, SIGTERM);   /* anything it left in its group */
			return 0;
		}
		read_lease(dir, lease, sizeof lease);
		unchanged = strcmp(lease, prev) ? 0 : unchanged + 1;
		memcpy(prev, lease, sizeof prev);
		int stop = access(path(dir, "stop"), F_OK) == 0 || unchanged >= 20;
		if (stop && term_ticks < 0) {
			kill(-child, SIGTERM);
			term_ticks = 0;
		} else if (term_ticks >= 0 && ++term_ticks == 100) {
			kill(-child, SIGKILL);
		}
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}
