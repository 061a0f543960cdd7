/* The local PTY limit: what a process gets through one Linux pseudo-terminal with
 * nothing else in the way. tetherd's and ttyd's numbers are reported against these.
 *
 *   pty_limit throughput FILE REPS   the child runs `cat FILE` on the slave; the parent
 *                                    reads the master (blocking reads into a 64 KiB
 *                                    buffer) until EIO, the slave's hang-up
 *   pty_limit throughput-epoll FILE REPS
 *                                    the same, read as an event loop reads: a non-blocking
 *                                    master, epoll_wait, then read until EAGAIN (what
 *                                    libuv-based servers, tetherd and ttyd, can reach)
 *   pty_limit echo COUNT REPS        the slave in raw mode, -echo (as `stty raw -echo`),
 *                                    the child runs `cat`; the parent writes 1 byte to
 *                                    the master and reads it back, COUNT times
 *
 * Prints one JSON object per line: each repetition, then {"kind":"...-summary",...} with
 * the medians. MB = 10^6 bytes. The terminal is set up as tetherd and ttyd set theirs up:
 * openpty with the kernel's default termios (cooked, OPOST|ONLCR, so "\n" leaves the master
 * as "\r\n"), 80x24, the child in its own session with the slave as its controlling terminal.
 *
 * Build: cc -O2 -o pty_limit pty_limit.c -lutil   (bench/run does it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Jiffies of all CPUs: busy (all but idle and iowait) and total, from /proc/stat. */
static void machine_cpu(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

/* Sorts v in place and returns its median. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Forks a child on a new PTY that execs argv; returns the master fd, *pid the child. */
static int spawn_on_pty(char *const argv[], bool raw, pid_t *pid)
{
	int master, slave;
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };

	if (openpty(&master, &slave, NULL, NULL, &ws) < 0) {
		perror("openpty");
		exit(1);
	}
	if (raw) {
		struct termios t;
		tcgetattr(slave, &t);
		cfmakeraw(&t);   /* what `stty raw -echo` amounts to */
		tcsetattr(slave, TCSANOW, &t);
	}
	*pid = fork();
	if (*pid < 0) {
		perror("fork");
		exit(1);
	}
	if (*pid == 0) {
		close(master);
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(slave);
	return master;
}

static int throughput(const char *file, int reps, bool use_epoll)
{
	const char *kind = use_epoll ? "pty-throughput-epoll" : "pty-throughput";
	double mbps[64], per_read[64];
	char *argv[] = { "cat", (char *)file, NULL };
	static char buf[65536];

	if (reps > 64)
		reps = 64;
	for (int r = 0; r < reps; r++) {
		pid_t pid;
		struct rusage ru0, ru1;
		unsigned long long b0, t0j, b1, t1j;
		getrusage(RUSAGE_SELF, &ru0);
		machine_cpu(&b0, &t0j);
		double t0 = now_s();
		int m = spawn_on_pty(argv, false, &pid);
		uint64_t bytes = 0, reads = 0, wakeups = 0;
		int ep = -1;
		if (use_epoll) {
			struct epoll_event ev = { .events = EPOLLIN };
			fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
			ep = epoll_create1(EPOLL_CLOEXEC);
			epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev);
		}
		for (bool done = false; !done;) {
			if (use_epoll) {
				struct epoll_event ev;
				if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
					break;
				wakeups++;
			}
			for (;;) {
				ssize_t n = read(m, buf, sizeof buf);
				if (n > 0) {
					bytes += (uint64_t)n;
					reads++;
					if (use_epoll)
						continue;
				} else if (n < 0 && errno == EINTR) {
					continue;
				} else if (n < 0 && errno == EAGAIN) {
					break;   /* back to epoll_wait */
				} else {
					done = true;   /* EIO: the slave was hung up and all was read */
				}
				break;
			}
		}
		if (ep >= 0)
			close(ep);
		double t = now_s() - t0;
		getrusage(RUSAGE_SELF, &ru1);
		machine_cpu(&b1, &t1j);
		close(m);
		int st;
		waitpid(pid, &st, 0);
		double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
			     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
			     (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			     (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
		mbps[r] = (double)bytes / t / 1e6;
		per_read[r] = reads ? (double)bytes / (double)reads : 0;
		printf("{\"kind\":\"%s\",\"rep\":%d,\"bytes\":%llu,\"reads\":%llu,"
		       "\"wakeups\":%llu,\"seconds\":%.4f,\"mbps\":%.1f,\"bytes_per_read\":%.1f,"
		       "\"reader_cpu_s\":%.3f,\"reader_cpu_pct\":%.1f,\"machine_busy_pct\":%.1f}\n",
		       kind, r, (unsigned long long)bytes, (unsigned long long)reads,
		       (unsigned long long)wakeups, t, mbps[r], per_read[r], cpu, 100 * cpu / t,
		       t1j > t0j ? 100.0 * (double)(b1 - b0) / (double)(t1j - t0j) : -1.0);
		fflush(stdout);
	}
	printf("{\"kind\":\"%s-summary\",\"reps\":%d,\"mbps\":%.1f,"
	       "\"bytes_per_read\":%.1f}\n",
	       kind, reps, median(mbps, reps), median(per_read, reps));
	return 0;
}

static int echo(int count, int reps)
{
	char *argv[] = { "cat", NULL };
	double *lat = malloc(sizeof *lat * (size_t)count);
	double p50[64], p99[64];

	if (reps > 64)
		reps = 64;
	for (int r = 0; r < reps; r++) {
		pid_t pid;
		int m = spawn_on_pty(argv, true, &pid);
		/* warm up: the child must be in cat's read before we time anything */
		for (int i = 0; i < 100 + count; i++) {
			char c = (char)('a' + i % 26), back;
			double t0 = now_s();
			if (write(m, &c, 1) != 1) {
				perror("write");
				return 1;
			}
			ssize_t n;
			do
				n = read(m, &back, 1);
			while (n < 0 && errno == EINTR);
			if (n != 1 || back != c) {
				fprintf(stderr, "echo: got %zd bytes (%d) for %d\n", n, back, c);
				return 1;
			}
			if (i >= 100)
				lat[i - 100] = (now_s() - t0) * 1e6;
		}
		kill(pid, SIGKILL);
		close(m);
		waitpid(pid, NULL, 0);
		qsort(lat, (size_t)count, sizeof *lat, cmp_double);
		p50[r] = lat[count / 2];
		p99[r] = lat[(size_t)((double)count * 0.99)];
		printf("{\"kind\":\"pty-echo\",\"rep\":%d,\"count\":%d,\"p50_us\":%.1f,"
		       "\"p99_us\":%.1f,\"max_us\":%.1f}\n",
		       r, count, p50[r], p99[r], lat[count - 1]);
		fflush(stdout);
	}
	printf("{\"kind\":\"pty-echo-summary\",\"reps\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
	       reps, median(p50, reps), median(p99, reps));
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "throughput"))
		return throughput(argv[2], atoi(argv[3]), false);
	if (argc == 4 && !strcmp(argv[1], "throughput-epoll"))
		return throughput(argv[2], atoi(argv[3]), true);
	if (argc == 4 && !strcmp(argv[1], "echo"))
		return echo(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: %s throughput|throughput-epoll FILE REPS | echo COUNT REPS\n",
		argv[0]);
	return 2;
}
