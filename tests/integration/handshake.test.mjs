// hello / status / ids / ordering (docs/protocol.md, "Control messages").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonFor, connectHello, openWs, authHeaders, until } from './lib.mjs';

const T = { timeout: 20000 };

test('hello reply carries protocol, server, connection, transport, capabilities, limits', T, async (t) => {
  const d = await daemonFor(t);
  const c = await openWs(d.endpoint.url, { headers: authHeaders(d.endpoint.token) }, t);
  c.send({ type: 'hello', id: 1, protocol: 1, client: { name: 'it-handshake', version: '0.0.1' } });
  const r = await c.next();
  assert.equal(r.type, 'hello', JSON.stringify(r));
  assert.equal(r.id, 1);
  assert.equal(r.protocol, 1);
  assert.equal(typeof r.server, 'object');
  assert.equal(r.server.name, 'tetherd');
  assert.equal(typeof r.server.version, 'string');
  assert.match(r.server.version, /^\d+\.\d+\.\d+/);
  assert.equal(r.server.version, d.endpoint.version, 'hello server.version equals the endpoint version');
  assert.ok(Number.isInteger(r.connection), `connection is an integer: ${r.connection}`);
  assert.equal(r.transport, 'websocket');
  assert.equal(typeof r.capabilities, 'object');
  assert.ok(r.capabilities !== null && !Array.isArray(r.capabilities), 'capabilities is an object');
  assert.equal(typeof r.limits, 'object');
  assert.equal(r.limits.max_message_bytes, 1048576, 'default max_message_bytes is 1 MiB');
  assert.equal(r.limits.max_queued_bytes, 8388608, 'default max_queued_bytes is 8 MiB');
  assert.ok(!JSON.stringify(r).includes(d.endpoint.token), 'token not in the hello reply');

  // A second connection gets a different number.
  const c2 = await openWs(d.endpoint.url, { headers: authHeaders(d.endpoint.token) }, t);
  const r2 = await c2.hello(2);
  assert.ok(Number.isInteger(r2.connection));
  assert.notEqual(r2.connection, r.connection, 'connection numbers are unique');
});

test('hello limits reflect the configured limits', T, async (t) => {
  const d = await daemonFor(t, { args: ['--max-message-bytes', '65536', '--max-queued-bytes', '131072'] });
  const c = await openWs(d.endpoint.url, { headers: authHeaders(d.endpoint.token) }, t);
  const r = await c.hello();
  assert.equal(r.limits.max_message_bytes, 65536);
  assert.equal(r.limits.max_queued_bytes, 131072);
});

test('status reply: version, pid, uptime, listen, connections (counts a second client)', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectHello(d, t);
  const s1 = await c.request({ type: 'status', id: 2 });
  assert.equal(s1.type, 'status', JSON.stringify(s1));
  assert.equal(s1.id, 2);
  assert.equal(s1.version, d.endpoint.version);
  assert.equal(s1.protocol, 1);
  assert.equal(s1.pid, d.endpoint.pid, 'status pid equals the endpoint pid');
  assert.equal(s1.pid, d.proc.pid, 'status pid is the daemon process');
  assert.equal(typeof s1.started_at, 'string');
  assert.ok(!Number.isNaN(Date.parse(s1.started_at)), `started_at parses: ${s1.started_at}`);
  assert.ok(Number.isInteger(s1.uptime_ms) && s1.uptime_ms >= 0, `uptime_ms: ${s1.uptime_ms}`);
  assert.equal(s1.listen.host, '127.0.0.1');
  assert.equal(s1.listen.port, d.endpoint.port);
  assert.notEqual(s1.listen.port, 0, 'the real port, not the requested 0');
  assert.equal(typeof s1.listen.socket, 'string');
  assert.equal(s1.listen.socket, `${d.rt}/tetherd.sock`);
  assert.deepEqual(
    { total: s1.connections.total, websocket: s1.connections.websocket, unix: s1.connections.unix },
    { total: 1, websocket: 1, unix: 0 },
  );
  assert.equal(s1.connections.max, 256, 'default max_connections');
  assert.ok(!JSON.stringify(s1).includes(d.endpoint.token), 'the token is never part of status');

  // uptime advances
  await new Promise((r) => setTimeout(r, 120));
  const sUp = await c.request({ type: 'status', id: 3 });
  assert.ok(sUp.uptime_ms >= s1.uptime_ms + 100, `uptime advances: ${s1.uptime_ms} -> ${sUp.uptime_ms}`);

  // a second client
  const c2 = await connectHello(d, t);
  const s2 = await c.request({ type: 'status', id: 4 });
  assert.equal(s2.connections.total, 2, JSON.stringify(s2.connections));
  assert.equal(s2.connections.websocket, 2, JSON.stringify(s2.connections));
  assert.equal(s2.connections.unix, 0, JSON.stringify(s2.connections));

  // and it goes away again
  await c2.close();
  await until(
    async () => {
      const s = await c.request({ type: 'status', id: 'poll' });
      return s.connections.total === 1 && s.connections.websocket === 1;
    },
    { what: 'connection count back to 1 after the second client closed' },
  );
});

