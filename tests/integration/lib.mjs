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

// ---------------------------------------------------------------------------------------------
// Terminals (docs/protocol.md, "Terminals (pty.*)")

/** python3 for children: the system one when present (a pyenv shim is slow to start). */
export const PYTHON3 = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** One attachment's channel as the client sees it: every output byte in order, and pty.exit. */
export class PtyChannel {
  constructor(channel) {
    this.channel = channel;
    this.session = null;
    this.reply = null; // the pty.open / pty.attach reply that opened it
    this.chunks = [];
    this.length = 0; // bytes received on the channel
    this.keep = true; // false: count bytes (and call sink) without storing them
    this.sink = null; // optional function(chunk) called for every chunk
    this.exit = null; // the pty.exit event
    this.bytesAtExit = null; // bytes received before pty.exit arrived
    this.bytesAfterExit = 0; // bytes that arrived after pty.exit (must stay 0)
    this.ended = false; // pty.exit received or pty.detach replied
    this.firstDataAt = null;
    this._cache = null;
  }
  push(chunk) {
    if (this.exit) this.bytesAfterExit += chunk.length;
    if (this.firstDataAt === null) this.firstDataAt = performance.now();
    if (this.keep) {
      this.chunks.push(chunk);
      this._cache = null;
    }
    this.length += chunk.length;
    if (this.sink) this.sink(chunk);
  }
  /** From now on, hands every chunk (the ones already stored first) to sink and stores nothing
   *  (for long streams). Synchronous, so no chunk slips between. */
  stream(sink) {
    for (const b of this.chunks) sink(b);
    this.chunks = [];
    this._cache = null;
    this.keep = false;
    this.sink = sink;
  }
  /** All stored bytes (from byte offset `from`). */
  bytes(from = 0) {
    if (!this._cache) {
      this._cache = Buffer.concat(this.chunks);
      this.chunks = [this._cache];
    }
    return from ? this._cache.subarray(from) : this._cache;
  }
  /** Stored bytes as latin1 text (one char per byte, so offsets are byte offsets). */
  text(from = 0) {
    return this.bytes(from).toString('latin1');
  }
  describe(max = 300) {
    const s = this.keep ? this.text() : '';
    let tail = JSON.stringify(s.length > max ? s.slice(-max) : s);
    if (tail.length > 2 * max) tail = '…' + tail.slice(-2 * max);
    else if (s.length > max) tail = '…' + tail;
    return `channel ${this.channel} (${this.session}): ${this.length} bytes${this.keep ? ' ' + tail : ''}` +
      `${this.exit ? ', exit ' + JSON.stringify(this.exit) : ''}`;
  }
}

/**
 * A WebSocket client for the pty.* requests. Unlike WsClient it keeps channel data per channel
 * (PtyChannel) instead of in the message queue, so requests and output interleave freely:
 *   request(msg) resolves the message carrying msg.id (reply or error; an id is added if absent),
 *   events (messages without an id, and errors with id null) collect in `events`,
 *   ch(n) is the PtyChannel for channel n, waitFor(pred) waits for any condition to hold.
 */
