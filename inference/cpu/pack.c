/*
 * cpu/pack.c: the CPU backend's preparation of a model: the weight matrices
 * copied into the packed layout of the 16-row kernels (inf_pack16,
 * kernels.c; docs/inference.md, "Packed weights") where this CPU has them.
 * The copies hang off the tensors (inf_gguf_tensor.packed), where the
 * forward pass finds them, and belong to this backend.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu.h"

/* A copy of the matrix's rows in groups of 16 in the packed layout, where
 * this CPU has the packed kernels. The mapped pages of the copied rows are
 * then released (the kernels never read them; a context on another ISA
 * that does faults them back in from the file), so the copy does not
 * double the resident weights. */
static int pack_matrix(struct inf_model *m, const struct inf_gguf_tensor *ct, char *err)
{
	struct inf_gguf_tensor *t = (struct inf_gguf_tensor *)ct;   /* the model owns g */
	if (t->packed || !inf_packable(t->type) || t->n_dims != 2 || t->ne[0] % 32)
		return 0;
	if ((t->type == INF_TYPE_Q4_K || t->type == INF_TYPE_Q6_K) && t->ne[0] % 256)
		return 0;
	uint64_t rows = t->ne[1] / 16 * 16;
	size_t row_bytes = (size_t)inf_row_bytes(t->type, t->ne[0]);
	size_t len = rows / 16 * inf_packed_group_bytes(t->type, (uint32_t)t->ne[0]);
	if (!rows)
		return 0;
	void *p = aligned_alloc(64, (len + 63) / 64 * 64);
	if (!p)
		return inf_fail(err, INF_ENOMEM, "out of memory packing %s (%zu bytes)", t->name, len);
	inf_pack16(t->type, t->data, rows, (uint32_t)t->ne[0], p);
	t->packed = p;
	t->packed_rows = rows;
	m->info.packed_bytes += len;
	long pg = sysconf(_SC_PAGESIZE);
	if (m->g->mapped && pg > 0) {
		/* whole pages inside the packed rows only: the rest stays mapped */
		uintptr_t mask = (uintptr_t)pg - 1;
		uintptr_t a = ((uintptr_t)t->data + mask) & ~mask;
		uintptr_t e = ((uintptr_t)t->data + rows * row_bytes) & ~mask;
		if (e > a)
			madvise((void *)a, e - a, MADV_DONTNEED);
	}
	return 0;
}

int inf_cpu_pack(struct inf_model *m, bool no_pack, char err[INF_ERR_MAX])
{
	const struct inf_kernels *k = inf_kernels_get(INF_ISA_AUTO);
	if (no_pack || !k->mm16_q8 || !k->mm16_q4k || !k->mm16_q6k)
		return 0;
	int rc = 0;
	for (uint32_t l = 0; !rc && l < m->n_layer; l++) {
		const struct inf_layer *L = &m->layers[l];
		const struct inf_gguf_tensor *w[] = { L->wq, L->wk, L->wv, L->wo, L->w_gate, L->w_up, L->w_down };
		for (size_t i = 0; !rc && i < sizeof w / sizeof w[0]; i++)
			rc = pack_matrix(m, w[i], err);
	}
	/* tied: the embedding's rows are looked up in the file's layout */
	if (!rc && m->output != m->tok_embd)
		rc = pack_matrix(m, m->output, err);
	if (rc)
		inf_cpu_unpack(m);
	return rc;
}

void inf_cpu_unpack(struct inf_model *m)
{
	for (uint64_t t = 0; t < m->g->n_tensors; t++) {
		struct inf_gguf_tensor *x = &m->g->tensors[t];   /* the model owns g */
		free((void *)x->packed);
		x->packed = NULL;
		x->packed_rows = 0;
	}
	m->info.packed_bytes = 0;
}

