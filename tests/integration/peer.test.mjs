// Unix-socket peer check (SO_PEERCRED): a peer with another uid is refused even when the
// filesystem permissions would let it connect. Needs root (to run a client as another uid).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { daemonFor, connectUnix, assertError } from './lib.mjs';

const NOBODY = 65534;

// A tiny client: connect, send a hello frame, print every frame as a JSON line, then "EOF".
const CLIENT = `
const net = require('node:net');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const s = net.connect(process.argv[1]);
let buf = Buffer.alloc(0);
let ended = false;
s.on('connect', () => {
  // A daemon that refuses at accept time answers at once; give that answer a moment to arrive
  // so the hello does not race the daemon's close (EPIPE would hide the error frame).
  setTimeout(() => {
    if (ended) return;
    const p = Buffer.from(JSON.stringify({ type: 'hello', id: 1, protocol: 1 }));
    const h = Buffer.alloc(5); h.writeUInt32BE(p.length, 0); h.writeUInt8(1, 4);
    s.write(Buffer.concat([h, p]));
  }, 300);
});
s.on('data', (c) => {
  buf = Buffer.concat([buf, c]);
  while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(0)) {
    const n = buf.readUInt32BE(0), kind = buf.readUInt8(4);
    const payload = buf.subarray(5, 5 + n).toString('utf8');
    let msg; try { msg = JSON.parse(payload); } catch { msg = payload; }
    out({ kind, msg });
    if (msg && msg.type === 'hello') process.exit(0);
    buf = buf.subarray(5 + n);
  }
});
s.on('end', () => { ended = true; out('EOF'); process.exit(0); });
s.on('error', (e) => { out({ error: e.code || String(e) }); process.exit(3); });
setTimeout(() => { out('TIMEOUT'); process.exit(4); }, 5000);
`;

function runClient(sockPath, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', CLIENT, sockPath], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const lines = out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      resolve({ code, lines, stderr: err });
    });
  });
}

test('a peer with another uid gets forbidden_peer and EOF; the owner gets through', { timeout: 20000 }, async (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('needs root to run a client as uid 65534');
    return;
  }
  const d = await daemonFor(t);
  const sock = d.endpoint.socket;
  // Loosen every permission on the way to the socket, as a misconfiguration would.
  await fs.chmod(d.tmp, 0o711);
  await fs.chmod(d.rt, 0o755);
  await fs.chmod(sock, 0o666);

  const other = await runClient(sock, { uid: NOBODY, gid: NOBODY });
  const ctx = JSON.stringify(other);
  assert.ok(!other.lines.some((l) => l && l.error), `uid 65534 could reach the socket (so the filesystem is not what stops it): ${ctx}`);
  assert.equal(other.lines.length, 2, `exactly an error frame and EOF: ${ctx}`);
  assert.equal(other.lines[0].kind, 1);
  assertError(assert, other.lines[0].msg, { code: 'forbidden_peer' }, 'uid 65534');
  assert.equal(other.lines[1], 'EOF', ctx);

  // positive control: the daemon's own uid, same socket, same client
  const owner = await runClient(sock, {});
  assert.equal(owner.lines[0]?.kind, 1, JSON.stringify(owner));
  assert.equal(owner.lines[0].msg.type, 'hello', `root client: ${JSON.stringify(owner)}`);
  assert.equal(owner.lines[0].msg.transport, 'unix');

  // and the daemon is still serving
  const c = await connectUnix(sock);
  t.after(() => c.sock.destroy());
  const h = await c.hello();
  assert.equal(h.type, 'hello');
  const s = await c.request({ type: 'status', id: 2 });
  assert.equal(s.connections.unix, 1, 'the refused peer is not counted');
});
