/* Writes the random-weight models the serving tests use (tests/integration/
 * infer.test.mjs) with the project's GGUF writer:
 *   infer_models DIR
 * DIR/llama-f32.gguf, llama-q8_0.gguf, qwen2-q4_0.gguf (dim 64, byte-level
 * BPE vocabulary of 300 with a chat template, n_ctx_train 512) and
 * big-f32.gguf (about 120 MB: loading it takes long enough to be watched).
 * A file that exists is kept. */
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"

static int write_model(const char *dir, const char *name, const struct inf_test_model_spec *s)
{
	char path[1024], tmp[1100];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
	if (!stat(path, &st))
		return 0;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	struct inf_gguf_writer *w = inf_test_model_build(s);
	int rc = w ? inf_gguf_writer_save(w, tmp) : -1;
	inf_gguf_writer_free(w);
	if (rc || rename(tmp, path)) {
		fprintf(stderr, "infer_models: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: infer_models DIR\n");
		return 2;
	}
	struct inf_test_model_spec s;
	inf_test_model_spec_default(&s);
	s.n_ctx_train = 512;
	int rc = write_model(argv[1], "llama-f32", &s);
	s.wtype = INF_TYPE_Q8_0;
	s.seed = 2;
	rc |= write_model(argv[1], "llama-q8_0", &s);
	s.arch = "qwen2";
	s.wtype = INF_TYPE_Q4_0;
	s.seed = 3;
	rc |= write_model(argv[1], "qwen2-q4_0", &s);
	inf_test_model_spec_default(&s);
	s.dim = 512;
	s.n_layer = 8;
	s.n_head = s.n_head_kv = 8;
	s.ffn_dim = 1536;
	s.n_vocab = 8000;
	s.seed = 4;
	rc |= write_model(argv[1], "big-f32", &s);
	return rc;
}
