// Connection limits and back-pressure (docs/protocol.md, "Limits and flow").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daemonFor,
  tryWs,
  connectHello,
  authHeaders,
  connectUnix,
  rssBytes,
  assertError,
  until,
  sleep,
} from './lib.mjs';

test('--max-connections 3: the 4th WebSocket gets 503; after one closes a new one succeeds', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--max-connections', '3'] });
  const { url, token } = d.endpoint;
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await connectHello(d, t));

  const fourth = await tryWs(url, { headers: authHeaders(token) });
  if (fourth.ok) fourth.client.terminate();
  assert.equal(fourth.ok, false, 'the 4th upgrade must be refused while 3 are open');
  assert.equal(fourth.status, 503);

  // the three are unaffected
  for (const [i, c] of clients.entries()) {
    const r = await c.request({ type: 'status', id: i });
    assert.equal(r.type, 'status');
    assert.equal(r.connections.websocket, 3);
    assert.equal(r.connections.max, 3);
  }

  await clients[0].close();
  const again = await until(
    async () => {
      const r = await tryWs(url, { headers: authHeaders(token) });
      if (r.ok) return r;
      assert.equal(r.status, 503, `while the slot frees, only 503 is acceptable: ${r.status}`);
      return null;
    },
    { timeoutMs: 5000, what: 'a new connection after closing one' },
  );
  t.after(() => again.client.terminate());
  const h = await again.client.hello();
  assert.equal(h.type, 'hello');

  // full again
  const fifth = await tryWs(url, { headers: authHeaders(token) });
  if (fifth.ok) fifth.client.terminate();
  assert.equal(fifth.status, 503, 'full again after the replacement connected');
});

test('--max-connections 3: the 4th unix connection gets too_many_connections and is closed', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--max-connections', '3'] });
  const sock = d.endpoint.socket;
  const clients = [];
  t.after(() => clients.forEach((c) => c.sock.destroy()));
  for (let i = 0; i < 3; i++) {
    const c = await connectUnix(sock);
    clients.push(c);
    const h = await c.hello();
    assert.equal(h.transport, 'unix');
  }
  const fourth = await connectUnix(sock);
  clients.push(fourth);
  const m = await fourth.next(5000);
  assertError(assert, m, { code: 'too_many_connections', id: null }, '4th unix connection');
  await fourth.ended;

  // WebSocket is a separate transport: its own 3 slots
  const ws = await connectHello(d, t);
  const st = await ws.request({ type: 'status', id: 1 });
  assert.equal(st.connections.unix, 3);
  assert.equal(st.connections.websocket, 1);

  clients[0].sock.destroy();
  // after one closes, hello eventually succeeds on a new unix connection
  const ok = await until(
    async () => {
      const c = await connectUnix(sock);
      clients.push(c);
      c.send({ type: 'hello', id: 'h', protocol: 1 });
      const r = await c.next(2000);
      return r.type === 'hello' ? r : null;
    },
    { timeoutMs: 5000, what: 'a unix connection after closing one' },
  );
  assert.equal(ok.transport, 'unix');
});

test('back-pressure: a client that stops reading is paused, others unaffected, nothing lost', { timeout: 45000 }, async (t) => {
  const N = 20000;
  const d = await daemonFor(t, { args: ['--max-queued-bytes', '65536'] });
  const slow = await connectHello(d, t);
  const other = await connectHello(d, t);
  const sample = await slow.request({ type: 'status', id: N });
  const replyBytes = Buffer.byteLength(JSON.stringify(sample));
  await sleep(200);
  const baseline = rssBytes(d.pid);

  // stop reading, then flood
  slow.ws._socket.pause();
  for (let i = 1; i <= N; i++) slow.send({ type: 'status', id: i });
  await sleep(1000);

  const during = rssBytes(d.pid);
  const growth = during - baseline;
  const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
  // AddressSanitizer keeps freed memory in quarantine, so RSS says nothing there;
  // the same test runs without it in the plain build.
  const sanitized = Boolean(process.env.ASAN_OPTIONS);
  if (sanitized) t.diagnostic('RSS bounds skipped: ASan quarantine holds freed memory');
  if (!sanitized) assert.ok(growth < 30 * 1024 * 1024, `daemon RSS grew by ${mib(growth)} (< 30 MiB)`);
  // Sharper: holding every reply would take N x (reply size); the queue is capped at 64 KiB,
  // so the growth must stay well below half of that (a daemon without back-pressure grows by
  // about the full amount, minus what the kernel's socket buffers hold).
  const allReplies = N * replyBytes;
  if (!sanitized) assert.ok(growth < allReplies / 2, `daemon RSS grew by ${mib(growth)}, not bounded by the queue (all replies: ${mib(allReplies)})`);

  // the other client is served promptly while the slow one is stuck
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const r = await other.request({ type: 'status', id: `o${i}` }, 2000);
    const ms = performance.now() - t0;
    assert.equal(r.type, 'status');
    assert.ok(ms < 500, `other client's status took ${ms.toFixed(1)} ms`);
    if (i === 0) assert.equal(r.connections.websocket, 2, 'the slow client is still connected');
  }
  assert.equal(slow.closeInfo, null, 'the slow client was not disconnected');

  // read again: every reply arrives, once, in order
  slow.ws._socket.resume();
  for (let i = 1; i <= N; i++) {
    const m = await slow.next(10000);
    if (m.type !== 'status' || m.id !== i) {
      assert.fail(`reply ${i}: expected status id ${i}, got ${JSON.stringify(m)}`);
    }
  }
  const extra = await slow.next(300).catch(() => null);
  assert.equal(extra, null, 'no duplicate replies');
  const r = await slow.request({ type: 'status', id: 'after' });
  assert.equal(r.type, 'status');
  const after = rssBytes(d.pid);
  if (!sanitized) assert.ok(after - baseline < 30 * 1024 * 1024, `RSS after draining grew by ${((after - baseline) / 1048576).toFixed(1)} MiB`);
});
