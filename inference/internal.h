/*
 * inference/internal.h: declarations shared inside the inference module
 * (GGUF reader and writer, tensor types; the CPU backend's kernels and
 * thread pool, cpu/, declared here because the tests and bench/infer reach
 * them too). The model and the context are model.h's, the backend seam
 * backend.h's.
 */
#ifndef TETHER_INFERENCE_INTERNAL_H
#define TETHER_INFERENCE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inference.h"

/* ---- ggml tensor types (ids as in GGUF files) ---- */

enum {
	INF_TYPE_F32 = 0,
	INF_TYPE_F16 = 1,
	INF_TYPE_Q4_0 = 2,
	INF_TYPE_Q4_1 = 3,
	INF_TYPE_Q5_0 = 6,
	INF_TYPE_Q5_1 = 7,
	INF_TYPE_Q8_0 = 8,
	INF_TYPE_Q8_1 = 9,
	INF_TYPE_Q2_K = 10,
	INF_TYPE_Q3_K = 11,
	INF_TYPE_Q4_K = 12,
	INF_TYPE_Q5_K = 13,
	INF_TYPE_Q6_K = 14,
	INF_TYPE_Q8_K = 15,
	INF_TYPE_I8 = 24,
	INF_TYPE_I16 = 25,
	INF_TYPE_I32 = 26,
	INF_TYPE_I64 = 27,
	INF_TYPE_F64 = 28,
	INF_TYPE_BF16 = 30,
};

struct inf_type_traits {
	const char *name;
	uint32_t block_elems;   /* elements per block */
	uint32_t block_bytes;   /* bytes per block */
	bool computable;        /* this engine dequantizes and multiplies it */
};

/* NULL when the id is not a known ggml type (the reader then refuses it). */
const struct inf_type_traits *inf_type_traits(uint32_t type);
bool inf_type_computable(uint32_t type);

#define INF_QK 32          /* Q8_0 / Q4_0 block */
#define INF_QK_K 256       /* K-quant super-block */

