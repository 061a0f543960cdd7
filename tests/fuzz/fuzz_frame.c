/*
 * fuzz_frame: the byte-stream frame reader (relay/frame.c).
 *
 * Input: [n][n chunk sizes][stream]. n = data[0] & 7; each size byte s means a
 * chunk of s + 1 bytes, used in turn and repeated; n = 0 sends the stream in
 * one piece. The stream is fed chunk by chunk, each chunk copied to a buffer
 * of its exact size, and the unconsumed rest of a chunk re-fed after every
 * event, as transport_unix.c does.
 *
 * Oracle: a plain reference parser run over the whole stream at once. However
 * the stream is cut, the reader must produce the same events, in order, with
 * the same kinds, lengths and payload bytes. Also: consumed <= offered; a
 * reader that has not failed consumes at least one byte of a non-empty input
 * (a transport would spin otherwise); MESSAGE len <= max; after BAD_KIND it
 * consumes nothing, ever.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

#define MAX_PAYLOAD 4096
#define MAX_EVENTS 4096

struct event {
	enum relay_frame_event event;
	uint8_t kind;
	size_t len;
	size_t payload_off;   /* MESSAGE: where the payload starts in the stream */
};

#define REQUIRE(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz_frame: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                   \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* The events of the whole stream, from the format alone. */
static size_t reference(const uint8_t *s, size_t n, struct event *ev)
{
	size_t pos = 0, count = 0;
	while (pos + RELAY_FRAME_HEADER <= n && count < MAX_EVENTS) {
		uint32_t len = (uint32_t)s[pos] << 24 | (uint32_t)s[pos + 1] << 16 |
			       (uint32_t)s[pos + 2] << 8 | s[pos + 3];
		uint8_t kind = s[pos + 4];
		pos += RELAY_FRAME_HEADER;
		struct event *e = &ev[count];
		e->kind = kind;
		e->len = len;
		if (kind != RELAY_FRAME_TEXT && kind != RELAY_FRAME_BINARY) {
			e->event = RELAY_FRAME_BAD_KIND;
			return count + 1;
		}
		if (len > MAX_PAYLOAD) {
			e->event = RELAY_FRAME_TOO_LARGE;
			count++;
			if (n - pos < len)
				break;
			pos += len;
			continue;
		}
		if (n - pos < len)
			break;
		e->event = RELAY_FRAME_MESSAGE;
		e->payload_off = pos;
		pos += len;
		count++;
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event want[MAX_EVENTS];
	if (size < 1)
		return 0;
	size_t n_sizes = data[0] & 7;
	if (size < 1 + n_sizes)
		return 0;
	const uint8_t *sizes = data + 1;
	const uint8_t *stream = data + 1 + n_sizes;
	size_t stream_len = size - 1 - n_sizes;

	size_t n_want = reference(stream, stream_len, want);
	size_t n_got = 0;
	bool failed = false;

	struct relay_frame_reader r;
	relay_frame_reader_init(&r, MAX_PAYLOAD);

	size_t off = 0, k = 0;
	while (off < stream_len && n_got < MAX_EVENTS) {
		size_t chunk = n_sizes ? (size_t)sizes[k++ % n_sizes] + 1 : stream_len;
		if (chunk > stream_len - off)
			chunk = stream_len - off;
		uint8_t *buf = malloc(chunk);
		REQUIRE(buf);
		memcpy(buf, stream + off, chunk);

		size_t used = 0;
		while (used < chunk && n_got < MAX_EVENTS) {
			struct relay_frame f;
			memset(&f, 0xA5, sizeof f);
			long got = relay_frame_feed(&r, buf + used, chunk - used, &f);
			REQUIRE(got >= 0);   /* -ENOMEM: at most 4 KiB is ever allocated */
			REQUIRE((size_t)got <= chunk - used);
			if (failed) {
				REQUIRE(got == 0);
				REQUIRE(f.event == RELAY_FRAME_NONE);
				break;
			}
			REQUIRE(got > 0);
			used += (size_t)got;
			if (f.event == RELAY_FRAME_NONE) {
				/* it stops early only to report an event */
				REQUIRE(used == chunk);
				continue;
			}
			REQUIRE(n_got < n_want);
			const struct event *e = &want[n_got++];
			REQUIRE(f.event == e->event);
			REQUIRE(f.kind == e->kind);
			REQUIRE(f.len == e->len);
			if (f.event == RELAY_FRAME_MESSAGE) {
				REQUIRE(f.len <= MAX_PAYLOAD);
				REQUIRE(f.len == 0 || f.data != NULL);
				REQUIRE(f.len == 0 ||
					!memcmp(f.data, stream + e->payload_off, f.len));
			} else if (f.event == RELAY_FRAME_BAD_KIND) {
				failed = true;
				/* the rest of this chunk and a fresh valid frame: nothing */
				struct relay_frame g;
				uint8_t valid[RELAY_FRAME_HEADER + 1] = { 0, 0, 0, 1, 1, '{' };
				REQUIRE(relay_frame_feed(&r, valid, sizeof valid, &g) == 0);
				REQUIRE(g.event == RELAY_FRAME_NONE);
			}
		}
		free(buf);
		off += chunk;
	}
	if (n_got < MAX_EVENTS)
		REQUIRE(n_got == n_want);
	relay_frame_reader_free(&r);
	return 0;
}
