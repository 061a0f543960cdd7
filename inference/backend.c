/*
 * backend.c: the backend registry. Backends in order of preference; the
 * first whose probe succeeds runs the model, and the report says why each
 * one before it did not.
 */
#include <stdio.h>
#include <string.h>

#include "backend.h"

static const struct {
	const char *name;
	const struct inf_backend *backend;   /* NULL: not built into this binary */
} registry[] = {
	/* CUDA comes later as a separately built module loaded at run time
	 * (issue 13); this binary has no way to run it. */
	{ "cuda", NULL },
	{ "cpu", &inf_backend_cpu },
};
_Static_assert(sizeof registry / sizeof registry[0] <= INF_MAX_BACKENDS, "INF_MAX_BACKENDS");

const struct inf_backend *inf_backend_select(struct inf_backend_choice *choice, char err[INF_ERR_MAX])
{
	memset(choice, 0, sizeof *choice);
	choice->name = "";
	choice->isa = "";
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
		const struct inf_backend *b = registry[i].backend;
		char why[INF_ERR_MAX] = "not built into this binary";
		const char *isa = "";
		if (b && b->probe(&isa, why) == 0) {
			choice->name = b->name;
			choice->isa = isa;
			return b;
		}
		struct inf_backend_not_chosen *n = &choice->not_chosen[choice->n_not_chosen++];
		n->name = registry[i].name;
		snprintf(n->reason, sizeof n->reason, "%s", why);
	}
	/* the last is the most general (the CPU's), so its reason says most */
	const struct inf_backend_not_chosen *last = &choice->not_chosen[choice->n_not_chosen - 1];
	snprintf(err, INF_ERR_MAX, "no backend can run on this machine (%s: %.400s)", last->name, last->reason);
	return NULL;
}
