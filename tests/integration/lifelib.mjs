// Helpers for the lifecycle tests (systemd glue, the anchor, tether service; issue 6):
// a real NOTIFY_SOCKET listener, raw daemon spawns with a chosen environment, free ports,
// fake systemctl/loginctl scripts, and polling with deadlines. Built on lib.mjs.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { childEnv, makeTempLayout, run, TETHERD_BIN, TETHER_BIN, sleep, waitExit } from './lib.mjs';

export function NOTIFY_LISTENER_BIN() {
  const v = process.env.NOTIFY_LISTENER_BIN;
  if (!v || !path.isAbsolute(v)) throw new Error('NOTIFY_LISTENER_BIN is not set (absolute path)');
  return v;
}

/** Polls fn (sync or async) every `every` ms until it returns a truthy value; resolves that
 *  value, or rejects after timeoutMs with `what` and describe()'s text. */
export async function poll(fn, { timeoutMs = 5000, every = 10, what = 'condition', describe } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      throw new Error(`${what}: not within ${timeoutMs} ms${describe ? '; ' + describe() : ''}`);
    }
    await sleep(every);
  }
}

/**
 * Starts tests/systemd/notify_listener on `sock` and resolves once it listens. Returns
 * {proc, messages, waitFor(pred, opts), stop()}; each message is the listener's JSON line
 * ({t_ms, pid, fields}) plus `at`, Node's performance.now() when the line arrived.
 */
export async function startNotifyListener(sock) {
  const proc = spawn(NOTIFY_LISTENER_BIN(), [sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages = [];
  const watchers = new Set();
  let buf = '';
  let listening;
  const ready = new Promise((resolve, reject) => {
    listening = resolve;
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`notify_listener exited (${code})`)));
  });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = JSON.parse(line);
      if (m.listening) {
        listening();
        continue;
      }
      m.at = performance.now();
      messages.push(m);
      for (const w of [...watchers]) w();
    }
  });
  await ready;
  return {
    proc,
    messages,
    /** Resolves the first message (from index `from`) matching pred. */
    waitFor(pred, { timeoutMs = 5000, what = 'notification', from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.slice(from).find(pred);
          if (m) {
            watchers.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`${what}: not within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(-800)}`));
        }, timeoutMs);
        watchers.add(check);
        check();
      });
    },
    /** Calls fn(message) for every message from now on, synchronously on arrival. */
    onMessage(fn) {
      const n = messages.length;
      let seen = n;
      const w = () => {
        while (seen < messages.length) fn(messages[seen++]);
      };
      watchers.add(w);
      return () => watchers.delete(w);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await waitExit(proc, 5000).catch(() => {});
    },
  };
}

/** The fields of a notification as an object: {READY: '1', STATUS: '...'}. */
export function fieldsOf(m) {
  const o = {};
  for (const f of m.fields) {
    const i = f.indexOf('=');
    o[f.slice(0, i)] = f.slice(i + 1);
  }
  return o;
}

/**
 * Spawns `file args` with childEnv(home, env) (or exactly `rawEnv`), collecting stdout and
 * stderr into .out(); stdio may be overridden (e.g. a file descriptor for stderr). Returns the
 * ChildProcess with .out(), .stop(signal), .kill9().
 */
export function spawnProc(file, args, { home, env = {}, rawEnv, stdio } = {}) {
  const proc = spawn(file, args, {
    env: rawEnv ?? childEnv(home, env),
    stdio: stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  for (const s of [proc.stdout, proc.stderr]) {
    if (!s) continue;
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
  }
  proc.on('error', (e) => (out += `\nspawn error: ${e.message}`));
  proc.out = () => out;
  proc.stop = async (signal = 'SIGTERM', timeoutMs = 10000) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return waitExit(proc, timeoutMs);
  };
  return proc;
}

/** tetherd on its own runtime dir, port 0, with a log file, and env on top of childEnv. */
export function spawnTetherd(layout, { args = [], env = {}, stdio } = {}) {
  const logFile = path.join(layout.tmp, 'tetherd.log');
  const p = spawnProc(
    TETHERD_BIN(),
    ['--runtime-dir', layout.rt, '--port', '0', '--log-file', logFile, ...args],
    { home: layout.home, env, stdio },
  );
  p.logFile = logFile;
  p.log = () => readOr(logFile, '');
  return p;
}

export function readOr(file, dflt = null) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return dflt;
  }
}