export class PtyClient {
  constructor(ws) {
    this.ws = ws;
    this.pending = new Map();
    this.events = []; // {msg, at (arrival index), taken}
    this.strays = []; // replies nobody waited for
    this.channels = new Map();
    this.oldChannels = [];
    this.waiters = new Set();
    this.arrivals = 0;
    this.nextId = 1;
    this.closeInfo = null;
    this.binaryErrors = [];
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`connection closed (${code}) while waiting for the reply to ${p.what}`));
        }
        this.pending.clear();
        this._wake();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (e) => {
      this.error = e;
    });
    ws.on('message', (data, isBinary) => this._onMessage(data, isBinary));
  }

  /** The PtyChannel for a channel number (created empty if nothing arrived on it yet). */
  ch(channel) {
    if (channel && typeof channel === 'object') return channel;
    let st = this.channels.get(channel);
    if (!st) {
      st = new PtyChannel(channel);
      this.channels.set(channel, st);
    }
    return st;
  }

  _openChannel(reply) {
    let st = this.channels.get(reply.channel);
    if (st && st.ended) {
      // a channel number used again after its attachment ended: start afresh
      this.oldChannels.push(st);
      st = null;
      this.channels.delete(reply.channel);
    }
    st = this.ch(reply.channel);
    st.session = reply.session;
    st.reply = reply;
    return st;
  }

  _onMessage(data, isBinary) {
    this.arrivals++;
    if (isBinary) {
      const buf = Buffer.from(data);
      if (buf.length < 4) this.binaryErrors.push(buf);
      else this.ch(buf.readUInt32BE(0)).push(buf.subarray(4));
    } else {
      let m;
      try {
        m = JSON.parse(data.toString('utf8'));
      } catch {
        m = { __unparsable: data.toString('utf8') };
      }
      const hasId = m && typeof m === 'object' && 'id' in m && m.id !== null;
      if (hasId && (m.type === 'pty.open' || m.type === 'pty.attach') && Number.isInteger(m.channel)) {
        this._openChannel(m);
      }
      if (hasId && m.type === 'pty.detach') {
        for (const st of this.channels.values()) if (st.session === m.session && !st.ended) st.ended = true;
      }
      if (m && m.type === 'pty.exit' && !hasId) {
        const st = this.ch(m.channel);
        if (!st.exit) {
          st.exit = m;
          st.bytesAtExit = st.length;
          st.ended = true;
        }
      }
      if (hasId) {
        const key = JSON.stringify(m.id);
        const p = this.pending.get(key);
        if (p) {
          this.pending.delete(key);
          clearTimeout(p.timer);
          p.resolve(m);
        } else this.strays.push(m);
      } else {
        this.events.push({ msg: m, at: this.arrivals, taken: false });
      }
    }
    this._wake();
  }

  _wake() {
    for (const w of [...this.waiters]) w.check();
  }

  /** Sends a control message (object → JSON text) without waiting. */
  send(msg) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg), { binary: false });
  }

  /** Sends input: a binary message [u32 BE channel][data] (data: Buffer or string, UTF-8). */
  input(channel, data) {
    const body = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(channel >>> 0, 0);
    this.ws.send(Buffer.concat([head, body]), { binary: true });
  }

  /** Sends msg (an id is added when absent) and resolves the reply or error carrying its id. */
  request(msg, timeoutMs = 5000) {
    const m = 'id' in msg ? msg : { ...msg, id: `r${this.nextId++}` };
    const key = JSON.stringify(m.id);
    return new Promise((resolve, reject) => {
      if (this.closeInfo) {
        reject(new Error(`connection closed (${this.closeInfo.code}) before ${m.type}`));
        return;
      }
      const what = `${m.type} id ${key}`;
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new Error(`no reply to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer, what });
      this.send(m);
    });
  }

  /** Resolves pred()'s truthy value once it holds (checked now and at every incoming message). */
  waitFor(pred, { timeoutMs = 5000, what = 'condition', describe } = {}) {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          let v;
          try {
            v = pred();
          } catch (e) {
            finish();
            reject(e);
            return;
          }
          if (v) {
            finish();
            resolve(v);
          } else if (this.closeInfo) {
            finish();
            reject(new Error(`${what}: connection closed (${this.closeInfo.code}) first${describe ? '; ' + describe() : ''}`));
          }
        },
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${what}: not within ${timeoutMs} ms${describe ? '; ' + describe() : ''}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(w);
      };
      this.waiters.add(w);
      w.check();
    });
  }

  /** Waits until the channel's output (from byte offset `from`) contains `needle` (string, or
   *  a RegExp matched against the latin1 text) `count` times; resolves the channel. */
  waitOutput(channel, needle, { from = 0, count = 1, timeoutMs = 5000 } = {}) {
    const st = this.ch(channel);
    const occurrences = () => {
      const s = st.text(from);
      if (needle instanceof RegExp) {
        const re = new RegExp(needle.source, needle.flags.includes('g') ? needle.flags : needle.flags + 'g');
        return (s.match(re) || []).length;
      }
      let n = 0;
      for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + needle.length)) n++;
      return n;
    };
    return this.waitFor(() => occurrences() >= count && st, {
      timeoutMs,
      what: `output ${needle instanceof RegExp ? needle : JSON.stringify(needle)} x${count} on channel ${st.channel}`,
      describe: () => st.describe(),
    });
  }

  /** Waits until at least n bytes arrived on the channel. */
  waitBytes(channel, n, { timeoutMs = 5000 } = {}) {
    const st = this.ch(channel);
    return this.waitFor(() => st.length >= n && st, {
      timeoutMs,
      what: `${n} bytes on channel ${st.channel}`,
      describe: () => st.describe(),
    });
  }

  /** Waits for the pty.exit of a channel; resolves the event. */
  waitExit(channel, { timeoutMs = 5000 } = {}) {
    const st = this.ch(channel);
    return this.waitFor(() => st.exit, {
      timeoutMs,
      what: `pty.exit on channel ${st.channel}`,
      describe: () => st.describe(),
    });
  }

  /** Takes (once) the first event not yet taken that matches pred; waits for it. */
  waitEvent(pred, { timeoutMs = 5000, what = 'event' } = {}) {
    return this.waitFor(
      () => {
        const e = this.events.find((x) => !x.taken && pred(x.msg));
        if (!e) return null;
        e.taken = true;
        return e.msg;
      },
      { timeoutMs, what, describe: () => `events: ${JSON.stringify(this.events.map((x) => x.msg)).slice(0, 600)}` },
    );
  }

  /** The next error with id null of the given code (e.g. unknown_channel after bad input). */
  waitError(code, opts = {}) {
    return this.waitEvent((m) => m.type === 'error' && m.code === code, { what: `error ${code}`, ...opts });
  }

  /** pty.open that must succeed; resolves the reply (reply.ch is its PtyChannel). */
  async open(fields = {}, timeoutMs = 10000) {
    const r = await this.request({ type: 'pty.open', ...fields }, timeoutMs);
    if (r.type !== 'pty.open') throw new Error(`pty.open ${JSON.stringify(fields)} failed: ${JSON.stringify(r)}`);
    Object.defineProperty(r, 'ch', { value: this.ch(r.channel), enumerable: false }); // not in JSON
    return r;
  }

  /** pty.attach that must succeed; resolves the reply (reply.ch is its PtyChannel). */
  async attach(fields, timeoutMs = 5000) {
    const r = await this.request({ type: 'pty.attach', ...fields }, timeoutMs);
    if (r.type !== 'pty.attach') throw new Error(`pty.attach ${JSON.stringify(fields)} failed: ${JSON.stringify(r)}`);
    Object.defineProperty(r, 'ch', { value: this.ch(r.channel), enumerable: false }); // not in JSON
    return r;
  }

  /** pty.list's sessions. */
  async list() {
    const r = await this.request({ type: 'pty.list' });
    if (r.type !== 'pty.list' || !Array.isArray(r.sessions)) throw new Error(`pty.list failed: ${JSON.stringify(r)}`);
    return r.sessions;
  }

  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }
  terminate() {
    this.ws.terminate();
    return this.closed;
  }
}

/** Opens an authenticated WebSocket to the daemon and completes hello; resolves a PtyClient
 *  (its hello reply in `.helloReply`). With t, t.after terminates it. */
export async function connectPty(d, t, { hello = true } = {}) {
  const ws = new WebSocket(d.endpoint.url, [], {
    headers: authHeaders(d.endpoint.token),
    perMessageDeflate: false,
    handshakeTimeout: 5000,
  });
  const c = new PtyClient(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
  if (t) t.after(() => c.terminate());
  if (hello) {
    const r = await c.request({ type: 'hello', id: 'hello', protocol: 1 });
    if (r.type !== 'hello') throw new Error(`hello failed: ${JSON.stringify(r)}`);
    c.helloReply = r;
  }
  return c;
}

/** /proc/PID/stat fields: {pid, comm, state, ppid, pgrp, session, tty_nr, tpgid}, or null. */
export function procStat(pid) {
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  return {
    pid: Number(pid),
    comm,
    state: f[0],
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    tty_nr: Number(f[4]),
    tpgid: Number(f[5]),
  };
}

/** Every process whose parent is pid (any state, zombies included), from a scan of /proc. */
export function childProcesses(pid) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (st && st.ppid === pid) out.push(st);
  }
  return out;
}

/** Children of pid that are zombies (state Z). */
export function zombieChildren(pid) {
  return childProcesses(pid).filter((p) => p.state === 'Z');
}

// ---------------------------------------------------------------------------------------------
// Agent hooks (docs/hooks.md; docs/protocol.md, "Agent hooks")

/** The shared hook fixtures (in/*.json agent inputs, out/*.json Claude Code outputs). */
export const HOOK_FIXTURES = process.env.TETHER_HOOK_FIXTURES ?? '/work/shared/fixtures/hooks';

/** A fixture's text, exactly as stored. kind: 'in' or 'out'; name without .json. */
export function hookFixture(kind, name) {
  return fs.readFileSync(path.join(HOOK_FIXTURES, kind, `${name}.json`), 'utf8');
}

/**
 * Runs `tether hook --runtime-dir rt ...args` with `input` (string or Buffer) on stdin.
 * Resolves {code, signal, stdout, stderr, timedOut, ms}: ms from spawn to exit. Start it without
 * awaiting to have a hook waiting while the test plays the IDE.
 */
export async function runHook(rt, home, args = [], input = '', { timeoutMs = 15000, env = {}, cwd } = {}) {
  const t0 = performance.now();
  const r = await run(TETHER_BIN(), ['hook', '--runtime-dir', rt, ...args], {
    env: childEnv(home, env),
    input,
    timeoutMs,
    cwd,
  });
  return { ...r, ms: performance.now() - t0 };
}

/**
 * An IDE-side connection (a PtyClient: request(), waitEvent(), events) that has completed hello
 * and, unless `subscribe` is null, sent hooks.subscribe with those members. `raw` collects the
 * text of every text message as received (to check bytes, not just parsed values).
 */
export async function connectSubscriber(d, t, subscribe = { events: ['*'] }) {
  const c = await connectPty(d, t);
  c.raw = [];
  c.ws.on('message', (data, isBinary) => {
    if (!isBinary) c.raw.push(data.toString('utf8'));
  });
  if (subscribe) {
    const r = await c.request({ type: 'hooks.subscribe', ...subscribe });
    if (r.type !== 'hooks.subscribe') throw new Error(`hooks.subscribe failed: ${JSON.stringify(r)}`);
    c.subscribeReply = r;
  }
  return c;
}

/** Takes the next hooks.request on c that matches pred (any, by default). */
export function nextHookRequest(c, pred = () => true, timeoutMs = 5000) {
  return c.waitEvent((m) => m.type === 'hooks.request' && pred(m), { timeoutMs, what: 'hooks.request' });
}
