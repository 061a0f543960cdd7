// Helpers for tetherd's integration tests (see docs/protocol.md).
//
// The binaries come from the environment: TETHERD_BIN (the daemon) and TETHER_BIN (the CLI),
// both absolute paths. Every daemon runs in its own temporary directory with --port 0, so tests
// never share state, never use a fixed port, and never touch the user's runtime dir.
// Nothing here contacts a non-loopback address.

import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export { WebSocket, sleep };

/** Resolves `value` after ms, without keeping the process alive (for Promise.race time limits;
 *  a pending ref'd timer would hold `node --test` open after the tests finish). */
export function after(ms, value) {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

function requireBin(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (absolute path to the binary)`);
  if (!path.isAbsolute(v)) throw new Error(`${name} must be an absolute path, got ${v}`);
  return v;
}

export const TETHERD_BIN = () => requireBin('TETHERD_BIN');
export const TETHER_BIN = () => requireBin('TETHER_BIN');

// ---------------------------------------------------------------------------------------------
// Processes

/** Environment for a child: the caller's, minus anything that could redirect it to the user's
 *  own daemon or config, plus HOME (and any overrides). */
export function childEnv(home, extra = {}) {
  const env = { ...process.env };
  for (const k of ['TETHER_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_RUNTIME_DIR', 'NODE_OPTIONS']) {
    delete env[k];
  }
  if (home) env.HOME = home;
  return { ...env, ...extra };
}

/** Runs a command to completion. Resolves {code, signal, stdout, stderr}; never rejects for a
 *  non-zero exit. Kills the child after timeoutMs. */
export function run(file, args, { env, timeoutMs = 10000, input, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: env ?? childEnv(), cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut: signal === 'SIGKILL' });
    });
    child.stdin.on('error', () => {});
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** `tether endpoint --json --runtime-dir rt`; resolves the parsed JSON or null if it fails. */
export async function readEndpoint(rt, home) {
  const r = await run(TETHER_BIN(), ['endpoint', '--json', '--runtime-dir', rt], {
    env: childEnv(home),
    timeoutMs: 5000,
  });
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

/** Resolves {code, signal} when the process exits (immediately if it already has). */
export function waitExit(proc, timeoutMs = 10000) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.off('exit', onExit);
      reject(new Error(`process ${proc.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    function onExit(code, signal) {
      clearTimeout(timer);
      resolve({ code, signal });
    }
    proc.once('exit', onExit);
  });
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Waits until pid is gone (zombies count as gone: /proc/PID/status says State: Z). */
export async function waitPidGone(pid, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    try {
      const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      if (/^State:\s+Z/m.test(st)) return true;
    } catch {
      return true;
    }
    await sleep(50);
  }
  return false;
}

/** VmRSS of a process in bytes. */
export function rssBytes(pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(st);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** A fresh temp dir with a 0700 runtime dir `rt` and a HOME inside it. */
export async function makeTempLayout(prefix = 'tetherd-it-') {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  const rt = path.join(tmp, 'rt');
  const home = path.join(tmp, 'home');
  await fsp.mkdir(rt, { mode: 0o700 });
  await fsp.chmod(rt, 0o700); // umask cannot widen it, but be explicit
  await fsp.mkdir(home, { mode: 0o700 });
  return { tmp, rt, home };
}

/**
 * Starts tetherd in a fresh temp dir:
 *   TETHERD_BIN --runtime-dir <rt> --port 0 --log-file <tmp>/tetherd.log ...args   (HOME=<tmp>/home)
 * and waits (polling every 50 ms, up to 10 s) until `tether endpoint --json` succeeds.
 * Returns {proc, pid, tmp, rt, home, logFile, endpoint, stop(signal), cleanup(), output()}.
 */
export async function startDaemon({ args = [], env = {}, layout } = {}) {
  const { tmp, rt, home } = layout ?? (await makeTempLayout());
  const logFile = path.join(tmp, 'tetherd.log');
  const argv = ['--runtime-dir', rt, '--port', '0', '--log-file', logFile, ...args];
  const proc = spawn(TETHERD_BIN(), argv, {
    env: childEnv(home, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  spawnError.catch(() => {});

  const d = {
    proc,
    pid: proc.pid,
    tmp,
    rt,
    home,
    logFile,
    endpoint: null,
    output: () => out,
    log: () => {
      try {
        return fs.readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    /** Sends signal (SIGTERM by default) and awaits the exit: {code, signal}. */
    async stop(signal = 'SIGTERM', timeoutMs = 10000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      try {
        return await waitExit(proc, timeoutMs);
      } catch (e) {
        proc.kill('SIGKILL');
        await waitExit(proc, 5000).catch(() => {});
        throw e;
      }
    },
    /** Stops the daemon if it still runs (SIGKILL as a last resort) and removes the temp dir. */
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        try {
          // a correct daemon exits in milliseconds; stop() is where tests assert on that
          await waitExit(proc, 2000);
        } catch {
          proc.kill('SIGKILL');
          await waitExit(proc, 5000).catch(() => {});
        }
      }
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    },
  };

  const deadline = Date.now() + 10000;
  try {
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `tetherd exited early (code ${proc.exitCode}, signal ${proc.signalCode}): ${out}\nlog:\n${d.log()}`,
        );
      }
      const ep = await Promise.race([readEndpoint(rt, home), spawnError]);
      if (ep) {
        d.endpoint = ep;
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`tetherd did not publish its endpoint within 10 s: ${out}\nlog:\n${d.log()}`);
      }
      await sleep(50);
    }
  } catch (e) {
    await d.cleanup();
    throw e;
  }
  return d;
}

