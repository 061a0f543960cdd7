// Graceful shutdown, token secrecy, ping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  daemonFor,
  connectHello,
  spawnConnect,
  tryWs,
  authHeaders,
  httpGet,
  sleep,
  waitExit,
  WebSocket,
  after,
} from './lib.mjs';

function runtimeFiles(rt) {
  return fs.readdirSync(rt).sort();
}

async function shutdownTest(t, signal) {
  const d = await daemonFor(t);
  const ws = await connectHello(d, t);
  const stdio = spawnConnect(d.rt, d.home);
  t.after(() => stdio.kill());
  await stdio.hello();

  const before = runtimeFiles(d.rt);
  for (const f of ['endpoint.json', 'token', 'tetherd.sock']) {
    assert.ok(before.includes(f), `${f} exists while running (have ${before.join(', ')})`);
  }
  assert.equal(fs.statSync(path.join(d.rt, 'token')).mode & 0o777, 0o600, 'token file is 0600');
  assert.equal(fs.readFileSync(path.join(d.rt, 'token'), 'utf8').trim(), d.endpoint.token);

  const t0 = Date.now();
  d.proc.kill(signal);

  // Observe everything first (each with its own time limit), then compare with what
  // docs/protocol.md promises, so one failure report shows every deviation at once.
  const never = after;
  const [ev, close, sev, eof, cexit, dexit] = await Promise.all([
    ws.next(5000).catch((e) => ({ missing: e.message })),
    Promise.race([ws.closed, never(5000, 'no close within 5 s')]),
    stdio.next(5000).catch((e) => ({ missing: e.message })),
    Promise.race([stdio.ended.then(() => 'EOF'), never(5000, 'no EOF within 5 s')]),
    Promise.race([stdio.exited.then(() => 'exited'), never(5000, 'still running after 5 s')]),
    waitExit(d.proc, 5000).then((x) => ({ ...x, within5s: Date.now() - t0 < 5000 }), () => 'still running after 5 s'),
  ]);
  const leftover = runtimeFiles(d.rt);
  const reason = typeof ev?.reason === 'string' && ev.reason.length > 0 ? ev.reason : '(no reason)';
  const observed = {
    wsEvent: { type: ev?.type, hasReason: typeof ev?.reason === 'string' && ev.reason.length > 0, hasId: ev ? 'id' in ev : null },
    wsClose: typeof close === 'object' ? { code: close.code, reason: close.reason } : close,
    stdioEvent: { type: sev?.type, reason: sev?.reason },
    stdioEnd: eof,
    connectProcess: cexit,
    daemonExit: dexit,
    leftInRuntimeDir: leftover.filter((f) => ['endpoint.json', 'token', 'tetherd.sock'].includes(f)),
  };
  const expected = {
    wsEvent: { type: 'shutdown', hasReason: true, hasId: false },
    wsClose: { code: 1001, reason },
    stdioEvent: { type: 'shutdown', reason },
    stdioEnd: 'EOF',
    connectProcess: 'exited',
    daemonExit: { code: 0, signal: null, within5s: true },
    leftInRuntimeDir: [],
  };
  assert.deepEqual(observed, expected, `graceful stop on ${signal}`);
  return ev;
}

test('SIGTERM: shutdown event + 1001 on WebSocket, shutdown frame + EOF on stdio, exit 0, files removed', { timeout: 20000 }, async (t) => {
  const ev = await shutdownTest(t, 'SIGTERM');
  assert.match(ev.reason, /SIGTERM/, 'the reason names the signal');
});

test('SIGINT: the same graceful stop, exit 0', { timeout: 20000 }, async (t) => {
  const ev = await shutdownTest(t, 'SIGINT');
  assert.match(ev.reason, /SIGINT/, 'the reason names the signal');
});

test('SIGTERM with no clients: exit 0 quickly, files removed', { timeout: 15000 }, async (t) => {
  const d = await daemonFor(t);
  const t0 = Date.now();
  const ex = await d.stop('SIGTERM', 5000).catch(() => 'still running 5 s after SIGTERM');
  assert.deepEqual(ex, { code: 0, signal: null }, 'exit status after SIGTERM');
  assert.ok(Date.now() - t0 < 5000);
  const left = runtimeFiles(d.rt).filter((f) => f !== 'tetherd.lock');
  assert.deepEqual(left, [], 'nothing but the lock file remains');
});

