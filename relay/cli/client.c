/* The CLI's side of the unix socket: blocking, one request at a time (a CLI
 * owns its process; the daemon's loop is never involved). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int relay_client_connect(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (relay_runtime_path(sa.sun_path, sizeof sa.sun_path, dir, RELAY_SOCKET_NAME))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int relay_client_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads len bytes before the deadline (ms since the epoch of CLOCK_MONOTONIC,
 * or 0 for none). */
static int read_all(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	while (len) {
		if (deadline) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t left = deadline - (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			if (left <= 0)
				return -ETIMEDOUT;
			int r = poll(&pfd, 1, (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				return -ETIMEDOUT;
		}
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One frame before the deadline into *out: its message, or NULL for a frame
 * to skip (binary, or text that is not JSON). 0 or -errno. */
static int read_frame(int fd, int64_t deadline, cJSON **out)
{
	uint8_t hdr[RELAY_FRAME_HEADER];
	*out = NULL;
	int rc = read_all(fd, hdr, sizeof hdr, deadline);
	if (rc)
		return rc;
	uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	char *buf = len <= (64u << 20) ? malloc((size_t)len + 1) : NULL;
	if (!buf)
		return -EPROTO;
	if ((rc = read_all(fd, buf, len, deadline))) {
		free(buf);
		return rc == -ETIMEDOUT ? rc : -EPROTO;
	}
	buf[len] = 0;
	*out = hdr[4] == RELAY_FRAME_TEXT ? cJSON_Parse(buf) : NULL;
	free(buf);
	return 0;
}

static int64_t deadline_of(int timeout_ms)
{
	if (timeout_ms < 0)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
}

int relay_client_send(int fd, const char *json)
{
	uint8_t hdr[RELAY_FRAME_HEADER];
	relay_frame_header_write(hdr, RELAY_FRAME_TEXT, (uint32_t)strlen(json));
	int rc = relay_client_write_all(fd, hdr, sizeof hdr);
	return rc ? rc : relay_client_write_all(fd, json, strlen(json));
}

cJSON *relay_client_request(int fd, const char *json, int timeout_ms, char *why, size_t why_len)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rc = relay_client_send(fd, json);
	if (rc) {
		snprintf(why, why_len, "cannot write to tetherd: %s", strerror(-rc));
		return NULL;
	}
	for (;;) {
		cJSON *msg;
		rc = read_frame(fd, deadline, &msg);
		if (rc) {
			snprintf(why, why_len, "%s", rc == -ETIMEDOUT ? "tetherd did not answer in time" :
				 rc == -EPROTO ? "bad reply from tetherd" : "tetherd closed the connection");
			return NULL;
		}
		if (msg && cJSON_GetObjectItem(msg, "id"))
			return msg;   /* replies carry our id; events do not */
		cJSON_Delete(msg);
	}
}

cJSON *relay_client_next(int fd, int wake_fd, int timeout_ms, int *rc)
{
	int64_t deadline = deadline_of(timeout_ms);
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };
		int left = -1;
		if (deadline) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t l = deadline - (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
			if (l <= 0) {
				*rc = -ETIMEDOUT;
				return NULL;
			}
			left = (int)l;
		}
		int n = poll(p, wake_fd >= 0 ? 2 : 1, left);
		if (n < 0 && errno != EINTR) {
			*rc = -errno;
			return NULL;
		}
		if (n == 0) {
			*rc = -ETIMEDOUT;
			return NULL;
		}
		if (n < 0 || (wake_fd >= 0 && p[1].revents)) {
			*rc = -EINTR;
			return NULL;
		}
		/* a frame has begun: the rest follows at once, so it is read whole */
		cJSON *msg;
		if ((*rc = read_frame(fd, deadline_of(10000), &msg)))
			return NULL;
		if (msg)
			return msg;
	}
}

cJSON *relay_client_hello(int fd, const char *name, int timeout_ms, char *why, size_t why_len)
{
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"hello\",\"id\":1,\"protocol\":%d,\"client\":"
		 "{\"name\":\"%s\",\"version\":\"%s\"}}", RELAY_PROTOCOL_VERSION, name, TETHER_VERSION);
	cJSON *reply = relay_client_request(fd, json, timeout_ms, why, why_len);
	const char *type = reply ? cJSON_GetStringValue(cJSON_GetObjectItem(reply, "type")) : NULL;
	if (reply && (!type || strcmp(type, "hello"))) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "message"));
		snprintf(why, why_len, "hello refused: %s", m ? m : "unexpected reply");
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}
