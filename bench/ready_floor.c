/* The floor for "cold start to READY": a process that does nothing but send
 * READY=1 to $NOTIFY_SOCKET, as sd_notify(3) does (one datagram on a unix
 * socket), and exit. bench/lifecycle times it the same way as tetherd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "ready_floor: NOTIFY_SOCKET is not set or too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, sizeof sa) != 7) {
		perror("ready_floor");
		return 1;
	}
	return 0;
}
