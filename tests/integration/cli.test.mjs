// Command-line behaviour of tetherd and tether.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  daemonFor,
  run,
  childEnv,
  makeTempLayout,
  TETHERD_BIN,
  TETHER_BIN,
} from './lib.mjs';

const T = { timeout: 20000 };

/** A temp layout removed after the test. */
async function layoutFor(t) {
  const l = await makeTempLayout();
  t.after(() => fs.rm(l.tmp, { recursive: true, force: true }));
  return l;
}

/** Runs tetherd expecting it to refuse to start (it is killed if it does not exit in 5 s). */
async function tetherdMustFail(args, home) {
  const r = await run(TETHERD_BIN(), args, { env: childEnv(home), timeoutMs: 5000 });
  assert.ok(!r.timedOut, `tetherd ${args.join(' ')} should exit, but kept running`);
  return r;
}

function deepFind(obj, key) {
  if (obj === null || typeof obj !== 'object') return undefined;
  if (key in obj) return obj[key];
  for (const v of Object.values(obj)) {
    const f = deepFind(v, key);
    if (f !== undefined) return f;
  }
  return undefined;
}

test('tether endpoint --json: url, port, token, pid, version', T, async (t) => {
  const d = await daemonFor(t);
  const r = await run(TETHER_BIN(), ['endpoint', '--json', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(r.code, 0, r.stderr);
  const ep = JSON.parse(r.stdout);
  assert.match(ep.url, /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  assert.ok(Number.isInteger(ep.port) && ep.port > 0 && ep.port < 65536, `port ${ep.port}`);
  assert.equal(ep.url, `ws://127.0.0.1:${ep.port}/ws`);
  assert.match(ep.token, /^[0-9a-f]{64}$/);
  assert.equal(ep.pid, d.proc.pid);
  assert.equal(typeof ep.version, 'string');
  assert.match(ep.version, /^\d+\.\d+\.\d+/);
  assert.equal(ep.socket, path.join(d.rt, 'tetherd.sock'));
  const tokenFile = (await fs.readFile(path.join(d.rt, 'token'), 'utf8')).trim();
  assert.equal(ep.token, tokenFile, 'endpoint token equals the token file');
});

test('tether endpoint (human) prints the url', T, async (t) => {
  const d = await daemonFor(t);
  const r = await run(TETHER_BIN(), ['endpoint', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(d.endpoint.url), `human output contains ${d.endpoint.url}:\n${r.stdout}`);
  assert.throws(() => JSON.parse(r.stdout), 'the human form is not JSON');
});

test('tether status --json and tether status', T, async (t) => {
  const d = await daemonFor(t);
  const j = await run(TETHER_BIN(), ['status', '--json', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(j.code, 0, j.stderr);
  const s = JSON.parse(j.stdout);
  assert.equal(deepFind(s, 'pid'), d.endpoint.pid, `status --json has the daemon pid: ${j.stdout}`);
  assert.equal(deepFind(s, 'version'), d.endpoint.version);
  assert.ok(!j.stdout.includes(d.endpoint.token), 'the token is not part of status');

  const h = await run(TETHER_BIN(), ['status', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(h.code, 0, h.stderr);
  assert.ok(h.stdout.trim().length > 0, 'human status prints something');
  assert.ok(h.stdout.includes(d.endpoint.version), `human status names the version:\n${h.stdout}`);
  assert.throws(() => JSON.parse(h.stdout), 'the human form is not JSON');
  assert.ok(!h.stdout.includes(d.endpoint.token));
});

test('the platform: logged at start, in tether status, and tether doctor sees the live daemon', T, async (t) => {
  const d = await daemonFor(t);
  const j = await run(TETHER_BIN(), ['status', '--json', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(j.code, 0, j.stderr);
  const p = JSON.parse(j.stdout).platform;
  assert.ok(p && typeof p.summary === 'string' && p.summary.length > 0, `status has platform.summary: ${j.stdout}`);
  assert.ok(['native', 'wsl1', 'wsl2', 'unknown'].includes(p.kind), `platform.kind: ${p.kind}`);
  assert.equal(p.gpu.dlopen, 'not-tried', 'tetherd never dlopens libcuda for the summary');
  assert.ok(d.log().includes(`platform: ${p.summary}`), `the log has the platform line:\n${d.log()}`);
  const h = await run(TETHER_BIN(), ['status', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.ok(h.stdout.includes(`platform:    ${p.summary}`), `human status has the platform line:\n${h.stdout}`);

  const doc = await run(TETHER_BIN(), ['doctor', '--json', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  const r = JSON.parse(doc.stdout);
  assert.equal(doc.code, r.exit_code, `doctor's exit code is the one it reports: ${doc.stderr}`);
  assert.equal(r.live, true);
  assert.equal(r.platform.kind, p.kind, 'doctor and status agree on the kind');
  const byId = Object.fromEntries(r.findings.map((f) => [f.id, f]));
  assert.equal(byId['daemon.running'].level, 'ok', JSON.stringify(byId['daemon.running']));
  assert.ok(byId['daemon.running'].message.includes(`pid ${d.endpoint.pid}`));
  assert.equal(byId['daemon.listen'].level, 'ok', JSON.stringify(byId['daemon.listen']));
  assert.ok(byId['daemon.listen'].message.includes(`127.0.0.1:${d.endpoint.port}`));
  assert.equal(byId['daemon.healthz'].level, 'ok', JSON.stringify(byId['daemon.healthz']));
  assert.equal(byId['daemon.runtime_dir'].level, 'ok');
  assert.equal(byId['daemon.token'].level, 'ok');
  assert.ok(!doc.stdout.includes(d.endpoint.token), 'the token is not part of doctor');
});

for (const [name, bin] of [['tetherd', TETHERD_BIN], ['tether', TETHER_BIN]]) {
  test(`${name} --version, --help, --bogus`, T, async (t) => {
    const { rt, home } = await layoutFor(t);
    // tetherd gets a private runtime dir and port 0 in case a flag were ignored and it started
    const pre = name === 'tetherd' ? ['--runtime-dir', rt, '--port', '0'] : [];
    const v = await run(bin(), [...pre, '--version'], { env: childEnv(home), timeoutMs: 5000 });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /\d+\.\d+\.\d+/, `--version prints a version: ${v.stdout}`);

    const h = await run(bin(), [...pre, '--help'], { env: childEnv(home), timeoutMs: 5000 });
    assert.equal(h.code, 0, h.stderr);
    assert.ok(h.stdout.length > 40, `--help prints usage on stdout: ${h.stdout}`);

    const b = await run(bin(), [...pre, '--bogus'], { env: childEnv(home), timeoutMs: 5000 });
    assert.ok(!b.timedOut, `${name} --bogus must exit`);
    assert.equal(b.code, 2, `exit status 2 for an unknown flag (stderr: ${b.stderr})`);
    const lines = b.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr:\n${b.stderr}`);
    assert.ok(lines[0].includes('--bogus'), `stderr names --bogus: ${b.stderr}`);
  });
}

test('tetherd --port 99999 exits 2 naming port', T, async (t) => {
  const { rt, home } = await layoutFor(t);
  const r = await tetherdMustFail(['--runtime-dir', rt, '--port', '99999'], home);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /port/, r.stderr);
  const n = await tetherdMustFail(['--runtime-dir', rt, '--port', 'abc'], home);
  assert.equal(n.code, 2, n.stderr);
  assert.match(n.stderr, /port/, n.stderr);
});

test('config file: unknown key and wrong type exit 2 naming the key', T, async (t) => {
  const { tmp, rt, home } = await layoutFor(t);
  const unknown = path.join(tmp, 'unknown.json');
  await fs.writeFile(unknown, JSON.stringify({ prot: 1 }));
  const r1 = await tetherdMustFail(['--runtime-dir', rt, '--config', unknown], home);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /prot/, r1.stderr);

  const wrong = path.join(tmp, 'wrong.json');
  await fs.writeFile(wrong, JSON.stringify({ port: 'x' }));
  const r2 = await tetherdMustFail(['--runtime-dir', rt, '--config', wrong], home);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /port/, r2.stderr);

  // positive control: a valid config file starts the daemon
  const good = path.join(tmp, 'good.json');
  await fs.writeFile(good, JSON.stringify({ port: 0 }));
  const d = await daemonFor(t, { args: ['--config', good] });
  assert.ok(d.endpoint.port > 0);
});

test('tetherd refuses a runtime dir with mode 0755', T, async (t) => {
  const { tmp, home } = await layoutFor(t);
  const rt = path.join(tmp, 'open-rt');
  await fs.mkdir(rt);
  await fs.chmod(rt, 0o755);
  const r = await tetherdMustFail(['--runtime-dir', rt, '--port', '0'], home);
  assert.notEqual(r.code, 0, 'non-zero exit');
  assert.ok((r.stderr + r.stdout).includes(rt), `the message names the dir ${rt}:\n${r.stderr}`);
  const left = await fs.readdir(rt);
  assert.ok(!left.includes('token') && !left.includes('endpoint.json'), `no token written in the refused dir: ${left}`);
});

test('tether endpoint with no daemon exits 1 with a message', T, async (t) => {
  const { rt, home } = await layoutFor(t);
  const r = await run(TETHER_BIN(), ['endpoint', '--runtime-dir', rt], { env: childEnv(home) });
  assert.equal(r.code, 1, `exit 1 (stdout: ${r.stdout}, stderr: ${r.stderr})`);
  assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
  const j = await run(TETHER_BIN(), ['endpoint', '--json', '--runtime-dir', rt], { env: childEnv(home) });
  assert.equal(j.code, 1);
});

test('a second tetherd on the same runtime dir exits non-zero saying another runs', T, async (t) => {
  const d = await daemonFor(t);
  const r = await tetherdMustFail(['--runtime-dir', d.rt, '--port', '0'], d.home);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /running/i, r.stderr);
  // the first one is unharmed
  const e = await run(TETHER_BIN(), ['endpoint', '--json', '--runtime-dir', d.rt], { env: childEnv(d.home) });
  assert.equal(e.code, 0);
  assert.equal(JSON.parse(e.stdout).pid, d.proc.pid);
  assert.equal(JSON.parse(e.stdout).token, d.endpoint.token, 'the second start did not overwrite the token');
});