test('ids are echoed: integers and strings at their limits', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectHello(d, t);
  const ids = [
    0,
    7,
    -5,
    123456789012345, // 15 digits
    1234567890123456, // 16 digits
    2 ** 53 - 1,
    2 ** 53, // the documented maximum |id|
    -(2 ** 53),
    '',
    'abc',
    'x'.repeat(128), // 128 bytes: the maximum
    'é'.repeat(64), // 128 bytes of UTF-8
    '42', // a string that looks like a number stays a string
  ];
  // Collect every echo first so a failure lists all mismatches at once.
  const raw = [];
  c.ws.on('message', (data, isBinary) => {
    if (!isBinary) raw.push(data.toString('utf8'));
  });
  const echoed = [];
  for (const id of ids) {
    c.send({ type: 'status', id });
    const m = await c.next();
    assert.equal(m.type, 'status', `id ${JSON.stringify(id)}: ${JSON.stringify(m)}`);
    echoed.push(m.id);
  }
  const mismatches = ids
    .map((id, i) => ({ sent: id, got: echoed[i], raw: raw[i]?.slice(0, 48) }))
    .filter((x) => x.got !== x.sent);
  assert.deepEqual(mismatches, [], 'every id comes back exactly (same value, same JSON type)');
});

test('hello id is echoed (string id)', T, async (t) => {
  const d = await daemonFor(t);
  const c = await openWs(d.endpoint.url, { headers: authHeaders(d.endpoint.token) }, t);
  c.send({ type: 'hello', id: 'h-1', protocol: 1 });
  const r = await c.next();
  assert.equal(r.type, 'hello');
  assert.equal(r.id, 'h-1');
});

test('replies come in request order (burst of 200 mixed requests)', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectHello(d, t);
  const sent = [];
  for (let i = 0; i < 200; i++) {
    // mix successes and errors: every 7th is an unknown type, which errors with the same id
    const id = i % 2 ? i : `s${i}`;
    const msg = i % 7 === 3 ? { type: 'no_such_request', id } : { type: 'status', id };
    sent.push(msg);
    c.send(msg);
  }
  for (const msg of sent) {
    const m = await c.next();
    assert.deepEqual(m.id, msg.id, `in order: expected id ${JSON.stringify(msg.id)}, got ${JSON.stringify(m)}`);
    if (msg.type === 'status') assert.equal(m.type, 'status');
    else {
      assert.equal(m.type, 'error');
      assert.equal(m.code, 'unknown_type');
    }
  }
  const extra = await c.next(200).catch(() => null);
  assert.equal(extra, null, 'exactly one reply per request');
});
