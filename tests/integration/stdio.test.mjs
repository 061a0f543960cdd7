// `tether connect`: the stdio transport (docs/protocol.md, "Messages on a byte stream").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  daemonFor,
  spawnConnect,
  textFrame,
  encodeFrame,
  assertError,
  makeTempLayout,
  readEndpoint,
  waitPidGone,
  pidAlive,
  sleep,
  TETHERD_BIN,
  after,
} from './lib.mjs';

const T = { timeout: 20000 };

function connectFor(t, d, opts) {
  const c = spawnConnect(d.rt, d.home, opts);
  t.after(() => c.kill());
  return c;
}

test('stdio: hello (transport unix) and status', T, async (t) => {
  const d = await daemonFor(t);
  const c = connectFor(t, d);
  const h = await c.request({ type: 'hello', id: 1, protocol: 1, client: { name: 'it-stdio' } });
  assert.equal(h.type, 'hello', `${JSON.stringify(h)} stderr: ${c.stderr()}`);
  assert.equal(h.transport, 'unix');
  assert.equal(h.protocol, 1);
  assert.equal(h.server.name, 'tetherd');
  const s = await c.request({ type: 'status', id: 2 });
  assert.equal(s.type, 'status');
  assert.equal(s.pid, d.endpoint.pid, 'talking to the running daemon, not a new one');
  assert.equal(s.connections.unix, 1);
  assert.equal(s.connections.websocket, 0);
  // errors on the byte stream work like on WebSocket
  const e = await c.request({ type: 'status', id: 3, x: 1 });
  assertError(assert, e, { code: 'unknown_field', field: 'x', id: 3 });
  // a zero-length text frame is allowed framing-wise (and is invalid JSON)
  c.send(encodeFrame(1, Buffer.alloc(0)));
  const z = await c.next();
  assertError(assert, z, { code: 'invalid_json', id: null }, 'zero-length text frame');
  // binary frames
  c.send(encodeFrame(2, Buffer.from([0, 0, 0, 7, 1, 2])));
  assertError(assert, await c.next(), { code: 'unknown_channel', id: null }, 'binary frame for channel 7');
  c.send(encodeFrame(2, Buffer.from([0])));
  assertError(assert, await c.next(), { code: 'invalid_binary', id: null }, '1-byte binary frame');
  // not UTF-8: invalid_message on a byte stream (WebSocket closes with 1007 instead)
  c.send(encodeFrame(1, Buffer.from([0x22, 0xff, 0xfe, 0x22])));
  assertError(assert, await c.next(), { code: 'invalid_message', id: null }, 'non-UTF-8 text frame');
  const s2 = await c.request({ type: 'status', id: 4 });
  assert.equal(s2.type, 'status');
  // closing stdin ends the session and the process
  c.proc.stdin.end();
  const ex = await Promise.race([c.exited, after(5000, 'timeout')]);
  assert.notEqual(ex, 'timeout', 'tether connect exits when its stdin closes');
});

test('stdio: frame kind 7 -> protocol_violation, then EOF and exit', T, async (t) => {
  const d = await daemonFor(t);
  const c = connectFor(t, d);
  await c.hello();
  c.send(encodeFrame(7, '{"type":"status","id":1}'));
  const m = await c.next(5000);
  assertError(assert, m, { code: 'protocol_violation' }, 'kind 7');
  const end = await Promise.race([c.ended, after(5000, false)]);
  assert.equal(end, true, 'stdout ends after protocol_violation');
  const ex = await Promise.race([c.exited, after(5000, 'timeout')]);
  assert.notEqual(ex, 'timeout', 'tether connect exits');
  // no further frames arrived
  assert.equal(c.frames.length, 2, 'only the hello reply and the error');
  // the daemon itself is fine
  const c2 = connectFor(t, d);
  const h = await c2.hello();
  assert.equal(h.type, 'hello');
});