/** startDaemon + t.after(cleanup). */
export async function daemonFor(t, opts) {
  const d = await startDaemon(opts);
  t.after(() => d.cleanup());
  return d;
}

// ---------------------------------------------------------------------------------------------
// A queue of incoming messages with awaitable next().

export class MessageQueue {
  constructor() {
    this.items = [];
    this.waiters = [];
    this.closedWith = null;
  }
  push(item) {
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(item);
    } else this.items.push(item);
  }
  close(reason) {
    if (this.closedWith) return;
    this.closedWith = reason ?? 'closed';
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`connection ${this.closedWith} while waiting for a message`));
    }
  }
  /** The next message; rejects after timeoutMs, or when the connection closes with nothing queued. */
  next(timeoutMs = 5000) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    if (this.closedWith) {
      return Promise.reject(new Error(`connection ${this.closedWith} while waiting for a message`));
    }
    return new Promise((resolve, reject) => {
      const w = { resolve, reject, timer: null };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

function parseText(buf) {
  const s = Buffer.isBuffer(buf) ? buf.toString('utf8') : String(buf);
  try {
    return JSON.parse(s);
  } catch {
    return { __unparsable: s };
  }
}

/**
 * Sends `msg` (an object, serialized with JSON.stringify) and resolves with the message that
 * carries the same id (the reply or an error). Events (messages without an `id` member) are
 * skipped; a message with another id is a failure (replies come in request order).
 */
async function requestOn(client, msg, timeoutMs) {
  client.send(msg);
  for (;;) {
    const m = await client.next(timeoutMs);
    if (m === null || typeof m !== 'object' || Buffer.isBuffer(m) || !('id' in m)) continue;
    if (m.id === msg.id) return m;
    throw new Error(`expected the reply to id ${JSON.stringify(msg.id)}, got ${JSON.stringify(m)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/** Headers a native client sends: the bearer token. */
export function authHeaders(token) {
  return { Authorization: `Bearer ${token}` };
}

/** Wraps an open `ws` WebSocket: queue of messages (text parsed as JSON, binary as Buffer). */
export class WsClient {
  constructor(ws, upgradeRes) {
    this.ws = ws;
    this.upgradeRes = upgradeRes;
    this.queue = new MessageQueue();
    this.events = [];
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this.queue.close(`closed (${code})`);
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (data, isBinary) => {
      this.queue.push(isBinary ? Buffer.from(data) : parseText(data));
    });
    ws.on('error', (e) => {
      this.error = e;
    });
  }
  /** Sends an object as JSON text, a string as text, a Buffer as binary. */
  send(msg, opts) {
    if (Buffer.isBuffer(msg)) this.ws.send(msg, { binary: true, ...opts });
    else if (typeof msg === 'string') this.ws.send(msg, { binary: false, ...opts });
    else this.ws.send(JSON.stringify(msg), { binary: false, ...opts });
  }
  next(timeoutMs) {
    return this.queue.next(timeoutMs);
  }
  request(msg, timeoutMs = 5000) {
    return requestOn(this, msg, timeoutMs);
  }
  async hello(id = 'hello', extra = {}) {
    const r = await this.request({ type: 'hello', id, protocol: 1, ...extra });
    if (r.type !== 'hello') throw new Error(`hello failed: ${JSON.stringify(r)}`);
    return r;
  }
  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code);
    }
    return this.closed;
  }
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/**
 * Attempts a WebSocket upgrade. Resolves
 *   {ok: true, client: WsClient, status: 101, headers}            on success,
 *   {ok: false, status, headers, body}                             on an HTTP rejection,
 * and rejects on a network error. opts: {protocols, headers, wsOptions}.
 */
export function tryWs(url, { protocols = [], headers = {}, wsOptions = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    let settled = false;
    let upgradeRes = null;
    const ws = new WebSocket(url, protocols, {
      headers,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...wsOptions,
    });
    const timer = setTimeout(() => finish(reject, new Error(`upgrade to ${url} timed out`)), timeoutMs + 500);
    function finish(fn, v) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(v);
    }
    ws.on('upgrade', (res) => {
      upgradeRes = res;
    });
    ws.on('open', () => {
      finish(resolve, {
        ok: true,
        status: 101,
        headers: upgradeRes ? upgradeRes.headers : {},
        rawHeaders: upgradeRes ? upgradeRes.rawHeaders : [],
        client: new WsClient(ws, upgradeRes),
      });
    });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      const done = () => {
        finish(resolve, { ok: false, status: res.statusCode, headers: res.headers, body });
        req.destroy();
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
      // Don't wait forever for a body on a keep-alive connection.
      setTimeout(done, 1000).unref();
    });
    ws.on('error', (e) => finish(reject, e));
  });
}

/** tryWs that must succeed; the client is closed by t.after if t is given. */
export async function openWs(url, opts = {}, t) {
  const r = await tryWs(url, opts);
  if (!r.ok) throw new Error(`upgrade refused: HTTP ${r.status} ${r.body ?? ''}`);
  if (t) t.after(() => r.client.terminate());
  return r.client;
}

/** A token-authenticated client that has completed hello. */
export async function connectHello(d, t, { headers = {}, hello = true } = {}) {
  const c = await openWs(d.endpoint.url, { headers: { ...authHeaders(d.endpoint.token), ...headers } }, t);
  if (hello) await c.hello();
  return c;
}

/** Attempts an upgrade that must be refused; resolves {status, headers, body}. */
export async function expectRejection(url, opts = {}) {
  const r = await tryWs(url, opts);
  if (r.ok) {
    r.client.terminate();
    throw new Error('expected the upgrade to be refused, but it succeeded (HTTP 101)');
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP

/** GET via node:http to 127.0.0.1:port. Resolves {status, headers, body}. */
export function httpGet(port, urlPath, headers = {}, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, headers, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Writes a raw HTTP request (lines joined with CRLF, terminated by an empty line) to
 * 127.0.0.1:port and resolves the parsed response head {status, headers (lower-case keys),
 * head (raw text)}. Lets a test send what node:http will not (no Host, odd Host values).
 */
export function rawHttp(port, lines, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error('raw HTTP request timed out')), timeoutMs);
    function finish(err, v) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(v);
    }
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(lines.join('\r\n') + '\r\n\r\n'));
    sock.on('data', (c) => {
      buf += c;
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buf.slice(0, end);
        const [statusLine, ...hl] = head.split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
        const headers = {};
        for (const l of hl) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        finish(null, { status: m ? Number(m[1]) : NaN, headers, head });
      }
    });
    sock.on('error', (e) => finish(e));
    sock.on('end', () => finish(new Error(`connection closed before a response head: ${JSON.stringify(buf)}`)));
  });
}

/** Raw WebSocket upgrade request lines for /ws with the given extra header lines. */
export function upgradeLines(extraHeaderLines, urlPath = '/ws') {
  return [
    `GET ${urlPath} HTTP/1.1`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...extraHeaderLines,
  ];
}

// ---------------------------------------------------------------------------------------------
// Byte-stream framing: [u32 BE payload length][u8 kind: 1 text, 2 binary][payload]

export const KIND_TEXT = 1;
export const KIND_BINARY = 2;

/** Encodes one frame. payload: Buffer, string (UTF-8) or object (JSON). */
export function encodeFrame(kind, payload) {
  let body;
  if (Buffer.isBuffer(payload)) body = payload;
  else if (typeof payload === 'string') body = Buffer.from(payload, 'utf8');
  else body = Buffer.from(JSON.stringify(payload), 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 0);
  head.writeUInt8(kind, 4);
  return Buffer.concat([head, body]);
}

export const textFrame = (msg) => encodeFrame(KIND_TEXT, msg);
export const binaryFrame = (buf) => encodeFrame(KIND_BINARY, buf);

/** Incremental frame reader: push(chunk) returns the frames completed by it ({kind, payload}). */
export class FrameReader {
  constructor() {
    this.buf = Buffer.alloc(0);
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < 5 + len) break;
      out.push({ kind: this.buf.readUInt8(4), payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
  /** Bytes of an incomplete frame still buffered. */
  get pending() {
    return this.buf.length;
  }
}

/**
 * A framed connection over a readable/writable pair (a unix socket, or a child's stdout/stdin).
 * Text frames arrive parsed as JSON objects, binary frames as {kind: 2, payload}; a frame of
 * another kind as {kind, payload}. `ended` resolves when the readable ends.
 */
export class FrameClient {
  constructor(readable, writable) {
    this.readable = readable;
    this.writable = writable;
    this.reader = new FrameReader();
    this.queue = new MessageQueue();
    this.frames = [];
    this.ended = new Promise((resolve) => {
      const onEnd = () => {
        this.queue.close('ended (EOF)');
        resolve(true);
      };
      readable.on('end', onEnd);
      readable.on('close', onEnd);
    });
    readable.on('data', (chunk) => {
      for (const f of this.reader.push(chunk)) {
        this.frames.push(f);
        if (f.kind === KIND_TEXT) this.queue.push(parseText(f.payload));
        else this.queue.push({ kind: f.kind, payload: f.payload });
      }
    });
    readable.on('error', () => {});
    writable.on('error', () => {});
  }
  /** Sends an object/string as a text frame, a Buffer as raw bytes (already framed). */
  send(msg) {
    if (Buffer.isBuffer(msg)) this.writable.write(msg);
    else this.writable.write(textFrame(msg));
  }
  write(buf) {
    return new Promise((resolve, reject) =>
      this.writable.write(buf, (err) => (err ? reject(err) : resolve())),
    );
  }
  next(timeoutMs) {
    return this.queue.next(timeoutMs);
  }
  request(msg, timeoutMs = 5000) {
    return requestOn(this, msg, timeoutMs);
  }
  async hello(id = 'hello') {
    const r = await this.request({ type: 'hello', id, protocol: 1 });
    if (r.type !== 'hello') throw new Error(`hello failed: ${JSON.stringify(r)}`);
    return r;
  }
}

/** Connects to a unix socket; resolves a FrameClient whose `sock` is the net.Socket. */
export function connectUnix(sockPath) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(sockPath);
    sock.once('connect', () => {
      const c = new FrameClient(sock, sock);
      c.sock = sock;
      resolve(c);
    });
    sock.once('error', reject);
  });
}

/**
 * Spawns `tether connect --runtime-dir rt` and wraps its stdin/stdout as a FrameClient
 * (`proc`, `stderr()` and `exited` added).
 */
export function spawnConnect(rt, home, { env = {}, extraArgs = [] } = {}) {
  const proc = spawn(TETHER_BIN(), ['connect', '--runtime-dir', rt, ...extraArgs], {
    env: childEnv(home, env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const c = new FrameClient(proc.stdout, proc.stdin);
  let err = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (err += d));
  c.proc = proc;
  c.stderr = () => err;
  c.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  c.kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return c.exited;
  };
  return c;
}

// ---------------------------------------------------------------------------------------------
// Assertions on protocol messages

/** Checks an error object's shape: type error, the code, id, and (when given) field. */
export function assertError(assert, m, { code, id, field, request }, label = '') {
  const ctx = `${label ? label + ': ' : ''}${JSON.stringify(m)}`;
  assert.equal(typeof m, 'object', ctx);
  assert.equal(m.type, 'error', `expected an error, ${ctx}`);
  assert.equal(m.code, code, `error code, ${ctx}`);
  assert.equal(typeof m.message, 'string', `error message is a string, ${ctx}`);
  assert.ok('id' in m, `error has an id member, ${ctx}`);
  if (id !== undefined) assert.deepEqual(m.id, id, `error id, ${ctx}`);
  if (field !== undefined) assert.equal(m.field, field, `error field, ${ctx}`);
  if (request !== undefined) assert.equal(m.request, request, `error request, ${ctx}`);
}

/** Polls fn() until it returns a truthy value; returns it, or throws after timeoutMs. */
export async function until(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms (last: ${last})`);
    await sleep(intervalMs);
  }
}
