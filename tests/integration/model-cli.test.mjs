// tether model info / tokenize / generate / logits on the random-weight GGUF
// models the project's writer made (tests/fuzz/corpus/fuzz_gguf, written by
// tests/inference/gguf_seeds.c): output shapes, determinism across ISAs and
// thread counts, effective settings, and every bad flag refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, TETHER_BIN } from './lib.mjs';

const T = { timeout: 60000 };
const here = path.dirname(fileURLToPath(import.meta.url));
const models = path.join(here, '..', 'fuzz', 'corpus', 'fuzz_gguf');
const LLAMA = path.join(models, 'llama_f32.gguf');
const QWEN = path.join(models, 'qwen2_bf16_vocab.gguf');
const Q8 = path.join(models, 'llama_q8_0_tied_rope_freqs.gguf');
const VOCAB = path.join(models, 'vocab_only_spm.gguf'); // no tensors, as llama.cpp's ggml-vocab-*.gguf

async function tether(args, opts = {}) {
  return run(TETHER_BIN(), args, { timeoutMs: 30000, ...opts });
}

async function json(args) {
  const r = await tether(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('model info --json describes the file and the memory for --ctx', T, async () => {
  const j = await json(['model', 'info', '--model', Q8, '--json', '--ctx', '128']);
  assert.equal(j.architecture, 'llama');
  assert.equal(j.dim, 32);
  assert.equal(j.n_layer, 1);
  assert.equal(j.n_head, 2);
  assert.equal(j.n_head_kv, 1);
  assert.equal(j.n_vocab, 40);
  assert.equal(j.vocab_only, false);
  assert.equal(j.n_tensors, 12);
  assert.equal(j.tied_output, true);
  assert.equal(j.rope_freqs, true);
  assert.deepEqual(j.tensor_types, { F32: 4, Q8_0: 8 });
  assert.equal(j.n_ctx, 128);
  assert.equal(j.n_ctx_above_trained, false);
  assert.equal((await json(['model', 'info', '--model', Q8, '--json', '--ctx', '300'])).n_ctx_above_trained, true);
  // KV cache alone: 2 (k, v) x 1 layer x 128 positions x 16 halves x 2 bytes (F16 by default)
  assert.equal(j.kv_type, 'f16');
  assert.ok(j.context_bytes > 2 * 128 * 16 * 2);
  // an F32 cache is that much again
  const f32 = await json(['model', 'info', '--model', Q8, '--json', '--ctx', '128', '--kv-type', 'f32']);
  assert.equal(f32.kv_type, 'f32');
  assert.equal(f32.context_bytes - j.context_bytes, 2 * 128 * 16 * 2);
  const text = await tether(['model', 'info', '--model', QWEN]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /architecture +qwen2/);
  assert.match(text.stdout, /chat template +chatml/);
  // the backend chosen at load, and why each other one was not
  assert.equal(j.backend.name, 'cpu');
  assert.ok(['avx512', 'avx2', 'portable'].includes(j.backend.isa));
  assert.deepEqual(j.backend.not_chosen, [{ name: 'cuda', reason: 'not built into this binary' }]);
  assert.match(text.stdout, /backend +cpu \(isa (avx512|avx2|portable)\); not chosen: cuda: not built into this binary/);
});

test('tokenize gives ids and pieces, from --text or stdin alike', T, async () => {
  const a = await json(['tokenize', '--model', QWEN, '--text', 'hello world', '--json']);
  assert.equal(a.ids.length, a.n_tokens);
  assert.equal(a.pieces.join(''), 'hello world');
  const b = await tether(['tokenize', '--model', QWEN], { input: 'hello world' });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout.trim(), a.ids.join(' '));
});

test('logits agree across ISAs and thread counts', T, async () => {
  const base = await json(['logits', '--model', LLAMA, '--ids', '1,2,3,4', '--top', '5', '--json',
    '--isa', 'portable', '--threads', '1']);
  assert.equal(base.top.length, 5);
  assert.deepEqual(base.prompt_ids, [1, 2, 3, 4]);
  for (const isa of ['auto', 'avx2', 'avx512']) {
    for (const threads of ['1', '2', '3']) {
      const r = await tether(['logits', '--model', LLAMA, '--ids', '1,2,3,4', '--top', '5', '--json',
        '--isa', isa, '--threads', threads]);
      if (r.code !== 0 && /not supported by this CPU/.test(r.stderr)) continue;
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.deepEqual(j.top.map((e) => e.id), base.top.map((e) => e.id), `${isa} ${threads}`);
      for (let i = 0; i < 5; i++)
        assert.ok(Math.abs(j.top[i].logit - base.top[i].logit) < 1e-4, `${isa} ${threads}`);
    }
  }
});

test('generate --json: ids, text, effective settings and timings; greedy is repeatable', T, async () => {
  const args = ['generate', '--model', QWEN, '--prompt', 'hello', '--max-tokens', '6', '--temperature',
    '0', '--json', '--threads', '2'];
  const a = await json(args);
  const b = await json(args);
  assert.equal(a.ids.length, 6);
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.stop_reason, 'max_tokens');
  assert.equal(a.settings.temperature, 0);
  assert.equal(a.settings.max_tokens, 6);
  assert.equal(a.settings.threads, 2);
  assert.ok(['avx512', 'avx2', 'portable'].includes(a.settings.isa));
  assert.equal(a.settings.kv_type, 'f16');
  const f32 = await json([...args, '--kv-type', 'f32']);
  assert.equal(f32.settings.kv_type, 'f32');
  for (const k of ['ttft_ms', 'prompt_ms', 'prompt_tokens_per_s', 'gen_ms', 'gen_tokens_per_s'])
    assert.equal(typeof a.timings[k], 'number', k);
  // the same seed samples the same tokens
  const s = ['generate', '--model', QWEN, '--prompt', 'hello', '--max-tokens', '8', '--temperature',
    '1.0', '--seed', '42', '--json'];
  assert.deepEqual((await json(s)).ids, (await json(s)).ids);
  // streamed text is the --json text
  const streamed = await tether(['generate', '--model', QWEN, '--prompt', 'hello', '--max-tokens', '6',
    '--temperature', '0']);
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.equal(Buffer.from(streamed.stdout).length > 0, true);
});

