// Shared helpers of tether's terminal benchmark (bench/run drives the scripts that use them).
// Only loopback addresses are used: tetherd listens on 127.0.0.1, ttyd is started on 127.0.0.1.

import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..');
// The integration tests' pinned `ws` (scripts/setup.sh installs it).
const require = createRequire(path.join(ROOT, 'tests/integration/package.json'));
export const WebSocket = require('ws');

/** --name value / --flag arguments into an object (values stay strings; flags are true). */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** q in [0,1] of an ascending-sorted array (nearest rank). */
export function quantile(sorted, q) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.floor(sorted.length * q));
  return sorted[i];
}

// Servers this process started are stopped when it ends, however it ends (bench/run's timeout
// sends SIGTERM): tetherd and ttyd then end their own terminals' processes.
const children = new Set();
const tempDirs = new Set();
function track(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)));
}

// a reader that goes away (`| head`) is not an error worth a stack trace
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
});

export function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export function log(...a) {
  process.stderr.write(a.join(' ') + '\n');
}

// ---------------------------------------------------------------------------------------------
// /proc

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds {user, sys} a process has used so far. */
export function cpuTimes(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  // fields after the comm: state(3) ... utime(14) stime(15) -> indexes 11, 12 here
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** {rss, data, size} of a process in KiB (VmRSS, VmData, VmSize). */
export function memKiB(pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => {
    const m = new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(st);
    return m ? Number(m[1]) : null;
  };
  return { rss: get('VmRSS'), data: get('VmData'), size: get('VmSize') };
}

/** Jiffies of all CPUs so far: {busy, total} (from /proc/stat; idle and iowait are not busy). */
export function machineCpu() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/** Percent of the machine's CPUs busy between two machineCpu() samples. */
export function machineBusyPct(a, b) {
  return b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : null;
}

export function clientCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// tetherd

function childEnv(home) {
  const env = { ...process.env };
  for (const k of ['TETHER_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_RUNTIME_DIR', 'NODE_OPTIONS']) {
    delete env[k];
  }
  env.HOME = home;
  return env;
}

function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** The flags `tetherd --help` lists (to pass optional settings only when they exist). */
export function tetherdFlags(bin) {
  let text = '';
  try {
    text = execFileSync(bin, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    text = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  return new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? []);
}

/**
 * Starts tetherd in a fresh temp dir (--port 0, its own runtime dir and HOME) and waits for
 * `tether endpoint --json`. Returns {proc, pid, endpoint, tmp, logFile, stop()}.
 */
export async function startTetherd({ tetherd, tether, args = [] }) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-bench-'));
  tempDirs.add(tmp);
  const rt = path.join(tmp, 'rt');
  const home = path.join(tmp, 'home');
  fs.mkdirSync(rt, { mode: 0o700 });
  fs.chmodSync(rt, 0o700);
  fs.mkdirSync(home, { mode: 0o700 });
  const logFile = path.join(tmp, 'tetherd.log');
  const proc = track(spawn(
    tetherd,
    ['--runtime-dir', rt, '--port', '0', '--log-file', logFile, '--log-level', 'warn', ...args],
    { env: childEnv(home), stdio: ['ignore', 'ignore', 'pipe'] },
  ));
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (err += d));
  const d = {
    proc,
    pid: proc.pid,
    tmp,
    rt,
    home,
    logFile,
    endpoint: null,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        if (!(await waitExit(proc, 5000))) {
          proc.kill('SIGKILL');
          await waitExit(proc, 5000);
        }
      }
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw new Error(`tetherd exited at start (code ${proc.exitCode}): ${err}`);
    }
    try {
      const out = execFileSync(tether, ['endpoint', '--json', '--runtime-dir', rt], {
        env: childEnv(home),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      });
      d.endpoint = JSON.parse(out);
      return d;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await d.stop();
      throw new Error(`tetherd did not publish its endpoint within 10 s: ${err}`);
    }
    await sleep(50);
  }
}

/**
 * A tetherd WebSocket client. Text messages go to request()/events; binary messages go, without
 * a copy, to onBinary(channel, buf) when set (buf includes the 4-byte channel prefix).
 */