test('stdio: oversize frame -> message_too_large, stream goes on', T, async (t) => {
  const d = await daemonFor(t, { args: ['--max-message-bytes', '65536'] });
  const c = connectFor(t, d);
  await c.hello();
  const payload = Buffer.alloc(100000, 0x61); // 'aaaa...' : not even JSON; must be skipped unread
  c.send(encodeFrame(1, payload));
  const m = await c.next(5000);
  assertError(assert, m, { code: 'message_too_large', id: null }, '100000-byte text frame');
  const s = await c.request({ type: 'status', id: 'after-big' });
  assert.equal(s.type, 'status', `status after the skipped frame: ${JSON.stringify(s)}`);
  // an oversize binary frame too, then a normal request in the same write
  c.send(Buffer.concat([encodeFrame(2, Buffer.alloc(70000, 1)), textFrame({ type: 'status', id: 'same-write' })]));
  assertError(assert, await c.next(5000), { code: 'message_too_large', id: null }, 'oversize binary frame');
  const s2 = await c.next(5000);
  assert.equal(s2.type, 'status');
  assert.equal(s2.id, 'same-write');
});

test('stdio: frames split byte by byte, and several frames in one write', T, async (t) => {
  const d = await daemonFor(t);
  const c = connectFor(t, d);
  await c.hello();
  const frame = textFrame({ type: 'status', id: 'bytewise' });
  for (const b of frame) {
    await c.write(Buffer.from([b]));
    await sleep(2);
  }
  const m = await c.next(5000);
  assert.equal(m.type, 'status', JSON.stringify(m));
  assert.equal(m.id, 'bytewise');

  const many = Buffer.concat([1, 2, 3, 4, 5].map((id) => textFrame({ type: 'status', id })));
  await c.write(many);
  for (let id = 1; id <= 5; id++) {
    const r = await c.next(5000);
    assert.equal(r.id, id);
  }
});

test('stdio: tether connect starts the daemon when none runs', { timeout: 30000 }, async (t) => {
  const { tmp, rt, home } = await makeTempLayout();
  let pid = null;
  t.after(async () => {
    const ep = pid ? null : await readEndpoint(rt, home).catch(() => null);
    const p = pid ?? ep?.pid;
    if (p && pidAlive(p)) {
      process.kill(p, 'SIGTERM');
      if (!(await waitPidGone(p, 5000))) process.kill(p, 'SIGKILL');
    }
    await fs.rm(tmp, { recursive: true, force: true });
  });
  await fs.mkdir(path.join(home, '.config', 'tether'), { recursive: true });
  await fs.writeFile(path.join(home, '.config', 'tether', 'tetherd.json'), JSON.stringify({ port: 0 }));
  assert.equal(await readEndpoint(rt, home), null, 'no daemon runs for the fresh runtime dir');

  // tetherd is found next to tether or on PATH
  const env = { PATH: `${path.dirname(TETHERD_BIN())}:${process.env.PATH}` };
  const c = spawnConnect(rt, home, { env });
  t.after(() => c.kill());
  const h = await c.request({ type: 'hello', id: 1, protocol: 1 }, 10000).catch((e) => {
    throw new Error(`${e.message}; tether connect stderr: ${c.stderr()}`);
  });
  assert.equal(h.type, 'hello');
  assert.equal(h.transport, 'unix');
  const s = await c.request({ type: 'status', id: 2 });
  assert.equal(s.type, 'status');
  assert.notEqual(s.listen.port, 7420, 'the config file (port 0) was used');
  assert.equal(s.listen.socket, path.join(rt, 'tetherd.sock'));

  const ep = await readEndpoint(rt, home);
  assert.ok(ep, 'the started daemon published its endpoint');
  pid = ep.pid;
  assert.equal(ep.pid, s.pid);
  assert.equal(ep.port, s.listen.port);
  assert.notEqual(ep.pid, c.proc.pid, 'the daemon is its own process');

  // the daemon outlives the bridge
  c.proc.stdin.end();
  await Promise.race([c.exited, after(5000)]);
  await sleep(200);
  assert.ok(pidAlive(pid), 'the auto-started daemon keeps running after tether connect exits');

  process.kill(pid, 'SIGTERM');
  assert.ok(await waitPidGone(pid, 5000), 'the auto-started daemon stops on SIGTERM');
});
