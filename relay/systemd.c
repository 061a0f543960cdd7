/* What tetherd needs from systemd, through libsystemd: the listeners of a
 * socket unit, the notify socket, and whether stderr is the journal. Each call
 * is a no-op outside systemd, so tetherd behaves the same with or without it. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "internal.h"

static void describe_fd(int fd, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "fd %d%s%s%s", fd, name ? " (\"" : "", name ? name : "",
		 name ? "\")" : "");
}

/* Classifies the sockets systemd passed: one TCP listener on 127.0.0.1 and one
 * unix stream listener, each at most once. Anything else is refused with a
 * message naming the fd, because serving on a socket we did not expect (say
 * 0.0.0.0 from an edited unit) would silently widen who can reach the token's
 * gate. */
int relay_sd_listen_fds(struct relay_listen_fds *out, char err[RELAY_ERR_MAX])
{
	char **names = NULL, what[96];
	int n = sd_listen_fds_with_names(1, &names);
	int rc = 0;

	out->tcp_fd = out->unix_fd = -1;
	if (n < 0) {
		snprintf(err, RELAY_ERR_MAX, "socket activation: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		const char *name = names && names[i] && strcmp(names[i], "unknown") ? names[i] : NULL;
		describe_fd(fd, name, what, sizeof what);
		if (rc)
			continue;
		if (sd_is_socket_inet(fd, AF_INET, SOCK_STREAM, 1, 0) > 0) {
			struct sockaddr_in sa;
			socklen_t len = sizeof sa;
			if (getsockname(fd, (struct sockaddr *)&sa, &len) ||
			    sa.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
				char addr[INET_ADDRSTRLEN] = "?";
				inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
				snprintf(err, RELAY_ERR_MAX, "socket activation: %s listens on %s:%d; "
					 "tetherd serves on 127.0.0.1 only (ListenStream=127.0.0.1:PORT)",
					 what, addr, ntohs(sa.sin_port));
				rc = -EADDRNOTAVAIL;
			} else if (out->tcp_fd >= 0) {
				snprintf(err, RELAY_ERR_MAX, "socket activation: %s is a second TCP "
					 "listener; tetherd takes one", what);
				rc = -EINVAL;
			} else {
				out->tcp_fd = fd;
			}
		} else if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
			if (out->unix_fd >= 0) {
				snprintf(err, RELAY_ERR_MAX, "socket activation: %s is a second unix "
					 "listener; tetherd takes one", what);
				rc = -EINVAL;
			} else {
				out->unix_fd = fd;
			}
		} else {
			snprintf(err, RELAY_ERR_MAX, "socket activation: %s is neither a listening "
				 "TCP socket on 127.0.0.1 nor a listening unix stream socket", what);
			rc = -EINVAL;
		}
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	if (rc) {
		for (int i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		out->tcp_fd = out->unix_fd = -1;
		return rc;
	}
	/* systemd hands them over blocking; our accept loops expect otherwise. */
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	return n;
}

void relay_sd_notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Not under systemd (no NOTIFY_SOCKET): returns 0 and sends nothing. */
	int rc = sd_notify(0, msg);
	if (rc < 0)
		relay_log(RELAY_LOG_WARN, "sd_notify: %s", strerror(-rc));
}

uint64_t relay_sd_watchdog_usec(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