export class TetherClient {
  static async connect(endpoint) {
    const ws = new WebSocket(endpoint.url, [], {
      headers: { Authorization: `Bearer ${endpoint.token}` },
      perMessageDeflate: false,
      maxPayload: 256 * 1024 * 1024,
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const c = new TetherClient(ws);
    c.helloReply = await c.request({ type: 'hello', protocol: 1, client: { name: 'tether-bench' } });
    if (c.helloReply.type !== 'hello') throw new Error(`hello: ${JSON.stringify(c.helloReply)}`);
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.onBinary = null;
    this.onEvent = null;
    this.closed = new Promise((resolve) => ws.once('close', resolve));
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        if (this.onBinary) this.onBinary(data.readUInt32BE(0), data);
        return;
      }
      const m = JSON.parse(data.toString('utf8'));
      if (m.id !== undefined && m.id !== null && this.pending.has(m.id)) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p(m);
      } else if (this.onEvent) {
        this.onEvent(m);
      }
    });
  }

  /** Sends a request (an id is added) and resolves its reply or error. */
  request(msg, timeoutMs = 10000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** Sends a request whose reply nobody awaits (errors not in `ignore` go to stderr). */
  fire(msg, ignore = []) {
    const id = this.nextId++;
    this.pending.set(id, (m) => {
      if (m.type === 'error' && !ignore.includes(m.code)) {
        log(`tetherd error for ${msg.type}: ${JSON.stringify(m)}`);
      }
    });
    this.ws.send(JSON.stringify({ ...msg, id }));
  }

  sendBinary(buf) {
    this.ws.send(buf, { binary: true });
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    return this.closed;
  }
}

/** pty.open that must succeed; throws with the error otherwise. */
export async function openSession(c, fields) {
  const r = await c.request({ type: 'pty.open', ...fields });
  if (r.type !== 'pty.open') throw new Error(`pty.open failed: ${JSON.stringify(r)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// ttyd (https://github.com/tsl0922/ttyd, 1.7.x): WebSocket at /ws, subprotocol "tty"; the client
// first sends {"AuthToken":"","columns":C,"rows":R} (text), which spawns the command; the server
// sends binary frames whose first byte is the command: '0' output, '1' window title,
// '2' preferences; the client sends '0' + bytes as input. When the command exits ttyd closes
// the WebSocket.

/** Starts `ttyd -i 127.0.0.1 -p 0 ...args`; resolves {proc, port, stop()} once it listens. */
export async function startTtyd(bin, args) {
  const proc = track(spawn(bin, ['-i', '127.0.0.1', '-p', '0', '-d', '7', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      const m = /Listening on port: (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`ttyd exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`ttyd did not listen within 10 s: ${out}`)), 10000).unref();
  });
  // keep draining its log so it never blocks on a full pipe
  return {
    proc,
    pid: proc.pid,
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        if (!(await waitExit(proc, 5000))) {
          proc.kill('SIGKILL');
          await waitExit(proc, 5000);
        }
      }
    },
  };
}

/** Opens a ttyd WebSocket (not yet initialized: call init()). onOutput(buf) gets each OUTPUT
 *  frame (buf[0] === 0x30, data from offset 1). */
export class TtydClient {
  /** args: command-line arguments for the command (ttyd -a appends them to its command). */
  static async connect(port, args = []) {
    const q = args.map((a) => `arg=${encodeURIComponent(a)}`).join('&');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${q ? `?${q}` : ''}`, ['tty'], {
      perMessageDeflate: false,
      maxPayload: 256 * 1024 * 1024,
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return new TtydClient(ws);
  }

  constructor(ws) {
    this.ws = ws;
    this.onOutput = null;
    this.other = 0;
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('error', () => {});
    ws.on('message', (data) => {
      if (data[0] === 0x30) {
        if (this.onOutput) this.onOutput(data);
      } else {
        this.other++;
      }
    });
  }

  init(columns = 80, rows = 24) {
    this.ws.send(JSON.stringify({ AuthToken: '', columns, rows }));
  }

  input(buf) {
    this.ws.send(buf, { binary: true });
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    return this.closed;
  }
}

/** Frame-size histogram: buckets by power of two of the payload size. */
export class SizeHist {
  constructor() {
    this.b = new Map();
    this.n = 0;
    this.bytes = 0;
    this.max = 0;
  }
  add(n) {
    this.n++;
    this.bytes += n;
    if (n > this.max) this.max = n;
    const k = n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
    this.b.set(k, (this.b.get(k) ?? 0) + 1);
  }
  /** {"<=4096": 123, ...} with the buckets that hold at least 1% of the frames. */
  top() {
    const out = {};
    for (const [k, v] of [...this.b.entries()].sort((x, y) => x[0] - y[0])) {
      if (v * 100 >= this.n) out[`<=${k}`] = v;
    }
    return out;
  }
}
