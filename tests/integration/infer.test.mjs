// Serving (docs/protocol.md, "Inference"): infer.* against the real daemon with Node's ws, on
// random-weight models written by the project's GGUF writer (tests/infer/infer_models.c):
// listing, loading with progress, streams identical to the in-process `tether generate`,
// concurrency, the queue, the prompt cache, flow control, cancel, and every bad field.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemonFor, connectHello, run, TETHER_BIN, rssBytes, sleep } from './lib.mjs';

const T = { timeout: 60000 };
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-infer-models-'));
const F32 = 'llama-f32';
const Q8 = 'llama-q8_0';
const Q4 = 'qwen2-q4_0';
const BIG = 'big-f32';

before(async () => {
  const bin = process.env.INFER_MODELS_BIN;
  assert.ok(bin, 'INFER_MODELS_BIN is not set (ctest sets it)');
  const r = await run(bin, [DIR], { timeoutMs: 60000 });
  assert.equal(r.code, 0, r.stderr);
});

/** A connection that routes replies by id and events by stream (nothing is dropped). */
class Infer {
  constructor(c) {
    this.c = c;
    this.nextId = 0;
    this.replies = new Map();
    this.streams = new Map();
    this.progress = [];
    this.pump();
  }
  async pump() {
    for (;;) {
      let m;
      try {
        m = await this.c.next(600000);
      } catch {
        for (const s of this.streams.values()) s.wake?.();
        return;
      }
      if (m.id !== undefined && this.replies.has(m.id)) {
        this.replies.get(m.id)(m);
        this.replies.delete(m.id);
      } else if (m.type === 'infer.progress') {
        this.progress.push(m);
      } else if (m.stream !== undefined) {
        const s = this.stream(m.stream);
        s.events.push(m);
        s.wake?.();
      }
    }
  }
  stream(id) {
    if (!this.streams.has(id)) this.streams.set(id, { events: [], wake: null });
    return this.streams.get(id);
  }
  request(msg, timeoutMs = 30000) {
    const id = `r${++this.nextId}`;
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${msg.type} within ${timeoutMs} ms`)), timeoutMs);
      this.replies.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    this.c.send({ ...msg, id });
    return reply;
  }
  /** Waits until pred(events) holds for the stream; returns its events. */
  async until(stream, pred, timeoutMs = 30000) {
    const s = this.stream(stream);
    const deadline = Date.now() + timeoutMs;
    while (!pred(s.events)) {
      if (Date.now() > deadline) throw new Error(`stream ${stream}: condition not met; events ${JSON.stringify(s.events).slice(0, 500)}`);
      await new Promise((resolve) => {
        s.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return s.events;
  }
  /** The stream's whole result once done: {ids, text, done, deltas}. */
  async result(stream, timeoutMs = 30000) {
    const events = await this.until(stream, (ev) => ev.some((e) => e.type === 'infer.done'), timeoutMs);
    const deltas = events.filter((e) => e.type === 'infer.delta');
    return {
      ids: deltas.flatMap((d) => d.ids),
      text: deltas.map((d) => d.text).join(''),
      done: events.find((e) => e.type === 'infer.done'),
      deltas,
    };
  }
  /** Starts a stream (the reply must accept it) and returns its result. */
  async generate(fields, type = 'infer.generate') {
    const r = await this.request({ type, ...fields });
    assert.equal(r.type, type, JSON.stringify(r));
    return this.result(r.stream);
  }
}

async function daemon(t, args = []) {
  const d = await daemonFor(t, { args: ['--models-dir', DIR, '--infer-threads', '1', ...args] });
  const c = await connectHello(d, t);
  return { d, c, inf: new Infer(c) };
}

/** The in-process engine's answer for the same model and settings. */
async function inProcess(model, args) {
  const r = await run(TETHER_BIN(), ['generate', '--model', path.join(DIR, `${model}.gguf`), '--threads', '1',
    '--json', ...args], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertError(m, code, field) {
  assert.equal(m.type, 'error', JSON.stringify(m));
  assert.equal(m.code, code, JSON.stringify(m));
  if (field !== undefined) assert.equal(m.field, field, JSON.stringify(m));
}

test('hello advertises infer; infer.models lists every file, the bad ones with their reason', T, async (t) => {
  fs.writeFileSync(path.join(DIR, 'not-gguf.gguf'), 'this is not a GGUF file\n');
  const whole = fs.readFileSync(path.join(DIR, `${F32}.gguf`));
  fs.writeFileSync(path.join(DIR, 'truncated.gguf'), whole.subarray(0, whole.length - 1000));
  t.after(() => {
    fs.rmSync(path.join(DIR, 'not-gguf.gguf'), { force: true });
    fs.rmSync(path.join(DIR, 'truncated.gguf'), { force: true });
  });
  // a --model file whose id a models-dir file has too: the --model one keeps the id
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-infer-other-'));
  fs.copyFileSync(path.join(DIR, `${F32}.gguf`), path.join(other, `${F32}.gguf`));
  t.after(() => fs.rmSync(other, { recursive: true, force: true }));
  const { d, inf } = await daemon(t, ['--infer-parallel', '3', '--model', path.join(other, `${F32}.gguf`)]);
  const c2 = await connectHello(d, t, { hello: false });
  const hello = await c2.request({ type: 'hello', id: 'h', protocol: 1 });
  assert.equal(hello.capabilities.infer.parallel, 3);
  const list = await inf.request({ type: 'infer.models' });
  assert.equal(list.type, 'infer.models');
  assert.equal(list.models_dir, DIR);
  const byId = Object.fromEntries(list.models.map((m) => [m.id, m]));
  for (const id of [F32, Q8, Q4, BIG]) assert.equal(byId[id].loadable, true, id);
  assert.equal(byId[F32].architecture, 'llama');
  assert.deepEqual(byId[Q8].quantization.sort(), ['F32', 'Q8_0']);
  assert.equal(byId[Q4].architecture, 'qwen2');
  assert.equal(byId[F32].context_trained, 512);
  assert.equal(byId[F32].chat_template, 'llama3');
  assert.equal(byId[F32].loaded, false);
  assert.equal(byId[F32].file, path.join(other, `${F32}.gguf`));
  assert.equal(byId[`${F32}~2`].loadable, false);
  assert.match(byId[`${F32}~2`].reason, /another model has the id "llama-f32"/);
  assert.equal(byId[`${F32}~2`].file, path.join(DIR, `${F32}.gguf`));
  assert.equal(byId['not-gguf'].loadable, false);
  assert.match(byId['not-gguf'].reason, /magic|GGUF/i);
  assert.equal(byId.truncated.loadable, false);
  assert.match(byId.truncated.reason, /truncat|beyond|end of (the )?file|extends/i);
  // loading it is model_load_failed with the loader's reason
  const bad = await inf.request({ type: 'infer.load', model: 'truncated' });
  assertError(bad, 'model_load_failed', 'model');
  assert.match(bad.message, /truncated/);
  assertError(await inf.request({ type: 'infer.load', model: 'nope' }), 'model_not_found', 'model');
  // a model copied in now is there on the next request (no restart)
  fs.copyFileSync(path.join(DIR, `${F32}.gguf`), path.join(DIR, 'copy.gguf'));
  t.after(() => fs.rmSync(path.join(DIR, 'copy.gguf'), { force: true }));
  const again = await inf.request({ type: 'infer.models' });
  assert.ok(again.models.some((m) => m.id === 'copy' && m.loadable));
});

test('with no model tetherd still serves, and says where models go', T, async (t) => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-no-models-'));
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  const d = await daemonFor(t, { args: ['--models-dir', empty] });
  const c = await connectHello(d, t);
  const inf = new Infer(c);
  const list = await inf.request({ type: 'infer.models' });
  assert.deepEqual(list.models, []);
  assert.match(list.hint, /GGUF/);
  const st = await inf.request({ type: 'status' });
  assert.match(st.inference.hint, /models_dir/);
  const pty = await inf.request({ type: 'pty.open', argv: ['/bin/true'] });
  assert.equal(pty.type, 'pty.open', JSON.stringify(pty));
});

test('a load reports progress, and status is answered while the big model loads', T, async (t) => {
  const { inf } = await daemon(t);
  const load = inf.request({ type: 'infer.load', model: BIG, slots: 1, ctx: 64 });
  let loadDone = false;
  load.then(() => (loadDone = true));
  const st = await inf.request({ type: 'status' });
  assert.equal(st.type, 'status');
  const r = await load;
  assert.equal(r.type, 'infer.load', JSON.stringify(r));
  assert.equal(r.loaded, true);
  assert.equal(r.slots, 1);
  assert.equal(r.n_ctx, 64);
  assert.equal(r.backend, 'cpu');
  assert.ok(r.memory_bytes > 140e6 * 0.9, `${r.memory_bytes}`);
  // status came first while loading, unless the load won the race outright
  if (!loadDone) assert.ok(st.inference.loaded.some((m) => m.id === BIG && m.state === 'loading'));
  assert.ok(inf.progress.length >= 2, JSON.stringify(inf.progress));
  const last = inf.progress.at(-1);
  assert.equal(last.model, BIG);
  assert.ok(last.fraction > 0.9 && last.fraction <= 1);
  assert.ok(last.total_bytes > 100e6);
  for (let i = 1; i < inf.progress.length; i++) assert.ok(inf.progress[i].fraction >= inf.progress[i - 1].fraction);
  // loading again with the same settings answers at once; other settings are refused by name
  assert.equal((await inf.request({ type: 'infer.load', model: BIG, slots: 1, ctx: 64 })).loaded, true);
  assertError(await inf.request({ type: 'infer.load', model: BIG, slots: 2 }), 'model_busy', 'model');
  const st2 = await inf.request({ type: 'status' });
  const big = st2.inference.loaded.find((m) => m.id === BIG);
  assert.equal(big.state, 'loaded');
  assert.equal(big.backend.name, 'cpu');
  assert.ok(big.unload_in_s > 200);
  assert.equal((await inf.request({ type: 'infer.unload', model: BIG })).type, 'infer.unload');
});

test('greedy streams are token for token what the in-process tether generate gives (F32, Q8_0, Q4_0)', T, async (t) => {
  const { inf } = await daemon(t);
  for (const model of [F32, Q8, Q4]) {
    const want = await inProcess(model, ['--prompt', 'The quick brown fox', '--temperature', '0', '--max-tokens', '24']);
    const got = await inf.generate({ model, prompt: 'The quick brown fox', temperature: 0, max_tokens: 24 });
    assert.deepEqual(got.ids, want.ids, model);
    assert.equal(got.done.stop_reason, want.stop_reason);
    assert.equal(got.done.usage.prompt_tokens, want.prompt_ids.length);
    assert.equal(got.done.usage.generated_tokens, want.ids.length);
    assert.equal(got.done.settings.temperature, 0);
    assert.equal(got.done.model, model);
    for (const k of ['queue_ms', 'ttft_ms', 'prompt_ms', 'gen_ms', 'gen_tokens_per_s']) assert.equal(typeof got.done.timings[k], 'number', k);
    // every delta's text is whole UTF-8 (a lone byte token is U+FFFD, never a broken frame)
    for (const dl of got.deltas) assert.equal(Buffer.from(dl.text, 'utf8').toString('utf8'), dl.text);
  }
  // chat: the model's template, as `tether generate --chat` renders it
  const want = await inProcess(F32, ['--chat', '--system', 'Be brief.', '--prompt', 'hi there', '--temperature', '0', '--max-tokens', '16']);
  const got = await inf.generate({ model: F32, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi there' }],
    temperature: 0, max_tokens: 16 }, 'infer.chat');
  assert.deepEqual(got.ids, want.ids);
  assert.equal(got.done.settings.chat_template, 'llama3');
});

test('seeded sampling is reproducible and equals the in-process run with that seed', T, async (t) => {
  const { inf } = await daemon(t);
  const p = { model: Q8, prompt: 'Once upon a time', temperature: 0.9, top_k: 50, top_p: 0.9, max_tokens: 20, seed: 1234 };
  const a = await inf.generate(p);
  const b = await inf.generate(p);
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.done.settings.seed, 1234);
  const want = await inProcess(Q8, ['--prompt', 'Once upon a time', '--temperature', '0.9', '--top-k', '50', '--top-p', '0.9',
    '--max-tokens', '20', '--seed', '1234']);
  assert.deepEqual(a.ids, want.ids);
  const other = await inf.generate({ ...p, seed: 99 });
  assert.notDeepEqual(other.ids, a.ids);
  // no seed: one is chosen and reported, so the run can be repeated
  const free = await inf.generate({ ...p, seed: undefined });
  const again = await inf.generate({ ...p, seed: free.done.settings.seed });
  assert.deepEqual(again.ids, free.ids);
  // a seed past 2^52 comes back digit for digit (cJSON alone rounds this one to ...990)
  const high = await inf.generate({ ...p, seed: 9007199254740989, max_tokens: 1 });
  assert.equal(high.done.settings.seed, 9007199254740989);
});

test('4 concurrent greedy streams are each identical to its solo run, and share steps', T, async (t) => {
  const { inf } = await daemon(t, ['--infer-parallel', '4']);
  const prompts = ['alpha beta gamma', 'one two three four five six', 'x', 'The rain in Spain falls mainly'];
  const solo = [];
  for (const prompt of prompts) solo.push((await inf.generate({ model: Q8, prompt, temperature: 0, max_tokens: 40 })).ids);
  // a fresh daemon so that no slot's cache helps
  const { inf: inf2 } = await daemon(t, ['--infer-parallel', '4']);
  const together = await Promise.all(prompts.map((prompt) => inf2.generate({ model: Q8, prompt, temperature: 0, max_tokens: 40 })));
  together.forEach((r, i) => assert.deepEqual(r.ids, solo[i], `stream ${i}`));
  const slots = new Set(together.map((r) => r.done.settings.slot));
  assert.equal(slots.size, 4, 'each stream had its own slot');
});

test('16 requests against 4 slots and a queue of 8: 12 run (the waits are timed), 4 get too_many_streams', T, async (t) => {
  const { inf } = await daemon(t, ['--infer-parallel', '4', '--infer-queue', '8']);
  await inf.request({ type: 'infer.load', model: BIG, ctx: 128 });
  const replies = await Promise.all(Array.from({ length: 16 }, (_, i) =>
    inf.request({ type: 'infer.generate', model: BIG, prompt: `request ${i}`, temperature: 0, max_tokens: 6 })));
  const ok = replies.filter((r) => r.type === 'infer.generate');
  const refused = replies.filter((r) => r.type === 'error');
  assert.equal(ok.length, 12, JSON.stringify(refused));
  assert.equal(refused.length, 4);
  for (const r of refused) assert.equal(r.code, 'too_many_streams');
  const results = await Promise.all(ok.map((r) => inf.result(r.stream, 60000)));
  for (const r of results) assert.equal(r.done.stop_reason, 'max_tokens');
  const waits = results.map((r) => r.done.timings.queue_ms).sort((a, b) => a - b);
  assert.ok(waits.at(-1) > waits[0] + 1, `the queued ones waited: ${waits}`);
  const st = await inf.request({ type: 'status' });
  assert.equal(st.inference.streams.length, 0);
});

test('the prompt cache: a second chat turn evaluates only its new tokens, with the same output', T, async (t) => {
  const { inf } = await daemon(t, ['--infer-parallel', '2']);
  const history = [{ role: 'user', content: 'Tell me about the sea. '.repeat(3) }];
  const first = await inf.generate({ model: BIG, messages: history, temperature: 0, max_tokens: 4 }, 'infer.chat');
  assert.equal(first.done.stop_reason, 'max_tokens', JSON.stringify(first.done));
  assert.equal(first.done.usage.cached_tokens, 0);
  const turn2 = [...history, { role: 'assistant', content: first.text }, { role: 'user', content: 'And the sky?' }];
  const second = await inf.generate({ model: BIG, messages: turn2, temperature: 0, max_tokens: 8 }, 'infer.chat');
  assert.equal(second.done.stop_reason, 'max_tokens', JSON.stringify(second.done));
  assert.ok(second.done.usage.cached_tokens >= first.done.usage.prompt_tokens - 2,
    `cached ${second.done.usage.cached_tokens} of ${second.done.usage.prompt_tokens}`);
  // the same second turn on a daemon with nothing cached: the same tokens
  const { inf: cold } = await daemon(t, ['--infer-parallel', '2']);
  const fresh = await cold.generate({ model: BIG, messages: turn2, temperature: 0, max_tokens: 8 }, 'infer.chat');
  assert.equal(fresh.done.usage.cached_tokens, 0);
  assert.deepEqual(second.ids, fresh.ids);
  assert.ok(second.done.timings.prompt_ms < fresh.done.timings.prompt_ms,
    `prompt ${second.done.timings.prompt_ms} ms with the cache, ${fresh.done.timings.prompt_ms} ms without`);
});

test('flow control: a stream sends its credit, pauses, and goes on when granted more', T, async (t) => {
  const { inf } = await daemon(t);
  const solo = await inf.generate({ model: F32, prompt: 'credit', temperature: 0, max_tokens: 30 });
  const r = await inf.request({ type: 'infer.generate', model: F32, prompt: 'credit', temperature: 0, max_tokens: 30, credit: 5 });
  await inf.until(r.stream, (ev) => ev.length >= 5);
  await sleep(300);
  assert.equal(inf.stream(r.stream).events.length, 5, 'no delta past the credit');
  const st = await inf.request({ type: 'status' });
  const s = st.inference.streams.find((x) => x.stream === r.stream);
  assert.equal(s.state, 'paused');
  assert.equal(s.generated, 5);
  // another stream on the same model goes on meanwhile
  const other = await inf.generate({ model: F32, prompt: 'meanwhile', temperature: 0, max_tokens: 10 });
  assert.equal(other.done.stop_reason, 'max_tokens');
  assert.equal((await inf.request({ type: 'infer.credit', stream: r.stream, deltas: 100 })).type, 'infer.credit');
  const res = await inf.result(r.stream);
  assert.deepEqual(res.ids, solo.ids);
});

test('cancel stops a stream within a token, and frees its slot at once', T, async (t) => {
  const { inf } = await daemon(t, ['--infer-parallel', '1']);
  await inf.request({ type: 'infer.load', model: BIG, ctx: 256 });
  const r = await inf.request({ type: 'infer.generate', model: BIG, prompt: 'go on and on', temperature: 0, max_tokens: 200 });
  await inf.until(r.stream, (ev) => ev.length >= 2);
  const cancel = await inf.request({ type: 'infer.cancel', stream: r.stream });
  assert.equal(cancel.type, 'infer.cancel');
  const res = await inf.result(r.stream);
  assert.equal(res.done.stop_reason, 'cancelled');
  assert.ok(res.done.usage.generated_tokens < 200);
  // the only slot is free: the next stream starts without waiting
  const next = await inf.generate({ model: BIG, prompt: 'next', temperature: 0, max_tokens: 2 });
  assert.equal(next.done.stop_reason, 'max_tokens');
  assert.ok(next.done.timings.queue_ms < 100, `${next.done.timings.queue_ms}`);
  assertError(await inf.request({ type: 'infer.cancel', stream: r.stream }), 'unknown_stream', 'stream');
});

test('a connection dropped mid-stream cancels it: slots and memory come back', T, async (t) => {
  const { d, inf } = await daemon(t, ['--infer-parallel', '2']);
  await inf.request({ type: 'infer.load', model: BIG, ctx: 256 });
  await inf.generate({ model: BIG, prompt: 'warm up', temperature: 0, max_tokens: 4 });
  const rss0 = rssBytes(d.pid);
  for (let round = 0; round < 5; round++) {
    const c2 = await connectHello(d, t);
    const other = new Infer(c2);
    const r = await other.request({ type: 'infer.generate', model: BIG, prompt: `drop ${round}`, temperature: 0, max_tokens: 200 });
    await other.until(r.stream, (ev) => ev.length >= 1);
    await c2.terminate();
  }
  for (let i = 0; i < 50; i++) {
    const st = await inf.request({ type: 'status' });
    if (st.inference.streams.length === 0 && st.inference.loaded[0].streams_active === 0) break;
    await sleep(100);
  }
  const st = await inf.request({ type: 'status' });
  assert.equal(st.inference.streams.length, 0);
  assert.equal(st.inference.loaded[0].streams_active, 0);
  const rss1 = rssBytes(d.pid);
  assert.ok(rss1 - rss0 < 8 << 20, `RSS grew by ${rss1 - rss0} bytes`);
  const after = await inf.generate({ model: BIG, prompt: 'still here', temperature: 0, max_tokens: 2 });
  assert.equal(after.done.stop_reason, 'max_tokens');
});

test('memory and context limits are refused with the numbers', T, async (t) => {
  const { inf } = await daemon(t, ['--infer-max-memory', '50']);
  const big = await inf.request({ type: 'infer.load', model: BIG });
  assertError(big, 'insufficient_memory', 'model');
  assert.match(big.message, /needs \d+ MiB \(weights \d+ MiB, KV cache and scratch \d+ MiB for 4 slots of n_ctx \d+\), but 50 MiB/);
  // a prompt longer than a slot's context: the stream ends with context_exceeded
  await inf.request({ type: 'infer.load', model: F32, ctx: 16 });
  const long = await inf.generate({ model: F32, prompt: 'many words in this prompt that is far too long for sixteen tokens', max_tokens: 4 });
  assert.equal(long.done.stop_reason, 'error');
  assert.equal(long.done.error.code, 'context_exceeded');
  assert.match(long.done.error.message, /the prompt is \d+ tokens, a slot's context \(n_ctx\) is 16/);
  const full = await inf.generate({ model: F32, prompt: 'hi', temperature: 0, max_tokens: 16, repeat_last_n: 8 });
  // the random model may pick its end-of-text token first; otherwise the slot's context ends it
  assert.ok(['context', 'eos'].includes(full.done.stop_reason), JSON.stringify(full.done));
  if (full.done.stop_reason === 'context') assert.equal(full.done.usage.prompt_tokens + full.done.usage.generated_tokens, 17);
  // unload: refused while a stream runs? here it is idle
  assert.equal((await inf.request({ type: 'infer.unload', model: F32 })).type, 'infer.unload');
});

test('every bad field is an error that names it; unknown fields too', T, async (t) => {
  const { inf } = await daemon(t);
  const base = { type: 'infer.generate', model: F32, prompt: 'x' };
  const cases = [
    [{ prompt: 5 }, 'prompt'],
    [{ temperature: -1 }, 'temperature'],
    [{ temperature: 'hot' }, 'temperature'],
    [{ top_k: 1.5 }, 'top_k'],
    [{ top_k: 100000 }, 'top_k'],
    [{ top_p: 0 }, 'top_p'],
    [{ min_p: 1 }, 'min_p'],
    [{ repeat_penalty: 0 }, 'repeat_penalty'],
    [{ repeat_last_n: -1 }, 'repeat_last_n'],
    [{ frequency_penalty: 3 }, 'frequency_penalty'],
    [{ presence_penalty: -3 }, 'presence_penalty'],
    [{ seed: -1 }, 'seed'],
    [{ max_tokens: 0 }, 'max_tokens'],
    [{ logprobs: 21 }, 'logprobs'],
    [{ credit: 0 }, 'credit'],
    [{ stop: 3 }, 'stop'],
    [{ stop: [''] }, 'stop'],
    [{ stop: Array(9).fill('a') }, 'stop'],
    [{ model: 3 }, 'model'],
    [{ slots: 0 }, 'slots'],
    [{ ctx: -5 }, 'ctx'],
    [{ kv_type: 'q8' }, 'kv_type'],
    [{ backend: 'cuda' }, 'backend'],
  ];
  for (const [fields, name] of cases) {
    const m = await inf.request({ ...base, ...fields });
    assertError(m, 'invalid_field', name);
  }
  assertError(await inf.request({ ...base, temprature: 0.5 }), 'unknown_field', 'temprature');
  assertError(await inf.request({ type: 'infer.generate', model: F32 }), 'missing_field', 'prompt');
  assertError(await inf.request({ type: 'infer.generate', prompt: 'x' }), 'missing_field', 'model');
  assertError(await inf.request({ type: 'infer.chat', model: F32 }), 'missing_field', 'messages');
  assertError(await inf.request({ type: 'infer.chat', model: F32, messages: [] }), 'invalid_field', 'messages');
  assertError(await inf.request({ type: 'infer.chat', model: F32, messages: [{ role: 'robot', content: 'x' }] }), 'invalid_field', 'messages[0]');
  assertError(await inf.request({ type: 'infer.chat', model: F32, messages: [{ role: 'user', content: 'x', name: 'n' }] }), 'invalid_field', 'messages[0]');
  assertError(await inf.request({ type: 'infer.chat', model: F32, prompt: 'x', messages: [{ role: 'user', content: 'x' }] }), 'unknown_field', 'prompt');
  assertError(await inf.request({ type: 'infer.cancel', stream: 12345 }), 'unknown_stream', 'stream');
  assertError(await inf.request({ type: 'infer.credit', stream: 1 }), 'missing_field', 'deltas');
  // logprobs: the chosen token's and the top k, normalized
  const lp = await inf.generate({ model: F32, prompt: 'x', temperature: 0, max_tokens: 3, logprobs: 5 });
  for (const dl of lp.deltas.filter((x) => x.ids.length)) {
    assert.equal(dl.logprobs[0].top.length, 5);
    assert.equal(dl.logprobs[0].top[0].id, dl.ids[0], 'greedy picks the most likely');
    assert.ok(dl.logprobs[0].logprob <= 0);
  }
  // the daemon is fine after all that
  assert.equal((await inf.request({ type: 'status' })).type, 'status');
});
