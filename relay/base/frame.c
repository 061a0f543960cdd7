/* Byte-stream framing: [u32 BE payload length][u8 kind][payload]. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

void relay_frame_reader_init(struct relay_frame_reader *r, size_t max_payload)
{
	memset(r, 0, sizeof *r);
	r->max_payload = max_payload;
}

void relay_frame_reader_free(struct relay_frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->buf_cap = 0;
}

void relay_frame_header_write(uint8_t out[RELAY_FRAME_HEADER], uint8_t kind, uint32_t len)
{
	out[0] = (uint8_t)(len >> 24);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	out[4] = kind;
}

long relay_frame_feed(struct relay_frame_reader *r, const uint8_t *in, size_t len,
		      struct relay_frame *out)
{
	size_t used = 0;

	out->event = RELAY_FRAME_NONE;
	if (r->failed)
		return 0;
	while (used < len) {
		if (r->header_have < RELAY_FRAME_HEADER) {
			r->header[r->header_have++] = in[used++];
			if (r->header_have < RELAY_FRAME_HEADER)
				continue;
			r->len = (uint32_t)r->header[0] << 24 | (uint32_t)r->header[1] << 16 |
				 (uint32_t)r->header[2] << 8 | r->header[3];
			r->kind = r->header[4];
			r->have = 0;
			if (r->kind != RELAY_FRAME_TEXT && r->kind != RELAY_FRAME_BINARY) {
				r->failed = true;
				out->event = RELAY_FRAME_BAD_KIND;
				out->kind = r->kind;
				out->len = r->len;
				return (long)used;
			}
			r->skipping = r->len > r->max_payload;
			if (r->skipping) {
				out->event = RELAY_FRAME_TOO_LARGE;
				out->kind = r->kind;
				out->len = r->len;
				if (r->len == 0)
					r->header_have = 0;
				return (long)used;
			}
			if (r->len > r->buf_cap) {
				uint8_t *nb = realloc(r->buf, r->len);
				if (!nb)
					return -ENOMEM;
				r->buf = nb;
				r->buf_cap = r->len;
			}
		}
		size_t want = r->len - r->have, take = len - used < want ? len - used : want;
		if (!r->skipping && take)
			memcpy(r->buf + r->have, in + used, take);
		r->have += take;
		used += take;
		if (r->have < r->len)
			break;
		r->header_have = 0;
		if (r->skipping) {
			r->skipping = false;
			continue;
		}
		out->event = RELAY_FRAME_MESSAGE;
		out->kind = r->kind;
		out->data = r->buf;
		out->len = r->len;
		return (long)used;
	}
	return (long)used;
}
