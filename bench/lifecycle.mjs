// Lifecycle figures (issue 6), run by bench/lifecycle:
//   1. cold start to READY=1: spawn tetherd (no model, a fresh runtime dir, --port 0) with
//      NOTIFY_SOCKET pointing at tests/systemd/notify_listener; time from spawn() to the
//      datagram's arrival. The floor, interleaved with it: bench/ready_floor.c, which only
//      sends READY=1 and exits, timed the same way (so Node's spawn cost is in both).
//   2. back in service after kill -9 under `tether anchor` (supervise mode): from the kill to
//      the first 200 from GET /healthz on the new daemon's port. A fresh anchor each time, so
//      every figure is a first retry (a second kill within 30 s waits 200 ms, and so on).
// Prints a report on stdout; with --json FILE also appends one JSON line per figure there.
// Options: --tetherd --tether --notify-listener --floor (paths), --reps-ready N (20),
// --reps-restart N (10).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, quantile, sleep } from './lib.mjs';

const args = parseArgs();
const need = (k) => {
  if (!args[k]) throw new Error(`--${k} is required`);
  return args[k];
};
const tetherd = need('tetherd');
const tether = need('tether');
const listenerBin = need('notify-listener');
const floorBin = need('floor');
const repsReady = Number(args['reps-ready'] ?? 20);
const repsRestart = Number(args['reps-restart'] ?? 10);
const jsonOut = args.json;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-bench-life-'));
const killOnExit = new Set();
process.on('exit', () => {
  for (const p of killOnExit) {
    try {
      p.kill('SIGKILL');
    } catch {}
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(1));

// ---- the notify listener: one JSON line per datagram ----
const sock = path.join(tmp, 'notify.sock');
const listener = spawn(listenerBin, [sock], { stdio: ['ignore', 'pipe', 'inherit'] });
killOnExit.add(listener);
const waiters = new Map(); // pid -> resolve(at)
const early = new Map(); // pid -> at, for READY before anyone waits
let buf = '';
let listening;
const isListening = new Promise((r) => (listening = r));
listener.stdout.setEncoding('utf8');
listener.stdout.on('data', (d) => {
  const at = performance.now();
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m.listening) listening();
    else if (m.fields.includes('READY=1')) {
      const w = waiters.get(m.pid);
      if (w) w(at);
      else early.set(m.pid, at);
    }
  }
});
await isListening;

function readyOf(pid, timeoutMs = 10000) {
  if (early.has(pid)) return Promise.resolve(early.get(pid));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY=1 from pid ${pid}`)), timeoutMs);
    waiters.set(pid, (at) => {
      clearTimeout(timer);
      waiters.delete(pid);
      resolve(at);
    });
  });
}

function exited(p) {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
}

async function timeReady(file, argv, env) {
  const t0 = performance.now();
  const p = spawn(file, argv, { env: { ...process.env, ...env, NOTIFY_SOCKET: sock }, stdio: 'ignore' });
  killOnExit.add(p);
  const at = await readyOf(p.pid);
  const ms = at - t0;
  if (p.exitCode === null) p.kill('SIGTERM');
  await exited(p);
  killOnExit.delete(p);
  return ms;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p90: quantile(s, 0.9), min: s[0], max: s.at(-1), n: s.length };
};

// ---- 1. cold start to READY, interleaved with the floor ----
const ready = [];
const floor = [];
for (let i = 0; i < repsReady; i++) {
  const rt = path.join(tmp, `rt-${i}`);
  fs.mkdirSync(rt, { mode: 0o700 });
  floor.push(await timeReady(floorBin, [], {}));
  ready.push(
    await timeReady(tetherd, ['--runtime-dir', rt, '--port', '0', '--log-file', path.join(tmp, `tetherd-${i}.log`)], {
      HOME: tmp,
    }),
  );
}

// ---- 2. kill -9 under the anchor → healthz answers ----
function healthz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
function readJson(f) {
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch {
    return null;
  }
}
async function until(fn, timeoutMs, what) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(1);
  }
}

const restart = [];
for (let i = 0; i < repsRestart; i++) {
  const rt = path.join(tmp, `art-${i}`);
  fs.mkdirSync(rt, { mode: 0o700 });
  const anchorJson = path.join(rt, 'anchor.json');
  const a = spawn(tether, ['anchor', '--runtime-dir', rt, '--log-file', path.join(tmp, `anchor-${i}.log`), '--', '--port', '0'], {
    env: { ...process.env, HOME: tmp, XDG_STATE_HOME: path.join(tmp, 'state') },
    stdio: 'ignore',
  });
  killOnExit.add(a);
  const s = await until(() => readJson(anchorJson)?.state === 'running' && readJson(anchorJson), 10000, 'anchor running');
  const old = s.daemon_pid;
  const t0 = performance.now();
  process.kill(old, 'SIGKILL');
  await until(
    async () => {
      const ep = readJson(path.join(rt, 'endpoint.json'));
      return ep && ep.pid !== old && (await healthz(ep.port));
    },
    10000,
    'healthz from the new daemon',
  );
  restart.push(performance.now() - t0);
  a.kill('SIGTERM');
  await exited(a);
  killOnExit.delete(a);
}

const r = stats(ready);
const f = stats(floor);
const k = stats(restart);
const fmt = (x) => x.toFixed(1);
console.log(`cold start to READY=1 (no model), ${r.n} runs: median ${fmt(r.median)} ms, p90 ${fmt(r.p90)} ms (min ${fmt(r.min)}, max ${fmt(r.max)})`);
console.log(`  floor (a C program that only sends READY=1): median ${fmt(f.median)} ms, p90 ${fmt(f.p90)} ms`);
console.log(`  ratio tetherd / floor: median ${(r.median / f.median).toFixed(2)}, p90 ${(r.p90 / f.p90).toFixed(2)}; target READY < 50 ms: ${r.median < 50 ? 'met' : 'MISSED'}`);
console.log(`  tetherd's own share: median ${fmt(r.median - f.median)} ms above the floor`);
console.log(`back in service after kill -9 under tether anchor (first retry; backoff 100 ms), ${k.n} runs:`);
console.log(`  median ${fmt(k.median)} ms, p90 ${fmt(k.p90)} ms (min ${fmt(k.min)}, max ${fmt(k.max)}); target < 1000 ms: ${k.p90 < 1000 ? 'met' : 'MISSED'}`);
console.log(`  above the 100 ms backoff: median ${fmt(k.median - 100)} ms; ratio to cold start to READY: ${((k.median - 100) / r.median).toFixed(2)}`);
if (jsonOut) {
  const lines = [
    { metric: 'ready_ms', ...r },
    { metric: 'ready_floor_ms', ...f },
    { metric: 'restart_after_kill9_ms', ...k },
  ];
  fs.appendFileSync(jsonOut, lines.map((x) => JSON.stringify(x)).join('\n') + '\n');
}
process.exit(0);