test('the token never appears in cmdline, environ or the log', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--log-level', 'debug'] });
  const { token, url, port } = d.endpoint;

  // traffic, including failed authentication that the daemon logs
  const c = await connectHello(d, t);
  await c.request({ type: 'status', id: 1 });
  c.send('{"type":');
  await c.next();
  const bad = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
  for (const opts of [
    { headers: authHeaders(bad) },
    { headers: {} },
    { protocols: ['tether.v1', `tether.token.${bad}`] },
    // the VALID token in requests refused for other reasons: must not be logged either
    { headers: { ...authHeaders(token), Origin: 'https://evil.example' } },
    { headers: { ...authHeaders(token), Host: `evil.example:${port}` } },
    { protocols: ['tether.v1', `tether.token.${token}`], headers: { Origin: 'https://evil.example' } },
  ]) {
    const r = await tryWs(url, opts);
    if (r.ok) r.client.terminate();
  }
  await httpGet(port, `/nope?token=${token}`, authHeaders(token));
  await httpGet(port, '/healthz', {});
  const ok = await tryWs(url, { protocols: ['tether.v1', `tether.token.${token}`] });
  assert.equal(ok.ok, true);
  await ok.client.hello();
  ok.client.terminate();
  const stdio = spawnConnect(d.rt, d.home);
  t.after(() => stdio.kill());
  await stdio.hello();

  const cmdline = fs.readFileSync(`/proc/${d.pid}/cmdline`, 'latin1');
  assert.ok(cmdline.includes('--runtime-dir'), 'read the right process');
  assert.ok(!cmdline.includes(token), 'token not in /proc/PID/cmdline');
  const environ = fs.readFileSync(`/proc/${d.pid}/environ`, 'latin1');
  assert.ok(!environ.includes(token), 'token not in /proc/PID/environ');
  const cl = fs.readFileSync(`/proc/${stdio.proc.pid}/cmdline`, 'latin1') + fs.readFileSync(`/proc/${stdio.proc.pid}/environ`, 'latin1');
  assert.ok(!cl.includes(token), 'token not in tether connect argv/environ');

  await sleep(100);
  const log1 = d.log();
  assert.ok(log1.trim().split('\n').length >= 5, `the daemon logged the traffic (else this proves nothing):\n${log1}`);
  assert.ok(!log1.includes(token), 'token not in the log while running');
  assert.ok(!log1.includes(token.slice(0, 16)), 'not even a token prefix in the log');

  // (whether the stop itself is clean is the shutdown tests' business)
  await d.stop('SIGTERM', 5000).catch(() => {});
  const log2 = d.log();
  assert.ok(!log2.includes(token), 'token not in the log after shutdown');
  assert.ok(!d.output().includes(token), 'token not on stdout/stderr');
});

test('--ping-interval 1: an idle client receives a ping within 3 s', { timeout: 15000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--ping-interval', '1'] });
  const c = await connectHello(d, t);
  const t0 = Date.now();
  const got = await new Promise((resolve) => {
    c.ws.once('ping', () => resolve(true));
    setTimeout(() => resolve(false), 3000).unref();
  });
  assert.equal(got, true, 'a ping arrived within 3 s');
  assert.ok(Date.now() - t0 < 3000);
  // ws answers pings automatically, so the connection stays up
  await sleep(2500);
  assert.equal(c.ws.readyState, WebSocket.OPEN, 'a client that answers pings is kept');
  const r = await c.request({ type: 'status', id: 1 });
  assert.equal(r.type, 'status');
});

test('--ping-interval 1: a client that never answers pings is closed', { timeout: 15000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--ping-interval', '1'] });
  const r = await tryWs(d.endpoint.url, { headers: authHeaders(d.endpoint.token), wsOptions: { autoPong: false } });
  assert.equal(r.ok, true);
  const c = r.client;
  t.after(() => c.terminate());
  await c.hello();
  let pings = 0;
  c.ws.on('ping', () => pings++);
  const t0 = Date.now();
  const closed = await Promise.race([c.closed, after(8000, null)]);
  assert.ok(pings >= 1, 'pings were sent');
  assert.ok(closed, `a client that never pongs is closed (after ${Date.now() - t0} ms, ${pings} pings)`);
  assert.ok(Date.now() - t0 >= 1500, `not closed before twice the interval (${Date.now() - t0} ms)`);
});
