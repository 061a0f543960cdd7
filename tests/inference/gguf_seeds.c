/*
 * gguf_seeds: writes the fuzz_gguf seed corpus (tests/fuzz/corpus/fuzz_gguf)
 * with the project's GGUF writer: tiny models of each architecture and
 * several types, one with a tokenizer section, a metadata-only file and a
 * vocabulary-only one (a tokenizer section, no tensors).
 *   gguf_seeds DIR
 */
#include <stdio.h>

#include "internal.h"

static int save(const struct inf_test_model_spec *s, const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
	struct inf_gguf_writer *w = inf_test_model_build(s);
	int rc = w ? inf_gguf_writer_save(w, path) : -1;
	inf_gguf_writer_free(w);
	if (rc)
		fprintf(stderr, "gguf_seeds: cannot write %s\n", path);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gguf_seeds DIR\n");
		return 2;
	}
	struct inf_test_model_spec s;
	inf_test_model_spec_default(&s);
	s.dim = 32;
	s.n_layer = 1;
	s.n_head = 2;
	s.n_head_kv = 1;
	s.ffn_dim = 32;
	s.n_vocab = 40;
	s.with_vocab = false;
	int rc = save(&s, argv[1], "llama_f32");
	s.wtype = s.embd_type = INF_TYPE_Q8_0;
	s.tied = true;
	s.rope_freqs = true;
	rc |= save(&s, argv[1], "llama_q8_0_tied_rope_freqs");
	s.arch = "qwen2";
	s.wtype = INF_TYPE_Q4_0;
	s.embd_type = INF_TYPE_F16;
	s.tied = false;
	s.rope_freqs = false;
	rc |= save(&s, argv[1], "qwen2_q4_0");
	s.wtype = INF_TYPE_BF16;
	s.n_vocab = 262;
	s.with_vocab = true;
	rc |= save(&s, argv[1], "qwen2_bf16_vocab");
	struct inf_gguf_writer *w = inf_gguf_writer_new(2, 64);
	inf_gguf_w_str(w, "general.architecture", "llama");
	uint64_t ne[1] = { 256 };
	static float z[256];
	inf_gguf_w_tensor_f32(w, "k", INF_TYPE_Q4_K, 1, ne, z);
	inf_gguf_w_tensor_f32(w, "s", INF_TYPE_Q6_K, 1, ne, z);
	char path[512];
	snprintf(path, sizeof path, "%s/v2_align64_k_types.gguf", argv[1]);
	rc |= inf_gguf_writer_save(w, path);
	inf_gguf_writer_free(w);

	/* A vocabulary-only file, as llama.cpp's ggml-vocab-*.gguf: metadata
	 * and a SentencePiece tokenizer section, no tensors. */
	static const char *pieces[] = { "\xe2\x96\x81", "h", "e", "l", "o", "\xe2\x96\x81h", "he", "ll",
					"\xe2\x96\x81he", "\xe2\x96\x81hell", "\xe2\x96\x81hello", "<|u|>" };
	const char *toks[3 + 256 + 12];
	static char bytes[256][8];
	float scores[3 + 256 + 12];
	int32_t types[3 + 256 + 12];
	uint32_t n = 0;
	toks[n] = "<unk>", scores[n] = 0, types[n++] = INF_TOKEN_UNKNOWN;
	toks[n] = "<s>", scores[n] = 0, types[n++] = INF_TOKEN_CONTROL;
	toks[n] = "</s>", scores[n] = 0, types[n++] = INF_TOKEN_CONTROL;
	for (int b = 0; b < 256; b++) {
		snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
		toks[n] = bytes[b], scores[n] = 0, types[n++] = INF_TOKEN_BYTE;
	}
	for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++, n++) {
		toks[n] = pieces[i];
		scores[n] = -(float)i;
		types[n] = i + 1 < sizeof pieces / sizeof pieces[0] ? INF_TOKEN_NORMAL : INF_TOKEN_USER_DEFINED;
	}
	w = inf_gguf_writer_new(3, 0);
	inf_gguf_w_str(w, "general.architecture", "llama");
	inf_gguf_w_str(w, "general.name", "tether vocabulary-only test file");
	inf_gguf_w_str(w, "tokenizer.ggml.model", "llama");
	inf_gguf_w_str(w, "tokenizer.ggml.pre", "default");
	inf_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, n);
	inf_gguf_w_arr(w, "tokenizer.ggml.scores", INF_GGUF_F32, scores, n);
	inf_gguf_w_arr(w, "tokenizer.ggml.token_type", INF_GGUF_I32, types, n);
	inf_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 1);
	inf_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 2);
	inf_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", 0);
	inf_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", true);
	inf_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", false);
	snprintf(path, sizeof path, "%s/vocab_only_spm.gguf", argv[1]);
	rc |= inf_gguf_writer_save(w, path);
	inf_gguf_writer_free(w);
	return rc ? 1 : 0;
}
