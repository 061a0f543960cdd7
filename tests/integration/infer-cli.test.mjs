// The CLI's side of serving (docs/inference.md, "From the command line, through tetherd"):
// `tether generate --daemon` against a real tetherd gives what the in-process `tether generate`
// gives (F32, Q8_0, --chat, a seed), streams and grants credit past the first 256 deltas, shows
// the load's progress, cancels on Ctrl-C; `tether models` and `tether status` show what tetherd
// knows and holds; every flag that cannot apply is refused by name; no tetherd: a clear error.
// Models: tests/infer/infer_models.c (INFER_MODELS_BIN), random weights, byte-level vocabulary.
import { test, before, after as afterAll } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemonFor, run, childEnv, makeTempLayout, TETHER_BIN, sleep, after } from './lib.mjs';

const T = { timeout: 60000 };
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-infer-cli-'));
const MODELS = ['big-f32', 'llama-f32', 'llama-q8_0', 'qwen2-q4_0'];

before(async () => {
  const bin = process.env.INFER_MODELS_BIN;
  assert.ok(bin, 'INFER_MODELS_BIN is not set (ctest sets it)');
  const r = await run(bin, [DIR], { timeoutMs: 60000 });
  assert.equal(r.code, 0, r.stderr);
});
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

async function daemon(t, dir = DIR, args = []) {
  return daemonFor(t, { args: ['--models-dir', dir, '--infer-threads', '1', ...args] });
}

/** `tether ARGS --runtime-dir d.rt` with d's HOME. */
function cli(d, args, opts = {}) {
  return run(TETHER_BIN(), [...args, '--runtime-dir', d.rt], { env: childEnv(d.home), timeoutMs: 30000, ...opts });
}

