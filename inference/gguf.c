/*
 * gguf.c: the GGUF v2/v3 reader. Every length, count, dimension, type and
 * offset is checked against the bytes that remain before it is used, so a
 * malformed or truncated file is an error naming the field and its byte
 * offset, never a read past the buffer (tests/fuzz/fuzz_gguf.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define GGUF_MAGIC 0x46554747u   /* "GGUF" little-endian */
#define DEFAULT_ALIGNMENT 32

struct cursor {
	const uint8_t *p;
	uint64_t size, pos;
	char *err;
};

static int fail(char *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, INF_ERR_MAX, fmt, ap);
	va_end(ap);
	return code;
}

static int need(struct cursor *c, uint64_t n, const char *what)
{
	if (n > c->size - c->pos)
		return fail(c->err, INF_EFORMAT,
			    "truncated: %s at byte %llu needs %llu bytes, %llu remain", what,
			    (unsigned long long)c->pos, (unsigned long long)n,
			    (unsigned long long)(c->size - c->pos));
	return 0;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int rd(struct cursor *c, unsigned n, uint64_t *v, const char *what)
{
	int rc = need(c, n, what);
	if (rc)
		return rc;
	*v = le(c->p + c->pos, n);
	c->pos += n;
	return 0;
}

static int rd_str(struct cursor *c, struct inf_gguf_str *s, uint64_t cap, const char *what)
{
	uint64_t at = c->pos, len;
	int rc = rd(c, 8, &len, what);
	if (rc)
		return rc;
	if (len > cap)
		return fail(c->err, INF_EFORMAT, "%s at byte %llu: length %llu above the limit %llu",
			    what, (unsigned long long)at, (unsigned long long)len,
			    (unsigned long long)cap);
	if ((rc = need(c, len, what)))
		return rc;
	s->p = (const char *)c->p + c->pos;
	s->len = len;
	c->pos += len;
	return 0;
}

static unsigned scalar_size(uint32_t t)
{
	switch (t) {
	case INF_GGUF_U8: case INF_GGUF_I8: case INF_GGUF_BOOL: return 1;
	case INF_GGUF_U16: case INF_GGUF_I16: return 2;
	case INF_GGUF_U32: case INF_GGUF_I32: case INF_GGUF_F32: return 4;
	case INF_GGUF_U64: case INF_GGUF_I64: case INF_GGUF_F64: return 8;
	default: return 0;
	}
}

const char *inf_gguf_type_name(uint32_t t)
{
	static const char *const names[] = { "u8", "i8", "u16", "i16", "u32", "i32", "f32",
					     "bool", "string", "array", "u64", "i64", "f64" };
	return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static int rd_scalar(struct cursor *c, uint32_t t, struct inf_gguf_kv *kv, const char *key)
{
	unsigned n = scalar_size(t);
	uint64_t at = c->pos, v;
	int rc = rd(c, n, &v, key);
	if (rc)
		return rc;
	switch (t) {
	case INF_GGUF_I8: kv->v.i = (int8_t)v; break;
	case INF_GGUF_I16: kv->v.i = (int16_t)v; break;
	case INF_GGUF_I32: kv->v.i = (int32_t)v; break;
	case INF_GGUF_I64: kv->v.i = (int64_t)v; break;
	case INF_GGUF_F32: {
		uint32_t u = (uint32_t)v;
		float f;
		memcpy(&f, &u, 4);
		kv->v.f = f;
		break;
	}
	case INF_GGUF_F64: memcpy(&kv->v.f, &v, 8); break;
	case INF_GGUF_BOOL:
		if (v > 1)
			return fail(c->err, INF_EFORMAT, "key '%s': bool at byte %llu is %llu, not 0 or 1",
				    key, (unsigned long long)at, (unsigned long long)v);
		kv->v.u = v;
		break;
	default: kv->v.u = v; break;
	}
	return 0;
}

static int rd_kv(struct cursor *c, struct inf_gguf_kv *kv, uint64_t index)
{
	struct inf_gguf_str key;
	uint64_t at = c->pos, t;
	char what[64];
	snprintf(what, sizeof what, "key of metadata entry %llu", (unsigned long long)index);
	int rc = rd_str(c, &key, INF_GGUF_MAX_KEY, what);
	if (rc)
		return rc;
	if (key.len == 0)
		return fail(c->err, INF_EFORMAT, "metadata entry %llu at byte %llu: empty key",
			    (unsigned long long)index, (unsigned long long)at);
	if (memchr(key.p, 0, key.len))
		return fail(c->err, INF_EFORMAT, "metadata entry %llu at byte %llu: key contains NUL",
			    (unsigned long long)index, (unsigned long long)at);
	kv->key = malloc(key.len + 1);
	if (!kv->key)
		return fail(c->err, INF_ENOMEM, "out of memory for metadata key");
	memcpy(kv->key, key.p, key.len);
	kv->key[key.len] = 0;
	kv->offset = at;
	uint64_t tat = c->pos;
	if ((rc = rd(c, 4, &t, kv->key)))
		return rc;
	kv->type = (uint32_t)t;
	if (t == INF_GGUF_STRING)
		return rd_str(c, &kv->v.s, INF_GGUF_MAX_STRING, kv->key);
	if (t != INF_GGUF_ARRAY) {
		if (!scalar_size((uint32_t)t))
			return fail(c->err, INF_EFORMAT, "key '%s': unknown value type %llu at byte %llu",
				    kv->key, (unsigned long long)t, (unsigned long long)tat);
		return rd_scalar(c, (uint32_t)t, kv, kv->key);
	}
	uint64_t et, n;
	tat = c->pos;
	if ((rc = rd(c, 4, &et, kv->key)) || (rc = rd(c, 8, &n, kv->key)))
		return rc;
	if (et == INF_GGUF_ARRAY)
		return fail(c->err, INF_EFORMAT, "key '%s': nested arrays (byte %llu) are not supported",
			    kv->key, (unsigned long long)tat);
	if (et != INF_GGUF_STRING && !scalar_size((uint32_t)et))
		return fail(c->err, INF_EFORMAT, "key '%s': unknown array item type %llu at byte %llu",
			    kv->key, (unsigned long long)et, (unsigned long long)tat);
	if (n > INF_GGUF_MAX_ARRAY)
		return fail(c->err, INF_EFORMAT, "key '%s': array of %llu items above the limit %u",
			    kv->key, (unsigned long long)n, INF_GGUF_MAX_ARRAY);
	kv->arr_type = (uint32_t)et;
	kv->arr_n = n;
	if (et != INF_GGUF_STRING) {
		if ((rc = need(c, n * scalar_size((uint32_t)et), kv->key)))
			return rc;
		kv->arr_data = c->p + c->pos;
		c->pos += n * scalar_size((uint32_t)et);
		if (et == INF_GGUF_BOOL)
			for (uint64_t i = 0; i < n; i++)
				if (kv->arr_data[i] > 1)
					return fail(c->err, INF_EFORMAT,
						    "key '%s': bool item %llu is %u, not 0 or 1", kv->key,
						    (unsigned long long)i, kv->arr_data[i]);
		return 0;
	}
	/* Each string takes at least its 8-byte length: a count the remaining
	 * bytes cannot hold is refused before allocating for it. */
	if ((rc = need(c, n * 8, kv->key)))
		return rc;
	kv->arr_strs = malloc((n ? n : 1) * sizeof *kv->arr_strs);
	if (!kv->arr_strs)
		return fail(c->err, INF_ENOMEM, "out of memory for array '%s'", kv->key);
	for (uint64_t i = 0; i < n; i++)
		if ((rc = rd_str(c, &kv->arr_strs[i], INF_GGUF_MAX_STRING, kv->key)))
			return rc;
	return 0;
}

const struct inf_gguf_kv *inf_gguf_find(const struct inf_gguf *g, const char *key)
{
	for (uint64_t i = 0; i < g->n_kv; i++)
		if (!strcmp(g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

const struct inf_gguf_tensor *inf_gguf_tensor(const struct inf_gguf *g, const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (!strcmp(g->tensors[i].name, name))
			return &g->tensors[i];
	return NULL;
}

static int rd_tensor(struct cursor *c, struct inf_gguf_tensor *t, uint64_t index)
{
	struct inf_gguf_str name;
	uint64_t at = c->pos, v;
	char what[64];
	snprintf(what, sizeof what, "name of tensor %llu", (unsigned long long)index);
	int rc = rd_str(c, &name, INF_GGUF_MAX_STRING, what);
	if (rc)
		return rc;
	if (name.len == 0 || name.len > INF_GGUF_MAX_NAME || memchr(name.p, 0, name.len))
		return fail(c->err, INF_EFORMAT,
			    "tensor %llu at byte %llu: name of %llu bytes (1..%d, no NUL allowed)",
			    (unsigned long long)index, (unsigned long long)at,
			    (unsigned long long)name.len, INF_GGUF_MAX_NAME);
	memcpy(t->name, name.p, name.len);
	t->name[name.len] = 0;
	uint64_t dat = c->pos;
	if ((rc = rd(c, 4, &v, t->name)))
		return rc;
	if (v < 1 || v > INF_GGUF_MAX_DIMS)
		return fail(c->err, INF_EFORMAT, "tensor '%s': %llu dimensions at byte %llu (1..%d)",
			    t->name, (unsigned long long)v, (unsigned long long)dat, INF_GGUF_MAX_DIMS);
	t->n_dims = (uint32_t)v;
	t->n_elems = 1;
	for (uint32_t d = 0; d < INF_GGUF_MAX_DIMS; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		dat = c->pos;
		if ((rc = rd(c, 8, &v, t->name)))
			return rc;
		/* 2^40 per dimension and 2^50 in all keep every product below 2^64. */
		if (v == 0 || v > (1ull << 40) || t->n_elems * v > (1ull << 50))
			return fail(c->err, INF_EFORMAT,
				    "tensor '%s': dimension %u is %llu at byte %llu (1..2^40, 2^50 elements in all)",
				    t->name, d, (unsigned long long)v, (unsigned long long)dat);
		t->ne[d] = v;
		t->n_elems *= v;
	}
	dat = c->pos;
	if ((rc = rd(c, 4, &v, t->name)))
		return rc;
	const struct inf_type_traits *tr = inf_type_traits((uint32_t)v);
	if (!tr)
		return fail(c->err, INF_EUNSUPPORTED, "tensor '%s': unknown tensor type %llu at byte %llu",
			    t->name, (unsigned long long)v, (unsigned long long)dat);
	t->type = (uint32_t)v;
	if (t->ne[0] % tr->block_elems)
		return fail(c->err, INF_EFORMAT,
			    "tensor '%s': row of %llu elements is not a multiple of %s's block of %u",
			    t->name, (unsigned long long)t->ne[0], tr->name, tr->block_elems);
	t->n_bytes = t->n_elems / tr->block_elems * tr->block_bytes;
	return rd(c, 8, &t->offset, t->name);
}

static int cmp_offset(const void *a, const void *b)
{
	const struct inf_gguf_tensor *x = *(const struct inf_gguf_tensor *const *)a;
	const struct inf_gguf_tensor *y = *(const struct inf_gguf_tensor *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b)
{
	const struct inf_gguf_tensor *x = *(const struct inf_gguf_tensor *const *)a;
	const struct inf_gguf_tensor *y = *(const struct inf_gguf_tensor *const *)b;
	return strcmp(x->name, y->name);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((*(const struct inf_gguf_kv *const *)a)->key,
		      (*(const struct inf_gguf_kv *const *)b)->key);
}

/* Names unique, tensors inside the data section, aligned, not overlapping. */
static int check_layout(struct inf_gguf *g, char *err)
{
	uint64_t n = g->n_tensors;
	int rc = 0;
	if (!n && !g->n_kv)
		return 0;
	size_t m = (size_t)(n > g->n_kv ? n : g->n_kv);
	void **v = malloc((m ? m : 1) * sizeof *v);
	if (!v)
		return fail(err, INF_ENOMEM, "out of memory checking tensors");
	for (uint64_t i = 0; i < g->n_kv; i++)
		v[i] = &g->kv[i];
	qsort(v, (size_t)g->n_kv, sizeof *v, cmp_key);
	for (uint64_t i = 1; i < g->n_kv; i++)
		if (!strcmp(((struct inf_gguf_kv *)v[i])->key, ((struct inf_gguf_kv *)v[i - 1])->key)) {
			rc = fail(err, INF_EFORMAT, "metadata key '%s' appears twice",
				  ((struct inf_gguf_kv *)v[i])->key);
			goto out;
		}
	for (uint64_t i = 0; i < n; i++)
		v[i] = &g->tensors[i];
	qsort(v, (size_t)n, sizeof *v, cmp_name);
	for (uint64_t i = 1; i < n; i++)
		if (!strcmp(((struct inf_gguf_tensor *)v[i])->name,
			    ((struct inf_gguf_tensor *)v[i - 1])->name)) {
			rc = fail(err, INF_EFORMAT, "tensor name '%s' appears twice",
				  ((struct inf_gguf_tensor *)v[i])->name);
			goto out;
		}
	uint64_t data_size = g->size - g->data_offset;
	for (uint64_t i = 0; i < n; i++) {
		struct inf_gguf_tensor *t = &g->tensors[i];
		if (t->offset % g->alignment) {
			rc = fail(err, INF_EFORMAT, "tensor '%s': data offset %llu is not a multiple of the alignment %u",
				  t->name, (unsigned long long)t->offset, g->alignment);
			goto out;
		}
		if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
			rc = fail(err, INF_EFORMAT,
				  "tensor '%s': data [%llu, +%llu) runs past the end of the file (data section of %llu bytes at byte %llu)",
				  t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
				  (unsigned long long)data_size, (unsigned long long)g->data_offset);
			goto out;
		}
		t->data = g->base + g->data_offset + t->offset;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_offset);
	for (uint64_t i = 1; i < n; i++) {
		const struct inf_gguf_tensor *a = v[i - 1], *b = v[i];
		if (a->offset + a->n_bytes > b->offset) {
			rc = fail(err, INF_EFORMAT, "tensors '%s' and '%s' overlap (offsets %llu+%llu and %llu)",
				  a->name, b->name, (unsigned long long)a->offset,
				  (unsigned long long)a->n_bytes, (unsigned long long)b->offset);
			goto out;
		}
	}
out:
	free(v);
	return rc;
}

int inf_gguf_parse(const void *buf, size_t len, struct inf_gguf **out, char err[INF_ERR_MAX])
{
	*out = NULL;
	struct inf_gguf *g = calloc(1, sizeof *g);
	if (!g)
		return fail(err, INF_ENOMEM, "out of memory");
	g->base = buf;
	g->size = len;
	struct cursor c = { .p = buf, .size = len, .err = err };
	uint64_t v;
	int rc;
	if ((rc = rd(&c, 4, &v, "magic")))
		goto bad;
	if (v != GGUF_MAGIC) {
		rc = fail(err, INF_EFORMAT, "not a GGUF file: magic at byte 0 is 0x%08llx, not \"GGUF\"",
			  (unsigned long long)v);
		goto bad;
	}
	if ((rc = rd(&c, 4, &v, "version")))
		goto bad;
	if (v != 2 && v != 3) {
		rc = fail(err, v == 1 ? INF_EUNSUPPORTED : INF_EFORMAT,
			  "GGUF version %llu at byte 4 is not supported (2 and 3 are)",
			  (unsigned long long)v);
		goto bad;
	}
	g->version = (uint32_t)v;
	if ((rc = rd(&c, 8, &g->n_tensors, "tensor count")) ||
	    (rc = rd(&c, 8, &g->n_kv, "metadata count")))
		goto bad;
	/* Each tensor info takes at least 8+1+4+8+4+8 bytes, each entry 8+1+4+1. */
	if (g->n_tensors > INF_GGUF_MAX_TENSORS || g->n_tensors * 33 > len) {
		rc = fail(err, INF_EFORMAT, "tensor count %llu at byte 8 is above the limit %u or the file size",
			  (unsigned long long)g->n_tensors, INF_GGUF_MAX_TENSORS);
		goto bad;
	}
	if (g->n_kv > INF_GGUF_MAX_KV || g->n_kv * 14 > len) {
		rc = fail(err, INF_EFORMAT, "metadata count %llu at byte 16 is above the limit %u or the file size",
			  (unsigned long long)g->n_kv, INF_GGUF_MAX_KV);
		goto bad;
	}
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
	if (!g->kv || !g->tensors) {
		rc = fail(err, INF_ENOMEM, "out of memory");
		goto bad;
	}
	for (uint64_t i = 0; i < g->n_kv; i++)
		if ((rc = rd_kv(&c, &g->kv[i], i)))
			goto bad;
	g->alignment = DEFAULT_ALIGNMENT;
	const struct inf_gguf_kv *al = inf_gguf_find(g, "general.alignment");
	if (al) {
		if (al->type != INF_GGUF_U32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)) ||
		    al->v.u > (1u << 20)) {
			rc = fail(err, INF_EFORMAT,
				  "general.alignment (byte %llu) must be a u32 power of two up to 2^20, not %s %llu",
				  (unsigned long long)al->offset, inf_gguf_type_name(al->type),
				  (unsigned long long)al->v.u);
			goto bad;
		}
		g->alignment = (uint32_t)al->v.u;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if ((rc = rd_tensor(&c, &g->tensors[i], i)))
			goto bad;
	g->data_offset = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
	if (g->n_tensors && g->data_offset > len) {
		rc = fail(err, INF_EFORMAT, "truncated: the data section starts at byte %llu, the file has %llu",
			  (unsigned long long)g->data_offset, (unsigned long long)len);
		goto bad;
	}
	if (g->data_offset > len)
		g->data_offset = len;
	if ((rc = check_layout(g, err)))
		goto bad;
	*out = g;
	return 0;
bad:
	inf_gguf_free(g);
	return rc;
}

int inf_gguf_open(const char *path, struct inf_gguf **out, char err[INF_ERR_MAX])
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, INF_EIO, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return fail(err, INF_EIO, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, INF_EIO, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return fail(err, INF_EFORMAT, "%s: empty file", path);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return fail(err, INF_EIO, "%s: mmap: %s", path, strerror(e));
	char inner[INF_ERR_MAX];
	int rc = inf_gguf_parse(p, (size_t)st.st_size, out, inner);
	if (rc) {
		munmap(p, (size_t)st.st_size);
		return fail(err, rc, "%s: %s", path, inner);
	}
	(*out)->mapped = true;
	return 0;
}

void inf_gguf_free(struct inf_gguf *g)
{
	if (!g)
		return;
	if (g->kv)
		for (uint64_t i = 0; i < g->n_kv; i++) {
			free(g->kv[i].key);
			free(g->kv[i].arr_strs);
		}
	free(g->kv);
	free(g->tensors);
	if (g->mapped)
		munmap((void *)g->base, (size_t)g->size);
	free(g);
}

static bool is_int(uint32_t t)
{
	return t == INF_GGUF_U8 || t == INF_GGUF_I8 || t == INF_GGUF_U16 || t == INF_GGUF_I16 ||
	       t == INF_GGUF_U32 || t == INF_GGUF_I32 || t == INF_GGUF_U64 || t == INF_GGUF_I64;
}

static bool is_signed(uint32_t t)
{
	return t == INF_GGUF_I8 || t == INF_GGUF_I16 || t == INF_GGUF_I32 || t == INF_GGUF_I64;
}

int inf_gguf_get_u32(const struct inf_gguf *g, const char *key, uint32_t *out, char err[INF_ERR_MAX])
{
	const struct inf_gguf_kv *kv = inf_gguf_find(g, key);
	if (!kv)
		return 1;
	if (!is_int(kv->type))
		return fail(err, INF_EINVAL, "metadata '%s' is a %s, not an integer", key,
			    inf_gguf_type_name(kv->type));
	if (is_signed(kv->type) ? (kv->v.i < 0 || kv->v.i > (int64_t)UINT32_MAX) : kv->v.u > UINT32_MAX)
		return fail(err, INF_EINVAL, "metadata '%s' = %lld is out of range", key,
			    (long long)kv->v.i);
	*out = (uint32_t)kv->v.u;
	return 0;
}

int inf_gguf_get_f64(const struct inf_gguf *g, const char *key, double *out, char err[INF_ERR_MAX])
{
	const struct inf_gguf_kv *kv = inf_gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->type == INF_GGUF_F32 || kv->type == INF_GGUF_F64)
		*out = kv->v.f;
	else if (is_int(kv->type))
		*out = is_signed(kv->type) ? (double)kv->v.i : (double)kv->v.u;
	else
		return fail(err, INF_EINVAL, "metadata '%s' is a %s, not a number", key,
			    inf_gguf_type_name(kv->type));
	return 0;
}

int inf_gguf_get_bool(const struct inf_gguf *g, const char *key, bool *out, char err[INF_ERR_MAX])
{
	const struct inf_gguf_kv *kv = inf_gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->type != INF_GGUF_BOOL)
		return fail(err, INF_EINVAL, "metadata '%s' is a %s, not a bool", key,
			    inf_gguf_type_name(kv->type));
	*out = kv->v.u != 0;
	return 0;
}

int inf_gguf_get_str(const struct inf_gguf *g, const char *key, struct inf_gguf_str *out, char err[INF_ERR_MAX])
{
	const struct inf_gguf_kv *kv = inf_gguf_find(g, key);
	if (!kv)
		return 1;
	if (kv->type != INF_GGUF_STRING)
		return fail(err, INF_EINVAL, "metadata '%s' is a %s, not a string", key,
			    inf_gguf_type_name(kv->type));
	*out = kv->v.s;
	return 0;
}