test('generate --chat uses the template; a model without one says so', T, async () => {
  const c = await json(['generate', '--model', QWEN, '--prompt', 'hi', '--chat', '--max-tokens', '2',
    '--temperature', '0', '--json']);
  assert.equal(c.settings.chat_template, 'chatml');
  assert.ok(c.prompt_ids.length > 2);
  const r = await tether(['generate', '--model', LLAMA, '--prompt', 'hi', '--chat']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tokenizer|chat template/);
});

test('a vocabulary-only file: model info and tokenize work, generate and logits say why not', T, async () => {
  const j = await json(['model', 'info', '--model', VOCAB, '--json']);
  assert.equal(j.vocab_only, true);
  assert.equal(j.n_tensors, 0);
  assert.equal(j.n_vocab, 271);
  assert.equal(j.tokenizer, 'llama');
  assert.equal(j.tokenizer_ok, true);
  const info = await tether(['model', 'info', '--model', VOCAB]);
  assert.match(info.stdout, /tensors +none: a vocabulary-only file/);
  // "▁hello" is 269, the user-defined "<|u|>" 270, BOS 1
  assert.deepEqual((await json(['tokenize', '--model', VOCAB, '--text', 'hello hello<|u|>', '--json'])).ids,
    [1, 269, 269, 270]);
  for (const cmd of [['generate', '--prompt', 'hi'], ['logits', '--ids', '1']]) {
    const r = await tether([cmd[0], '--model', VOCAB, ...cmd.slice(1)]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has no tensors \(a vocabulary-only file\)/);
  }
  const c = await tether(['model', 'info', '--model', VOCAB, '--ctx', '64']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--ctx: .* has no weights/);
});

test('every bad flag or value is refused by name', T, async () => {
  const cases = [
    [['model', 'info', '--model', LLAMA, '--bogus'], /unknown option '--bogus'/, 2],
    [['model', 'info'], /--model is required/, 2],
    [['logits', '--model', LLAMA, '--ids', '1', '--to', '3'], /unknown option '--to'/, 2],
    [['generate', '--model', QWEN, '--prompt', 'x', '--top', '3'], /unknown option '--top'/, 2],
    [['model', 'frob'], /unknown subcommand 'frob'/, 2],
    [['logits', '--model', LLAMA, '--ids', '1,x'], /--ids '1,x'/, 2],
    [['logits', '--model', LLAMA], /--prompt or --ids/, 2],
    [['logits', '--model', LLAMA, '--ids', '1', '--threads', '0'], /--threads '0'/, 2],
    [['logits', '--model', LLAMA, '--ids', '1', '--isa', 'sse9'], /--isa 'sse9'/, 2],
    [['logits', '--model', LLAMA, '--ids', '99'], /token id 99/, 1],
    [['logits', '--model', LLAMA, '--ids', '1', '--kv-type', 'q8'], /--kv-type 'q8' is not f16 or f32/, 2],
    [['model', 'info', '--model', LLAMA, '--kv-type', 'F16'], /--kv-type 'F16'/, 2],
    [['logits', '--model', LLAMA, '--ids', '1', '--ctx', '100000'], /n_ctx 100000 .*trained context of 256/, 1],
    [['generate', '--model', QWEN, '--prompt', 'x', '--temperature', '-1'], /temperature/, 1],
    [['generate', '--model', QWEN, '--prompt', 'x', '--top-p', 'abc'], /--top-p needs a number/, 2],
    [['generate', '--model', QWEN, '--prompt', 'x', '--max-tokens', '1000'], /max_tokens 1000/, 1],
    [['generate', '--model', QWEN, '--prompt', 'x', '--system', 's'], /--system needs --chat/, 2],
    [['generate', '--model', QWEN], /--prompt is required/, 2],
    [['tokenize', '--model', '/nonexistent.gguf', '--text', 'x'], /\/nonexistent.gguf/, 1],
    [['tokenize', '--model', path.join(here, 'package.json'), '--text', 'x'], /not a GGUF file/, 1],
  ];
  for (const [args, re, code] of cases) {
    const r = await tether(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});