async function cliJson(d, args) {
  const r = await cli(d, args);
  assert.equal(r.code, 0, `tether ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function inProcess(model, args) {
  const r = await run(TETHER_BIN(), ['generate', '--model', path.join(DIR, `${model}.gguf`), '--threads', '1',
    '--json', ...args], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The members both print, with the same meaning. */
function comparable(j) {
  const s = j.settings;
  return {
    text: j.text,
    ids: j.ids,
    stop_reason: j.stop_reason,
    settings: {
      chat: s.chat, chat_template: s.chat_template, max_tokens: s.max_tokens, temperature: s.temperature,
      top_k: s.top_k, top_p: s.top_p, min_p: s.min_p, repeat_penalty: s.repeat_penalty,
      repeat_last_n: s.repeat_last_n, frequency_penalty: s.frequency_penalty,
      presence_penalty: s.presence_penalty, seed: s.seed, stop: s.stop, n_ctx: s.n_ctx, threads: s.threads,
      isa: s.isa, kv_type: s.kv_type,
    },
  };
}

test('generate --daemon --json gives the in-process ids and text (F32, Q8_0, --chat)', T, async (t) => {
  const d = await daemon(t);
  for (const model of ['llama-f32', 'llama-q8_0']) {
    const args = ['--prompt', 'The quick brown fox', '--temperature', '0', '--max-tokens', '16', '--seed', '3'];
    const want = await inProcess(model, args);
    // by id, and by the path of the file (its name without .gguf)
    for (const name of [model, path.join(DIR, `${model}.gguf`)]) {
      const got = await cliJson(d, ['generate', '--daemon', '--model', name, '--json', ...args]);
      assert.deepEqual(comparable(got), comparable(want), model);
      assert.equal(got.prompt_ids, undefined, 'the daemon sends no prompt ids: the member is left out');
      assert.equal(got.model, model);
      assert.equal(got.usage.generated_tokens, 16);
      assert.equal(got.usage.prompt_tokens, want.prompt_ids.length);
      for (const k of ['ttft_ms', 'prompt_ms', 'prompt_tokens_per_s', 'gen_ms', 'gen_tokens_per_s', 'queue_ms']) {
        assert.equal(typeof got.timings[k], 'number', k);
      }
    }
  }
  for (const model of ['llama-f32', 'qwen2-q4_0']) {
    const args = ['--chat', '--system', 'Be brief.', '--prompt', 'hi there', '--temperature', '0', '--max-tokens', '16',
      '--seed', '3'];
    const want = await inProcess(model, args);
    const got = await cliJson(d, ['generate', '--daemon', '--model', model, '--json', ...args]);
    assert.deepEqual(comparable(got), comparable(want), `${model} --chat`);
    assert.equal(got.settings.chat, true);
    const user = await cliJson(d, ['generate', '--daemon', '--model', model, '--json', '--chat', '--prompt', 'hi there',
      '--temperature', '0', '--max-tokens', '8']);
    const userWant = await inProcess(model, ['--chat', '--prompt', 'hi there', '--temperature', '0', '--max-tokens', '8']);
    assert.deepEqual(user.ids, userWant.ids, `${model} --chat without --system`);
  }
  // the text as it streams: the in-process text (each invalid UTF-8 byte a U+FFFD, as in its
  // --json: the protocol carries JSON strings), then a newline
  const args = ['--prompt', 'The quick brown fox', '--temperature', '0', '--max-tokens', '24'];
  const want = await inProcess('llama-f32', args);
  const b = await cli(d, ['generate', '--daemon', '--model', 'llama-f32', ...args]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout, `${want.text}\n`);
});

test('a seeded run is reproducible and equals the in-process run with that seed', T, async (t) => {
  const d = await daemon(t);
  const args = ['--prompt', 'Once upon a time', '--temperature', '0.8', '--seed', '7', '--max-tokens', '20',
    '--top-k', '50', '--top-p', '0.9', '--min-p', '0.01', '--repeat-penalty', '1.1', '--repeat-last-n', '16',
    '--frequency-penalty', '0.2', '--presence-penalty', '0.1'];
  const want = await inProcess('llama-q8_0', args);
  const a = await cliJson(d, ['generate', '--daemon', '--model', 'llama-q8_0', '--json', ...args]);
  const b = await cliJson(d, ['generate', '--daemon', '--model', 'llama-q8_0', '--json', ...args]);
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(comparable(a), comparable(want));
  assert.equal(a.settings.seed, 7);
  assert.equal(a.settings.top_k, 50);
  assert.equal(a.settings.frequency_penalty, 0.2);
  // no --seed: tetherd picks one and reports it, and that seed repeats the run
  const free = await cliJson(d, ['generate', '--daemon', '--model', 'llama-q8_0', '--json',
    ...args.filter((x, i) => x !== '--seed' && args[i - 1] !== '--seed')]);
  const again = await cliJson(d, ['generate', '--daemon', '--model', 'llama-q8_0', '--json',
    ...args.filter((x, i) => x !== '--seed' && args[i - 1] !== '--seed'), '--seed', String(free.settings.seed)]);
  assert.deepEqual(again.ids, free.ids);
  // stop strings cut the text as in process
  const stopArgs = ['--prompt', 'The quick brown fox', '--temperature', '0', '--max-tokens', '24', '--seed', '1'];
  const full = await inProcess('llama-f32', stopArgs);
  const cut = /[A-Za-z]{2,3}/.exec(full.text.slice(1))?.[0];
  assert.ok(cut, `no ASCII letters in ${JSON.stringify(full.text)}`);
  const s1 = await inProcess('llama-f32', [...stopArgs, '--stop', cut, '--stop', 'zzzz']);
  const s2 = await cliJson(d, ['generate', '--daemon', '--model', 'llama-f32', '--json', ...stopArgs, '--stop', cut,
    '--stop', 'zzzz']);
  assert.equal(s2.stop_reason, 'stop');
  assert.deepEqual(comparable(s2), comparable(s1));
});

test('more deltas than one grant of credit: all of them come, as in process', T, async (t) => {
  const d = await daemon(t);
  const args = ['--prompt', 'hello', '--temperature', '0', '--max-tokens', '300', '--seed', '1'];
  const want = await inProcess('llama-f32', args);
  assert.equal(want.ids.length, 300);
  const got = await cliJson(d, ['generate', '--daemon', '--model', 'llama-f32', '--json', ...args]);
  assert.deepEqual(got.ids, want.ids);
  assert.equal(got.stop_reason, 'max_tokens');
});

test('the load shows its progress on stderr; status --json and status show the model loaded', T, async (t) => {
  const d = await daemon(t);
  const r = await cli(d, ['generate', '--daemon', '--model', 'big-f32', '--prompt', 'hi', '--temperature', '0',
    '--max-tokens', '4']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /loading big-f32: 0%/);
  // a load from the page cache can be over before the loop sees a percent between 0 and 100
  const shown = [...r.stderr.matchAll(/loading big-f32: (\d+)%/g)].map((m) => Number(m[1]));
  assert.equal(shown.at(-1), 100, r.stderr);
  for (let i = 1; i < shown.length; i++) assert.ok(shown[i] > shown[i - 1], r.stderr);
  assert.match(r.stderr, /loading big-f32: 100%/);
  assert.ok(!r.stdout.includes('loading'), 'progress stays off stdout');
  const st = await cliJson(d, ['status', '--json']);
  assert.equal(st.inference.models_dir, DIR);
  assert.equal(st.inference.models_known, 4);
  const m = st.inference.loaded.find((x) => x.id === 'big-f32');
  assert.ok(m, JSON.stringify(st.inference));
  assert.equal(m.state, 'loaded');
  assert.equal(m.backend.name, 'cpu');
  assert.equal(m.threads, 1);
  assert.ok(m.memory_bytes > 100e6);
  assert.deepEqual(st.inference.streams, []);
  const text = await cli(d, ['status']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /inference: +4 models known, 1 loaded, 0 streams \(models dir /);
  assert.match(text.stdout, /big-f32: [\d.]+ MiB, cpu\/\w+, 1 thread, 4 slots of n_ctx 256 \(kv f16\); streams 0 active, 0 queued; idle, unloads in \d+ s/);
});

test('Ctrl-C cancels the stream, prints what came and exits 130; tetherd goes on', T, async (t) => {
  const d = await daemon(t);
  const load = await cli(d, ['generate', '--daemon', '--model', 'big-f32', '--prompt', 'x', '--max-tokens', '1']);
  assert.equal(load.code, 0, load.stderr);
  for (const json of [false, true]) {
    let cancelled = 0;
    for (let round = 0; round < 3; round++) {
      const child = spawn(TETHER_BIN(), ['generate', '--daemon', '--model', 'big-f32', '--prompt', 'hello', '--temperature',
        '0', '--max-tokens', '250', '--runtime-dir', d.rt, ...(json ? ['--json'] : [])], { env: childEnv(d.home) });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (x) => (out += x));
      child.stderr.setEncoding('utf8').on('data', (x) => (err += x));
      const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      // text: once some of it came; json (nothing is printed before the end): once tetherd has
      // the stream, so the CLI's handler is in place (it is set before the request is sent;
      // a slow start under ASan otherwise meets SIGINT's default action), then a moment more
      let ended = false;
      exited.then(() => (ended = true));
      const start = Date.now();
      if (json) {
        while (!ended && Date.now() - start < 20000 &&
          !(await cliJson(d, ['status', '--json'])).inference.streams.length) await sleep(10);
      }
      const waitFrom = Date.now();
      while (json ? Date.now() - waitFrom < 50 + 100 * round : out.length === 0) {
        if (Date.now() - start > 20000) break;
        await sleep(10);
      }
      child.kill('SIGINT');
      const { code } = await Promise.race([exited, after(20000, { code: 'timeout' })]);
      if (code === 0) continue; // it ended before the signal: nothing to cancel
      assert.equal(code, 130, err);
      cancelled++;
      if (json) {
        const j = JSON.parse(out);
        assert.equal(j.stop_reason, 'cancelled');
        assert.ok(j.ids.length < 250);
        assert.equal(j.usage.generated_tokens, j.ids.length);
      } else {
        assert.ok(out.length > 0);
      }
    }
    assert.ok(cancelled > 0, `no run was still going at Ctrl-C (json ${json})`);
  }
  const st = await cliJson(d, ['status', '--json']);
  assert.deepEqual(st.inference.streams, []);
  const after2 = await cli(d, ['generate', '--daemon', '--model', 'llama-f32', '--prompt', 'hi', '--max-tokens', '4']);
  assert.equal(after2.code, 0, after2.stderr);
});

test('tether models --json and tether models: the four, a truncated file with its reason, the hint when empty', T, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-infer-cli-trunc-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const m of MODELS) fs.symlinkSync(path.join(DIR, `${m}.gguf`), path.join(dir, `${m}.gguf`));
  const d = await daemon(t, dir);
  const j = await cliJson(d, ['models', '--json']);
  assert.equal(j.models_dir, dir);
  assert.deepEqual(j.models.map((m) => m.id), MODELS);
  for (const m of j.models) {
    assert.equal(m.loadable, true, JSON.stringify(m));
    assert.equal(m.state, 'unloaded');
    assert.equal(typeof m.architecture, 'string');
    assert.ok(Array.isArray(m.quantization));
  }
  const whole = fs.readFileSync(path.join(DIR, 'llama-f32.gguf'));
  fs.writeFileSync(path.join(dir, 'cut.gguf'), whole.subarray(0, whole.length >> 1));
  const j2 = await cliJson(d, ['models', '--json']);
  const cut = j2.models.find((m) => m.id === 'cut');
  assert.ok(cut, JSON.stringify(j2.models.map((m) => m.id)));
  assert.equal(cut.loadable, false);
  assert.ok(cut.reason.length > 0);
  const text = await cli(d, ['models']);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.match(lines[0], /^ID +STATE +SIZE +ARCH +QUANT +CONTEXT +CHAT$/);
  assert.ok(lines.some((l) => /^llama-q8_0 +unloaded +\d+ KiB +llama +F32,Q8_0 +512 +llama3$/.test(l)), text.stdout);
  assert.ok(lines.some((l) => /^qwen2-q4_0 +unloaded .* qwen2 +F32,Q4_0 +512 +chatml$/.test(l)), text.stdout);
  const i = lines.findIndex((l) => l.startsWith('cut '));
  assert.match(lines[i], /^cut +unloadable +\d+ KiB +- +- +- +-$/);
  assert.equal(lines[i + 1], `    reason: ${cut.reason}`);
  assert.match(text.stdout, new RegExp(`models dir: ${dir}\n$`));
  // generating from it says why it cannot load
  const g = await cli(d, ['generate', '--daemon', '--model', 'cut', '--prompt', 'hi']);
  assert.equal(g.code, 1);
  assert.ok(g.stderr.includes(cut.reason), g.stderr);

  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-infer-cli-empty-'));
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  const e = await daemon(t, empty);
  const none = await cli(e, ['models']);
  assert.equal(none.code, 0, none.stderr);
  assert.ok(none.stdout.includes(`put a GGUF file in ${empty}`), none.stdout);
  assert.match(none.stdout, /\/mnt\/c.*9P/s);
  assert.deepEqual((await cliJson(e, ['models', '--json'])).models, []);
  const st = await cli(e, ['status']);
  assert.match(st.stdout, /inference: +0 models known/);
  assert.match(st.stdout, /no models: put a GGUF file in models_dir/);
});

test('every flag that cannot apply is refused by name; tetherd refusals name the flag', T, async (t) => {
  const d = await daemon(t);
  const base = ['generate', '--daemon', '--model', 'llama-f32', '--prompt', 'hi'];
  const usage = [
    [['--isa', 'avx2'], '--isa'],
    [Array.from({ length: 9 }, (_, i) => ['--stop', `s${i}`]).flat(), '--stop'],
    [['--stop', 'x'.repeat(257)], '--stop'],
    [['--seed', '9007199254740992'], '--seed'],
    [['--system', 'x'], '--system'],
  ];
  for (const [extra, flag] of usage) {
    const r = await cli(d, [...base, ...extra]);
    assert.equal(r.code, 2, `${extra.slice(0, 2).join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.includes(flag), r.stderr);
  }
  // --runtime-dir without --daemon: the in-process run has no tetherd to name
  const rd = await run(TETHER_BIN(), ['generate', '--model', path.join(DIR, 'llama-f32.gguf'), '--prompt', 'hi',
    '--runtime-dir', d.rt]);
  assert.equal(rd.code, 2);
  assert.match(rd.stderr, /--runtime-dir needs --daemon/);
  // --daemon is generate's alone
  const tok = await run(TETHER_BIN(), ['tokenize', '--model', path.join(DIR, 'llama-f32.gguf'), '--daemon']);
  assert.equal(tok.code, 2);
  assert.match(tok.stderr, /unknown option '--daemon'/);
  const refused = [
    [['--top-k', '100000'], '--top-k'],
    [['--max-tokens', '600'], '--max-tokens'],
    [['--kv-type', 'f32'], '--kv-type'],
    [['--ctx', '2000000'], '--ctx'],
  ];
  for (const [extra, flag] of refused) {
    const r = await cli(d, [...base, ...extra]);
    assert.equal(r.code, 1, `${extra.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.includes(flag), `${extra.join(' ')}: ${r.stderr}`);
  }
  const unknown = await cli(d, ['generate', '--daemon', '--model', 'nope', '--prompt', 'hi']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no model "nope"/);
  assert.match(unknown.stderr, /tether models/);
  const tooLong = await cli(d, ['generate', '--daemon', '--model', 'qwen2-q4_0', '--ctx', '64', '--prompt',
    'many words in this prompt that is far too long for 64 '.repeat(4)]);
  assert.equal(tooLong.code, 1, tooLong.stderr);
  assert.match(tooLong.stderr, /n_ctx\) is 64/);
  const mu = await cli(d, ['models', '--bogus']);
  assert.equal(mu.code, 2);
  assert.match(mu.stderr, /unknown option '--bogus'/);
});

test('no tetherd: generate --daemon, models and status say so', T, async () => {
  const { rt, home } = await makeTempLayout();
  const env = childEnv(home);
  for (const args of [['generate', '--daemon', '--model', 'llama-f32', '--prompt', 'hi'], ['models'], ['models', '--json']]) {
    const r = await run(TETHER_BIN(), [...args, '--runtime-dir', rt], { env });
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /tetherd is not running for this user/);
    assert.match(r.stderr, /start it with `tetherd` or `tether connect`/);
    assert.equal(r.stdout, '');
  }
});

test('tether doctor says where models go, and names a model that cannot load', T, async (t) => {
  const findings = async (d) => {
    const r = await cli(d, ['doctor', '--json']);
    return JSON.parse(r.stdout).findings.filter((f) => f.id.startsWith('infer.'));
  };
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-doctor-models-'));
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  const none = await findings(await daemon(t, empty));
  assert.equal(none.length, 1, JSON.stringify(none));
  assert.equal(none[0].level, 'ok');
  assert.ok(none[0].message.includes(`put a GGUF file in ${empty}`), none[0].message);
  fs.writeFileSync(path.join(empty, 'broken.gguf'), 'GGUF but not really');
  fs.copyFileSync(path.join(DIR, 'llama-f32.gguf'), path.join(empty, 'fine.gguf'));
  const some = await findings(await daemon(t, empty));
  const summary = some.find((f) => f.id === 'infer.models');
  assert.match(summary.message, /^2 models in .* 1 loadable$/);
  const bad = some.find((f) => f.id === 'infer.model');
  assert.equal(bad.level, 'warn');
  assert.match(bad.message, /^model broken cannot be loaded: /);
});
