/*
 * inference/backend.h: the seam between the shared core (model loading, the
 * context's shared part, the API) and a backend that runs the forward pass
 * (internal to the inference module; docs/inference.md, "Backends").
 *
 * A backend is one constant table of operations. The core picks one when a
 * model loads (inf_backend_select), has it prepare the model's weights, and
 * gives every context of that model the backend's own state, which only the
 * backend reads. The CPU backend (cpu/cpu.c) is the one implementation.
 *
 * Contracts, for every operation: 0 or a negative INF_E* code with a
 * message in err; an operation that fails has undone what it did (nothing
 * to release); the core never calls an operation of a backend whose probe
 * failed.
 */
#ifndef TETHER_INFERENCE_BACKEND_H
#define TETHER_INFERENCE_BACKEND_H

#include "internal.h"

struct inf_model;

/* One sequence's share of a forward pass: its tokens ids[0..n) at positions
 * pos0..pos0+n-1 of its own KV cache (which holds [0, pos0)). */
struct inf_run {
	uint32_t seq;              /* < the context's n_seq; each at most once per pass */
	uint32_t pos0;
	const int32_t *ids;        /* borrowed; every id below n_vocab */
	uint32_t n;                /* >= 1 */
	float *logits;             /* (n_vocab), written: the run's last position's */
};

struct inf_backend {
	const char *name;   /* "cpu": what model info reports */
	/* Whether the backend can run on this machine: 0 with *isa set to the
	 * instruction set (or device architecture) its contexts use by default,
	 * or INF_EUNSUPPORTED with why it cannot in why. */
	int (*probe)(const char **isa, char why[INF_ERR_MAX]);
	/* Readies a loaded, validated model for this backend (CPU: the packed
	 * copies of the weight matrices, unless opt->no_pack). *state: the
	 * backend's per-model state, owned by it until release (NULL: none).
	 * May set m->info.packed_bytes. */
	int (*prepare)(struct inf_model *m, const struct inf_model_options *opt, void **state,
		       char err[INF_ERR_MAX]);
	/* Frees what prepare made (called once, by inf_model_free). */
	void (*release)(struct inf_model *m, void *state);
	/* Host memory bytes the backend's state of a context with these
	 * (resolved) parameters takes (the KV caches of all p->n_seq
	 * sequences); *kv_bytes: the KV caches' share of it. */
	uint64_t (*context_bytes)(const struct inf_model *m, const struct inf_context_params *p,
				  uint64_t *kv_bytes);
	/* The backend's state of a context: p holds the core's resolved
	 * parameters, and the backend resolves its own in it (CPU: isa AUTO
	 * becomes the ISA chosen) or refuses them (an ISA the CPU lacks).
	 * *state is owned by the backend until context_free. */
	int (*context_create)(const struct inf_model *m, struct inf_context_params *p, void **state,
			      char err[INF_ERR_MAX]);
	void (*context_free)(void *state);
	/* One forward pass over n_runs runs (1 <= n_runs <= n_seq; their
	 * tokens together 1..INF_MAX_BATCH; checked by the core): each run's
	 * keys and values go into its sequence's cache and each run's last
	 * logits into its logits. Batch invariant: a run's logits and cache
	 * entries are bit for bit the same whatever the other runs are and
	 * however its sequence's tokens were cut into runs (docs/inference.md).
	 * Checks *cancel at least once per layer and returns INF_ECANCELED
	 * when it is set. Called once per batch, never per row. */
	int (*forward)(void *state, const struct inf_run *runs, uint32_t n_runs, const atomic_bool *cancel,
		       char err[INF_ERR_MAX]);
};

/* The backends built into this binary. */
extern const struct inf_backend inf_backend_cpu;

/* Picks the backend for a model: the first in order of preference whose
 * probe succeeds. Fills choice (the public report: the name, its ISA, and
 * each backend not chosen with the reason) and returns the backend; NULL
 * with err set when none can run here. */
const struct inf_backend *inf_backend_select(struct inf_backend_choice *choice, char err[INF_ERR_MAX]);

#endif