/* On-disk blocks (little-endian; every field byte-aligned, no padding). */
struct inf_block_q8_0 { uint16_t d; int8_t qs[32]; };
struct inf_block_q4_0 { uint16_t d; uint8_t qs[16]; };
struct inf_block_q4_k { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct inf_block_q6_k { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
_Static_assert(sizeof(struct inf_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct inf_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(struct inf_block_q4_k) == 144, "q4_K block");
_Static_assert(sizeof(struct inf_block_q6_k) == 210, "q6_K block");

/* Activations quantized to 8 bits (in memory only): a float scale per 32
 * (for Q8_0/Q4_0 weights) or per 256 with sums per 16 (for K weights).
 * s = d * (sum of qs): the packed kernels work on unsigned weights (q + 8,
 * q + 128) and take the offset back out as offset * s per block. */
struct inf_act_q8 { float d; float s; int8_t qs[32]; };
struct inf_act_q8k { float d; int8_t qs[256]; int16_t bsums[16]; };

float inf_fp16_to_fp32(uint16_t h);
uint16_t inf_fp32_to_fp16(float f);     /* round to nearest even */
float inf_bf16_to_fp32(uint16_t h);
uint16_t inf_fp32_to_bf16(float f);     /* round to nearest even */

/* Bytes of a row of n elements (n a multiple of the block size). */
uint64_t inf_row_bytes(uint32_t type, uint64_t n);
/* Dequantizes n elements (a multiple of the block). Returns -1 for a type
 * that is not computable. */
int inf_dequantize(uint32_t type, const void *src, float *dst, uint64_t n);
/* Reference quantizers for the writer (n a multiple of the block). */
int inf_quantize(uint32_t type, const float *src, void *dst, uint64_t n);

/* ---- kernels (cpu/kernels.c): runtime dispatch by ISA ---- */

/* Which activation format a weight type multiplies with. */
enum inf_act_kind { INF_ACT_F32, INF_ACT_Q8, INF_ACT_Q8K };
enum inf_act_kind inf_act_kind(uint32_t weight_type);
/* Bytes of one quantized activation row of n elements. */
size_t inf_act_row_bytes(enum inf_act_kind kind, uint32_t n);

struct inf_kernels {
	enum inf_isa isa;
	/* dot of one weight row (n elements) with one activation row */
	float (*dot_f32)(const float *w, const float *x, uint32_t n);
	float (*dot_f16)(const uint16_t *w, const float *x, uint32_t n);
	float (*dot_bf16)(const uint16_t *w, const float *x, uint32_t n);
	float (*dot_q8_0)(const void *w, const struct inf_act_q8 *x, uint32_t n);
	float (*dot_q4_0)(const void *w, const struct inf_act_q8 *x, uint32_t n);
	float (*dot_q4_k)(const void *w, const struct inf_act_q8k *x, uint32_t n);
	float (*dot_q6_k)(const void *w, const struct inf_act_q8k *x, uint32_t n);
	/* Q8_0 or Q4_0 (wtype) row against four Q8 activation rows stride
	 * bytes apart; NULL where the ISA has none (then four dots) */
	void (*dot4_q8)(const void *w, uint32_t wtype, const uint8_t *x, size_t stride, uint32_t n,
			float out[4]);
	/* F16 row against four float activation rows stride bytes apart;
	 * NULL: none */
	void (*dot4_f16)(const uint16_t *w, const uint8_t *x, size_t stride, uint32_t n, float out[4]);
	/* Q4_K / Q6_K row against four Q8_K activation rows; NULL: none */
	void (*dot4_q4_k)(const void *w, const uint8_t *x, size_t stride, uint32_t n, float out[4]);
	void (*dot4_q6_k)(const void *w, const uint8_t *x, size_t stride, uint32_t n, float out[4]);
	/* Sixteen rows of a Q8_0 or Q4_0 matrix packed by inf_pack16 (w: the
	 * group's bytes) against n_tok Q8 activation rows x_stride bytes apart;
	 * writes y[t * y_stride + r] for r < 16. NULL where the ISA has none. */
	void (*mm16_q8)(const uint8_t *w, uint32_t wtype, const uint8_t *x, size_t x_stride, uint32_t n_tok,
			uint32_t cols, float *y, size_t y_stride);
	/* The same for packed Q4_K and Q6_K against Q8_K activation rows. */
	void (*mm16_q4k)(const uint8_t *w, const uint8_t *x, size_t x_stride, uint32_t n_tok, uint32_t cols,
			 float *y, size_t y_stride);
	void (*mm16_q6k)(const uint8_t *w, const uint8_t *x, size_t x_stride, uint32_t n_tok, uint32_t cols,
			 float *y, size_t y_stride);
	/* Four F16 rows (w_stride bytes apart; cols a multiple of 16) against
	 * n_tok float activation rows: y[t * y_stride + r] for r < 4. NULL:
	 * none. */
	void (*mm4_f16)(const uint8_t *w, size_t w_stride, const uint8_t *x, size_t x_stride, uint32_t n_tok,
			uint32_t cols, float *y, size_t y_stride);
	/* One attention head: out = softmax(scale * q.k[p], p < len) v[p];
	 * k[p] = k + p * stride elements, likewise v, the elements F16 (f16)
	 * or float; sc: len floats of scratch. */
	void (*attn_head)(const float *q, const void *k, const void *v, bool f16, size_t stride,
			  uint32_t len, uint32_t hd, float scale, float *sc, float *out);
	/* y = x rounded to F16 (nearest even), as inf_fp32_to_fp16: the F16 KV cache */
	void (*to_f16)(const float *x, uint16_t *y, uint32_t n);
	void (*quantize_q8)(const float *x, struct inf_act_q8 *y, uint32_t n);
	void (*quantize_q8k)(const float *x, struct inf_act_q8k *y, uint32_t n);
};

/* The kernel table for an ISA (AUTO: the best supported); NULL when this
 * CPU lacks the ISA. */
const struct inf_kernels *inf_kernels_get(enum inf_isa isa);
/* dot of one weight row of `type` with one activation row in its format. */
float inf_dot(const struct inf_kernels *k, uint32_t type, const void *w, const void *x, uint32_t n);

/*
 * The packed layout of Q8_0 and Q4_0 matrices (docs/inference.md, "Packed
 * weights"): rows in groups of 16; a group is its blocks in column order,
 * each block 32 bytes of the 16 rows' fp16 scales, then the quants with
 * rows interleaved four bytes at a time: 64-byte vector p holds bytes
 * 4p..4p+3 of each row's block, row r in bytes 4r..4r+3. Q4_0 keeps its
 * nibble bytes (4 vectors, 288 bytes a block); Q8_0 quants are XORed with
 * 0x80 (q + 128, unsigned; 8 vectors, 544 bytes). Either way a group takes
 * exactly the bytes of its 16 rows in the file, at the same offset.
 *
 * Q4_K packs the same way per 256-column super-block (2368 bytes for 16
 * rows, 64 more than the file's 2304): 32 bytes of the rows' fp16 d, 32 of
 * dmin, the eight 6-bit sub-block scales as bytes [j][row] (128), the
 * eight mins as bytes [j/2][row][j%2] (128), then the nibble bytes as
 * 32 vectors: vector 8i+p holds bytes 32i+4p..32i+4p+3 of each row's qs.
 *
 * Q6_K, per super-block (3360 bytes for 16 rows, as in the file): the rows'
 * fp16 d (32 bytes), the 16 int8 scales as bytes [g/2][row][g%2] (256),
 * then with q[e] the 6-bit value (0..63) of element e: 32 vectors of low
 * nibbles, vector v byte k of row r = q[4v+k] & 15 | (q[4v+128+k] & 15) << 4
 * (2048), and 16 vectors of high bits, vector u byte k of row r = the sum
 * over j < 4 of (q[4u+64j+k] >> 4) << 2j (1024).
 */
bool inf_packable(uint32_t type);
/* Bytes of a packed group of 16 rows of cols columns. */
size_t inf_packed_group_bytes(uint32_t type, uint32_t cols);
/* Packs rows [0, rows) (a multiple of 16) of a matrix with cols columns. */
void inf_pack16(uint32_t type, const void *src, uint64_t rows, uint32_t cols, void *dst);

/* ---- thread pool (cpu/pool.c) ---- */

struct inf_pool;
/* n_threads workers including the caller (n_threads - 1 threads started). */
int inf_pool_create(uint32_t n_threads, struct inf_pool **out);
void inf_pool_free(struct inf_pool *pool);
uint32_t inf_pool_size(const struct inf_pool *pool);
/* Runs fn(arg, chunk, worker) once for each chunk in [0, n_chunks) and
 * returns when all have finished. Whichever workers are running claim the
 * chunks one at a time (worker: 0 is the caller, < inf_pool_size, for
 * per-thread scratch), so make chunks small enough to balance. Workers spin
 * briefly between jobs, then sleep. */
void inf_pool_run_chunks(struct inf_pool *pool, void (*fn)(void *arg, uint32_t chunk, uint32_t worker),
			 void *arg, uint32_t n_chunks);
/* fn(arg, ith, nth) for ith in [0, nth), nth = inf_pool_size: a static split
 * into nth parts (each part runs once, not necessarily on thread ith). */
void inf_pool_run(struct inf_pool *pool, void (*fn)(void *arg, uint32_t ith, uint32_t nth),
		  void *arg);

/* ---- GGUF (gguf.c) ---- */

enum {
	INF_GGUF_U8 = 0, INF_GGUF_I8 = 1, INF_GGUF_U16 = 2, INF_GGUF_I16 = 3,
	INF_GGUF_U32 = 4, INF_GGUF_I32 = 5, INF_GGUF_F32 = 6, INF_GGUF_BOOL = 7,
	INF_GGUF_STRING = 8, INF_GGUF_ARRAY = 9, INF_GGUF_U64 = 10, INF_GGUF_I64 = 11,
	INF_GGUF_F64 = 12,
};

#define INF_GGUF_MAX_DIMS 4
#define INF_GGUF_MAX_NAME 63          /* tensor name bytes */
#define INF_GGUF_MAX_KEY 65535
#define INF_GGUF_MAX_STRING (1u << 30)
#define INF_GGUF_MAX_ARRAY (1u << 28)
#define INF_GGUF_MAX_TENSORS 65536
#define INF_GGUF_MAX_KV 65536

struct inf_gguf_str { const char *p; uint64_t len; };  /* into the buffer, not NUL-terminated */

struct inf_gguf_kv {
	char *key;                     /* owned copy, NUL-terminated */
	uint32_t type;                 /* INF_GGUF_* */
	uint64_t offset;               /* of the key in the file */
	union {
		uint64_t u;            /* unsigned and bool */
		int64_t i;
		double f;
		struct inf_gguf_str s;
	} v;
	/* arrays */
	uint32_t arr_type;
	uint64_t arr_n;
	const uint8_t *arr_data;       /* numeric items, little-endian, maybe unaligned */
	struct inf_gguf_str *arr_strs; /* owned, for string arrays */
};

struct inf_gguf_tensor {
	char name[INF_GGUF_MAX_NAME + 1];
	uint32_t type;
	uint32_t n_dims;
	uint64_t ne[INF_GGUF_MAX_DIMS];   /* ne[0] is the row (contiguous) */
	uint64_t n_elems;
	uint64_t offset;                  /* from the data section */
	uint64_t n_bytes;
	const void *data;
	/* rows [0, packed_rows) in the packed layout (inf_pack16), made and
	 * owned by the CPU backend (cpu/pack.c, its prepare); NULL: none */
	const void *packed;
	uint64_t packed_rows;
};

struct inf_gguf {
	const uint8_t *base;       /* the whole file */
	uint64_t size;
	bool mapped;               /* base is our mmap */
	uint32_t version;
	uint64_t n_kv, n_tensors;
	struct inf_gguf_kv *kv;
	struct inf_gguf_tensor *tensors;
	uint32_t alignment;
	uint64_t data_offset;
};

/* Parses and validates buf[0..len) (borrowed; must outlive the result). */
int inf_gguf_parse(const void *buf, size_t len, struct inf_gguf **out, char err[INF_ERR_MAX]);
/* Maps the file read-only and parses it. */
int inf_gguf_open(const char *path, struct inf_gguf **out, char err[INF_ERR_MAX]);
void inf_gguf_free(struct inf_gguf *g);

const struct inf_gguf_kv *inf_gguf_find(const struct inf_gguf *g, const char *key);
const struct inf_gguf_tensor *inf_gguf_tensor(const struct inf_gguf *g, const char *name);
const char *inf_gguf_type_name(uint32_t type);
/* Typed getters: 0 ok, INF_EINVAL with a message when the key has another
 * type or its value does not fit, 1 when absent (out untouched). Integer
 * getters accept any integer type whose value fits. */
int inf_gguf_get_u32(const struct inf_gguf *g, const char *key, uint32_t *out, char err[INF_ERR_MAX]);
int inf_gguf_get_f64(const struct inf_gguf *g, const char *key, double *out, char err[INF_ERR_MAX]);
int inf_gguf_get_bool(const struct inf_gguf *g, const char *key, bool *out, char err[INF_ERR_MAX]);
int inf_gguf_get_str(const struct inf_gguf *g, const char *key, struct inf_gguf_str *out, char err[INF_ERR_MAX]);

/* ---- GGUF writer (gguf_write.c): used by tests and bench to make models ---- */

struct inf_gguf_writer;
struct inf_gguf_writer *inf_gguf_writer_new(uint32_t version, uint32_t alignment);
void inf_gguf_writer_free(struct inf_gguf_writer *w);
void inf_gguf_w_u32(struct inf_gguf_writer *w, const char *key, uint32_t v);
void inf_gguf_w_i32(struct inf_gguf_writer *w, const char *key, int32_t v);
void inf_gguf_w_f32(struct inf_gguf_writer *w, const char *key, float v);
void inf_gguf_w_bool(struct inf_gguf_writer *w, const char *key, bool v);
void inf_gguf_w_str(struct inf_gguf_writer *w, const char *key, const char *v);
void inf_gguf_w_arr(struct inf_gguf_writer *w, const char *key, uint32_t type, const void *items,
		    uint64_t n);
void inf_gguf_w_arr_str(struct inf_gguf_writer *w, const char *key, const char *const *items,
			uint64_t n);
/* The same with lengths given (strings may hold any bytes, NUL included). */
void inf_gguf_w_arr_strn(struct inf_gguf_writer *w, const char *key, const char *const *items,
			 const uint32_t *lens, uint64_t n);
/* Adds a tensor; data (n_bytes for its type and shape) is copied. */
void inf_gguf_w_tensor(struct inf_gguf_writer *w, const char *name, uint32_t type,
		       uint32_t n_dims, const uint64_t *ne, const void *data);
/* Adds a tensor from floats, quantized to type. */
void inf_gguf_w_tensor_f32(struct inf_gguf_writer *w, const char *name, uint32_t type,
			   uint32_t n_dims, const uint64_t *ne, const float *data);
/* The file image (malloc'd, caller frees) or NULL when out of memory. */
uint8_t *inf_gguf_writer_finish(struct inf_gguf_writer *w, size_t *len);
int inf_gguf_writer_save(struct inf_gguf_writer *w, const char *path);

/* A random-weight model of an architecture for tests and bench; every
 * weight matrix in wtype, norms and biases F32. */
struct inf_test_model_spec {
	const char *arch;             /* "llama" or "qwen2" */
	uint32_t dim, n_layer, n_head, n_head_kv, ffn_dim, n_vocab, n_ctx_train;
	uint32_t wtype;               /* weight matrices */
	uint32_t embd_type;           /* token_embd */
	uint32_t v_down_type;         /* attn_v and ffn_down, as Q4_K_M files do; 0: wtype */
	bool tied;                    /* no output.weight */
	bool rope_freqs;              /* write a rope_freqs tensor */
	float rope_base;
	uint64_t seed;
	bool with_vocab;              /* a byte-level tokenizer section (gpt2 model) */
};
void inf_test_model_spec_default(struct inf_test_model_spec *s);
/* Builds the model into a writer (then finish or save). NULL when out of memory. */
struct inf_gguf_writer *inf_test_model_build(const struct inf_test_model_spec *s);

#endif
