/* A real NOTIFY_SOCKET for the tests: binds a unix datagram socket at argv[1]
 * and prints every notification it receives as one JSON line on stdout:
 *   {"t_ms":12.345,"pid":4321,"fields":["READY=1","STATUS=..."]}
 * t_ms counts from the bind; pid is the sender's, from SCM_CREDENTIALS (what
 * systemd checks against NotifyAccess=). Runs until killed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_json_string(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int one = 1;
	if (argc != 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: notify_listener SOCKET_PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)) {
		perror("notify_listener");
		return 1;
	}
	double start = now_ms();
	printf("{\"listening\":true}\n");
	fflush(stdout);
	for (;;) {
		char buf[4096], ctl[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = { buf, sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof ctl };
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n < 0)
			continue;
		long pid = -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;
				memcpy(&cred, CMSG_DATA(c), sizeof cred);
				pid = cred.pid;
			}
		printf("{\"t_ms\":%.3f,\"pid\":%ld,\"fields\":[", now_ms() - start, pid);
		size_t i = 0;
		bool first = true;
		while (i < (size_t)n) {
			size_t j = i;
			while (j < (size_t)n && buf[j] != '\n')
				j++;
			if (j > i) {
				if (!first)
					putchar(',');
				print_json_string(buf + i, j - i);
				first = false;
			}
			i = j + 1;
		}
		printf("]}\n");
		fflush(stdout);
	}
}