export function readJson(file) {
  const s = readOr(file);
  if (s === null) return null;
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** A TCP port free on 127.0.0.1 right now (bound and released; callers retry on a collision). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves true if a TCP connection to 127.0.0.1:port is accepted within timeoutMs. */
export function tcpAccepts(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Every process whose /proc/PID/environ holds marker=1 (how the tests find what they started). */
export function processesWithMarker(marker) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let env;
    try {
      env = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (env.split('\0').includes(`${marker}=1`)) {
      let state = '?';
      try {
        state = /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${name}/status`, 'utf8'))[1];
      } catch {
        continue;
      }
      if (state !== 'Z') out.push(Number(name));
    }
  }
  return out;
}

/** SIGKILLs every process carrying the marker (cleanup for tests that start daemons indirectly). */
export function killMarked(marker) {
  for (const pid of processesWithMarker(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/**
 * Writes fake `systemctl` and `loginctl` into dir/bin: each appends its argv (one line, words
 * joined by spaces) to dir/calls.log. `loginctl show-user ... --value` prints $FAKE_LINGER.
 * systemctlBody (sh) runs after the record, for a fake that also acts.
 */
export function writeFakeTools(dir, { systemctlBody = '', loginctlBody = '' } = {}) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const calls = path.join(dir, 'calls.log');
  fs.writeFileSync(
    path.join(bin, 'systemctl'),
    `#!/bin/sh\necho "systemctl $*" >> '${calls}'\n${systemctlBody}\nexit 0\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(
    path.join(bin, 'loginctl'),
    `#!/bin/sh\necho "loginctl $*" >> '${calls}'\n` +
      `case "$1" in show-user) [ -n "$FAKE_LINGER" ] && echo "$FAKE_LINGER" ;; esac\n${loginctlBody}\nexit 0\n`,
    { mode: 0o755 },
  );
  return { bin, calls, read: () => (readOr(calls, '') || '').split('\n').filter(Boolean) };
}

// ---------------------------------------------------------------------------------------------
// tether anchor

/** A temp layout plus a marker variable every process of the test inherits (for cleanup). */
export async function anchorLayout(t) {
  const l = await makeTempLayout('tether-anchor-');
  l.marker = `TETHER_LIFETEST_${randomBytes(6).toString('hex')}`;
  l.state = path.join(l.tmp, 'state');
  l.anchorJson = path.join(l.rt, 'anchor.json');
  t.after(async () => {
    killMarked(l.marker);
    await poll(() => processesWithMarker(l.marker).length === 0, { timeoutMs: 5000 }).catch(() => {});
    await fsp.rm(l.tmp, { recursive: true, force: true });
  });
  return l;
}

export function anchorEnv(l, env = {}) {
  return { XDG_STATE_HOME: l.state, [l.marker]: '1', ...env };
}

/** `tether anchor --runtime-dir RT ...args -- --port 0 ...daemonArgs`, with SIGPIPE at its
 *  default action as under WSL's init (Node ignores it, and an ignored signal is inherited). */
export function startAnchor(t, l, { args = [], daemonArgs = ['--port', '0'], env = {}, stdio } = {}) {
  const argv = ['--default-signal=PIPE', TETHER_BIN(), 'anchor', '--runtime-dir', l.rt, ...args, '--', ...daemonArgs];
  const a = spawnProc('env', argv, {
    home: l.home,
    env: anchorEnv(l, env),
    stdio,
  });
  t.after(() => a.stop('SIGKILL', 5000).catch(() => {}));
  a.state = () => readJson(l.anchorJson);
  a.anchorLog = () => readOr(path.join(l.state, 'tether', 'anchor.log'), '');
  a.describe = () => `anchor.json ${JSON.stringify(a.state())}; output ${a.out()}; log:\n${a.anchorLog()}`;
  /** Resolves anchor.json once pred(state) holds. */
  a.until = (pred, what, timeoutMs = 10000) =>
    poll(
      () => {
        const s = a.state();
        return s && pred(s) && s;
      },
      { timeoutMs, what, describe: a.describe },
    );
  return a;
}

export async function status(l, json = true) {
  const r = await run(TETHER_BIN(), ['status', '--runtime-dir', l.rt, ...(json ? ['--json'] : [])], {
    env: childEnv(l.home),
    timeoutMs: 5000,
  });
  return { ...r, json: json && r.stdout ? JSON.parse(r.stdout) : null };
}
