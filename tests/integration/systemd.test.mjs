// tetherd under systemd (issue 6; docs/operations.md): sd_notify against a real NOTIFY_SOCKET
// (tests/systemd/notify_listener), socket activation through the real systemd-socket-activate,
// journal priorities on stderr, log rotation, and `systemd-analyze verify` on the units exactly
// as `tether service install` writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  makeTempLayout,
  readEndpoint,
  openWs,
  connectPty,
  authHeaders,
  httpGet,
  run,
  childEnv,
  waitExit,
  TETHERD_BIN,
  TETHER_BIN,
  sleep,
} from './lib.mjs';
import {
  startNotifyListener,
  fieldsOf,
  spawnTetherd,
  spawnProc,
  freePort,
  tcpAccepts,
  poll,
  readOr,
  writeFakeTools,
} from './lifelib.mjs';

async function layoutFor(t) {
  const l = await makeTempLayout('tether-sd-');
  t.after(() => fsp.rm(l.tmp, { recursive: true, force: true }));
  return l;
}

async function listenerFor(t, l) {
  const n = await startNotifyListener(path.join(l.tmp, 'notify.sock'));
  t.after(() => n.stop());
  return n;
}

function tetherdFor(t, l, opts) {
  const d = spawnTetherd(l, opts);
  t.after(() => d.stop('SIGKILL', 5000).catch(() => {}));
  return d;
}

const statusOf = (m) => fieldsOf(m).STATUS;

// ---------------------------------------------------------------------------------------------
// sd_notify

test('READY=1 only once the port accepts and the token and endpoint are written; exactly once', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  // Checked synchronously in the listener's data callback: the earliest moment we can know.
  const atReady = [];
  n.onMessage((m) => {
    if (!m.fields.includes('READY=1')) return;
    atReady.push({
      token: fs.existsSync(path.join(l.rt, 'token')),
      endpoint: fs.existsSync(path.join(l.rt, 'endpoint.json')),
      socket: fs.existsSync(path.join(l.rt, 'tetherd.sock')),
    });
  });
  const d = tetherdFor(t, l, { env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock') } });
  const ready = await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
  const port = Number(/^127\.0\.0\.1:(\d+);/.exec(statusOf(ready))?.[1]);
  assert.ok(port > 0, `READY carries STATUS=127.0.0.1:PORT;...: ${JSON.stringify(ready)}`);
  assert.equal(await tcpAccepts(port, 2000), true, `the port in READY's STATUS accepts at once (${port})`);
  assert.deepEqual(atReady[0], { token: true, endpoint: true, socket: true }, 'files present when READY arrived');

  assert.equal(n.messages[0], ready, `READY is the first notification: ${JSON.stringify(n.messages[0])}`);
  assert.equal(ready.pid, d.pid, 'sent by tetherd itself (NotifyAccess=main)');
  assert.match(statusOf(ready), /^127\.0\.0\.1:\d+; 0 clients \(0 websocket, 0 unix\); 0 terminals$/);
  const ep = JSON.parse(fs.readFileSync(path.join(l.rt, 'endpoint.json'), 'utf8'));
  assert.equal(ep.port, port, 'STATUS names the port endpoint.json has');
  const h = await httpGet(port, '/healthz');
  assert.equal(h.status, 200);

  await sleep(300);
  assert.equal(n.messages.filter((m) => m.fields.includes('READY=1')).length, 1, 'READY=1 is sent once');
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

test('STATUS= follows clients: a WebSocket client connecting and leaving', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const d = tetherdFor(t, l, { env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock') } });
  await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
  const ep = await poll(() => readEndpoint(l.rt, l.home), { what: 'endpoint' });
  const from = n.messages.length;

  const ws = await openWs(ep.url, { headers: authHeaders(ep.token) }, t);
  await ws.hello();
  const up = await n.waitFor((m) => /; 1 client \(1 websocket, 0 unix\); 0 terminals$/.test(statusOf(m) ?? ''), {
    from,
    what: 'STATUS with 1 websocket client',
  });
  assert.equal(up.pid, d.pid);
  assert.deepEqual(Object.keys(fieldsOf(up)), ['STATUS'], 'a change sends STATUS= alone');
  await ws.close();
  const down = await n.waitFor((m) => /; 0 clients \(0 websocket, 0 unix\); 0 terminals$/.test(statusOf(m) ?? ''), {
    from: n.messages.indexOf(up) + 1,
    what: 'STATUS back to 0 clients',
  });
  assert.equal(down.pid, d.pid);
  // Only changes are sent: no two consecutive STATUS= lines are equal.
  const statuses = n.messages.map(statusOf).filter(Boolean);
  for (let i = 1; i < statuses.length; i++) assert.notEqual(statuses[i], statuses[i - 1], `repeated STATUS: ${statuses[i]}`);
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

function watchdogPings(n, from = 0) {
  return n.messages.slice(from).filter((m) => m.fields.includes('WATCHDOG=1'));
}

test('WATCHDOG=1 every WATCHDOG_USEC/2 (200 ms → about 100 ms), from tetherd', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const d = tetherdFor(t, l, {
    env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock'), WATCHDOG_USEC: '200000' },
  });
  await poll(() => watchdogPings(n).length >= 12, { timeoutMs: 15000, what: '12 WATCHDOG=1', describe: () => JSON.stringify(n.messages).slice(-400) });
  const pings = watchdogPings(n);
  for (const p of pings) assert.equal(p.pid, d.pid, 'each ping comes from tetherd');
  const gaps = pings.slice(1).map((p, i) => p.t_ms - pings[i].t_ms).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  // A repeating loop timer never fires early, but the marks are when the listener read each
  // datagram, and a listener that was not scheduled for a while reads two at once: so the
  // median and the mean over the whole run, not the shortest gap, carry the lower bound.
  const mean = (pings.at(-1).t_ms - pings[0].t_ms) / (pings.length - 1);
  const shown = `gaps ${gaps.map((g) => g.toFixed(0))}`;
  assert.ok(median >= 90 && median <= 250, `median interval ${median.toFixed(1)} ms (${shown})`);
  assert.ok(mean >= 85 && mean <= 250, `mean interval ${mean.toFixed(1)} ms (${shown})`);
  assert.match(d.log(), /systemd watchdog: 200 ms, pinged every 100 ms/);
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

test('a stalled loop (TETHERD_TEST_STALL_MS + SIGUSR2) stops the pings for the stall', { timeout: 30000 }, async (t) => {
  const STALL = 800;
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const d = tetherdFor(t, l, {
    env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock'), WATCHDOG_USEC: '200000', TETHERD_TEST_STALL_MS: String(STALL) },
  });
  await poll(() => watchdogPings(n).length >= 3, { timeoutMs: 10000, what: 'pings before the stall' });
  const before = watchdogPings(n).length;
  const tKill = performance.now();
  d.kill('SIGUSR2');
  await poll(() => watchdogPings(n).length >= before + 3, { timeoutMs: 10000, what: 'pings after the stall' });
  const pings = watchdogPings(n);
  // The longest gap from the last ping before the signal on (a ping may still slip out
  // between the signal and its handling, so the stall's gap need not be the first one).
  const i0 = pings.findLastIndex((p) => p.at < tKill);
  const after = pings.slice(i0);
  const gap = Math.max(...after.slice(1).map((p, i) => p.t_ms - after[i].t_ms));
  assert.ok(gap >= STALL, `no ping for the ${STALL} ms stall: longest gap ${gap.toFixed(0)} ms`);
  // and the cadence before the stall was normal (the gap is the stall's, not the machine's)
  const early = pings.filter((p) => p.at < tKill);
  const maxEarly = Math.max(...early.slice(1).map((p, i) => p.t_ms - early[i].t_ms));
  assert.ok(maxEarly < STALL, `before the stall gaps stay under ${STALL} ms (max ${maxEarly.toFixed(0)})`);
  assert.match(d.log(), /test switch: blocking the loop for 800 ms/);
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

test('STATUS= follows terminals: a pty session opening and ending', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const d = tetherdFor(t, l, { env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock') } });
  await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
  const ep = await poll(() => readEndpoint(l.rt, l.home), { what: 'endpoint' });
  const c = await connectPty({ endpoint: ep }, t);
  const r = await c.open({ argv: ['/bin/cat'] });
  await n.waitFor((m) => /; 1 client \(1 websocket, 0 unix\); 1 terminal$/.test(statusOf(m) ?? ''), { what: 'STATUS with 1 terminal' });
  const from = n.messages.length;
  c.input(r.channel, '\x04'); // EOF: cat exits, the session ends
  await c.waitExit(r.channel, { timeoutMs: 10000 });
  await n.waitFor((m) => /; 1 client \(1 websocket, 0 unix\); 0 terminals$/.test(statusOf(m) ?? ''), { from, what: 'STATUS back to 0 terminals' });
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

test('terminals do not inherit the service\'s NOTIFY_SOCKET, WATCHDOG_* or JOURNAL_STREAM', {
  timeout: 30000,
}, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const d = tetherdFor(t, l, {
    env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock'), WATCHDOG_USEC: '60000000', JOURNAL_STREAM: '1:1' },
  });
  await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
  const ep = await poll(() => readEndpoint(l.rt, l.home), { what: 'endpoint' });
  const c = await connectPty({ endpoint: ep }, t);
  const r = await c.open({ argv: ['/usr/bin/env'] });
  await c.waitExit(r.channel, { timeoutMs: 10000 });
  const env = r.ch.text();
  assert.match(env, /^TERM=/m, 'env ran');
  const leaked = env.split(/\r?\n/).filter((x) => /^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID|JOURNAL_STREAM)=/.test(x));
  assert.deepEqual(leaked, [], 'systemd variables meant for tetherd alone');
  await d.stop();
});

test('STOPPING=1 with STATUS= on SIGTERM and on SIGINT', { timeout: 30000 }, async (t) => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const l = await layoutFor(t);
    const n = await listenerFor(t, l);
    const d = tetherdFor(t, l, { env: { NOTIFY_SOCKET: path.join(l.tmp, 'notify.sock') } });
    await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
    assert.deepEqual(await d.stop(sig), { code: 0, signal: null });
    const stopping = await n.waitFor((m) => m.fields.includes('STOPPING=1'), { what: `STOPPING=1 on ${sig}` });
    assert.equal(stopping.pid, d.pid);
    assert.equal(statusOf(stopping), `tetherd is stopping (${sig})`);
    assert.equal(n.messages.filter((m) => m.fields.includes('STOPPING=1')).length, 1);
  }
});

test('no NOTIFY_SOCKET: tetherd runs and stops as usual; a dead NOTIFY_SOCKET only warns', { timeout: 30000 }, async (t) => {
  for (const env of [{ WATCHDOG_USEC: '200000' }, { NOTIFY_SOCKET: '/nonexistent/tether-notify.sock' }]) {
    const l = await layoutFor(t);
    const d = tetherdFor(t, l, { env });
    const ep = await poll(() => readEndpoint(l.rt, l.home), { timeoutMs: 10000, what: `endpoint with ${JSON.stringify(env)}` });
    const ws = await openWs(ep.url, { headers: authHeaders(ep.token) }, t);
    await ws.hello();
    await sleep(250); // a few watchdog periods
    await ws.close();
    assert.deepEqual(await d.stop(), { code: 0, signal: null }, JSON.stringify(env));
    if (env.NOTIFY_SOCKET) assert.match(d.log(), /warn +sd_notify: /, 'a failed notification is logged');
    else assert.doesNotMatch(d.log(), /sd_notify/);
  }
});

test('WATCHDOG_PID of another process: no pings; WATCHDOG_PID of tetherd itself: pings', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const n = await listenerFor(t, l);
  const sock = path.join(l.tmp, 'notify.sock');
  const d = tetherdFor(t, l, { env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) } });
  await n.waitFor((m) => m.fields.includes('READY=1'), { what: 'READY=1', timeoutMs: 10000 });
  await sleep(700);
  assert.equal(watchdogPings(n).length, 0, `no WATCHDOG=1 when WATCHDOG_PID is someone else: ${JSON.stringify(n.messages)}`);
  assert.deepEqual(await d.stop(), { code: 0, signal: null });

  // The same through a shell that execs tetherd with WATCHDOG_PID=$$ (its own pid after exec).
  const l2 = await layoutFor(t);
  const n2 = await listenerFor(t, l2);
  const sh = spawnProc('/bin/sh', ['-c', 'WATCHDOG_PID=$$ exec "$0" "$@"', TETHERD_BIN(), '--runtime-dir', l2.rt, '--port', '0', '--log-file', path.join(l2.tmp, 'd.log')], {
    home: l2.home,
    env: { NOTIFY_SOCKET: path.join(l2.tmp, 'notify.sock'), WATCHDOG_USEC: '200000' },
  });
  t.after(() => sh.stop('SIGKILL').catch(() => {}));
  await poll(() => watchdogPings(n2).length >= 2, { timeoutMs: 10000, what: 'pings with WATCHDOG_PID=self' });
  assert.equal(watchdogPings(n2)[0].pid, sh.pid);
  assert.deepEqual(await sh.stop(), { code: 0, signal: null });
});

// ---------------------------------------------------------------------------------------------
// Socket activation (systemd-socket-activate execs tetherd on the first connection)

/**
 * Runs systemd-socket-activate with `listens` (array of -l values; the string PORT is replaced
 * by a free port) and tetherd args (PORT replaced too) and waits until it listens on all of
 * them; retries with another port when the port was taken meanwhile.
 */
async function socketActivate(t, l, listens, tetherdArgs, { extra = [] } = {}) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const port2 = await freePort();
    const sub = (s) => s.replaceAll('PORT2', String(port2)).replaceAll('PORT', String(port));
    const args = [...extra];
    for (const x of listens) args.push('-l', sub(x));
    // it clears the environment: pass HOME through (no user config is read from elsewhere)
    args.push('-E', `HOME=${l.home}`, TETHERD_BIN(), ...tetherdArgs.map(sub));
    const p = spawnProc('systemd-socket-activate', args, { home: l.home });
    t.after(() => p.stop('SIGKILL').catch(() => {}));
    const ok = await poll(
      () => {
        if (p.exitCode !== null) return 'exited';
        return (p.out().match(/^Listening on /gm) || []).length === listens.length && 'listening';
      },
      { timeoutMs: 10000, what: 'systemd-socket-activate listening', describe: () => p.out() },
    );
    if (ok === 'listening') return { p, port };
    if (!/in use/i.test(p.out())) throw new Error(`systemd-socket-activate failed: ${p.out()}`);
  }
  throw new Error('no free port after 5 attempts');
}

test('socket activation: TCP and unix listeners from systemd-socket-activate are served; the socket file stays', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const sock = path.join(l.rt, 'tetherd.sock');
  const log = path.join(l.tmp, 'tetherd.log');
  const { p, port } = await socketActivate(t, l, ['127.0.0.1:PORT', sock], ['--runtime-dir', l.rt, '--port', 'PORT', '--log-file', log]);
  // The first connection, queued on the inherited listener, is what starts tetherd.
  const h = await httpGet(port, '/healthz');
  assert.equal(h.status, 200, 'the first connection is answered by the tetherd it started');
  assert.match(readOr(log, ''), /socket activation: tcp \+ unix/);
  const ep = await poll(() => readEndpoint(l.rt, l.home), { what: 'endpoint' });
  assert.equal(ep.port, port, 'the port of the inherited TCP listener');
  assert.equal(ep.pid, p.pid, 'systemd-socket-activate exec()ed tetherd');
  const ws = await openWs(ep.url, { headers: authHeaders(ep.token) }, t);
  const hello = await ws.hello();
  assert.equal(hello.type, 'hello');
  const st = await run(TETHER_BIN(), ['status', '--runtime-dir', l.rt, '--json'], { env: childEnv(l.home) });
  assert.equal(st.code, 0, st.stderr);
  const sj = JSON.parse(st.stdout);
  assert.equal(sj.listen.port, port);
  assert.equal(sj.running, true);
  await ws.close();
  // A terminal inherits neither the listeners nor LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES.
  // The shell's fds are listed from a child shell while the shell waits for it: a pipeline run
  // by the shell itself (ls /proc/$$/fd | tr) races with the shell, which holds the pipe's ends
  // until it has started tr.
  const c = await connectPty({ endpoint: ep }, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'sh -c \'ls /proc/$PPID/fd | tr "\\n" " "\'; echo; env | grep ^LISTEN_ || echo no-listen-vars'] });
  await c.waitExit(r.channel, { timeoutMs: 10000 });
  const out = r.ch.text().split(/\r?\n/);
  assert.equal(out[0].trim(), '0 1 2', `the shell's open fds: ${out[0]}`);
  assert.equal(out[1], 'no-listen-vars', r.ch.text());
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
  assert.ok(fs.existsSync(sock), 'the activated socket file is not unlinked at exit (systemd owns it)');
  assert.equal(fs.existsSync(path.join(l.rt, 'endpoint.json')), false, 'endpoint.json is removed');
  assert.equal(fs.existsSync(path.join(l.rt, 'token')), false, 'token is removed');
});

test('socket activation started by a unix client: `tether status` is the first connection', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const sock = path.join(l.rt, 'tetherd.sock');
  const { p, port } = await socketActivate(t, l, ['127.0.0.1:PORT', sock], ['--runtime-dir', l.rt, '--port', '0', '--log-file', path.join(l.tmp, 'd.log')]);
  const st = await run(TETHER_BIN(), ['status', '--runtime-dir', l.rt], { env: childEnv(l.home) });
  assert.equal(st.code, 0, st.stdout + st.stderr);
  assert.match(st.stdout, new RegExp(`ws://127\\.0\\.0\\.1:${port}/ws`), 'port 0 takes the inherited port');
  assert.match(st.stdout, /running, pid \d+/);
  assert.equal(await tcpAccepts(port), true);
  assert.deepEqual(await p.stop(), { code: 0, signal: null });
});

const refusals = [
  {
    name: 'a TCP listener on 0.0.0.0',
    listens: ['0.0.0.0:PORT', 'RT/tetherd.sock'],
    port: 'PORT',
    message: /socket activation: fd 3 listens on 0\.0\.0\.0:\d+; tetherd serves on 127\.0\.0\.1 only/,
  },
  {
    name: 'a TCP listener on 0.0.0.0, by its name',
    listens: ['0.0.0.0:PORT', 'RT/tetherd.sock'],
    extra: ['--fdname=web:local'],
    port: 'PORT',
    message: /socket activation: fd 3 \("web"\) listens on 0\.0\.0\.0:\d+/,
  },
  {
    name: 'a port other than the port setting',
    listens: ['127.0.0.1:PORT', 'RT/tetherd.sock'],
    port: '1',
    message: /socket activation passed 127\.0\.0\.1:\d+ but the port setting is 1/,
  },
  {
    name: 'a unix socket elsewhere than RUNTIME_DIR/tetherd.sock',
    listens: ['127.0.0.1:PORT', 'TMP/elsewhere.sock'],
    port: 'PORT',
    message: /passed the unix socket .*elsewhere\.sock but clients look for .*\/rt\/tetherd\.sock/,
  },
  {
    name: 'two TCP listeners',
    listens: ['127.0.0.1:PORT', 'RT/tetherd.sock', '127.0.0.1:PORT2'],
    port: 'PORT',
    message: /socket activation: fd 5 is a second TCP listener; tetherd takes one/,
  },
];

for (const r of refusals) {
  test(`socket activation refuses ${r.name}: exit 1 naming it`, { timeout: 30000 }, async (t) => {
    const l = await layoutFor(t);
    const fix = (s) => s.replace('RT/', l.rt + '/').replace('TMP/', l.tmp + '/');
    const { p, port } = await socketActivate(t, l, r.listens.map(fix), ['--runtime-dir', l.rt, '--port', r.port], { extra: r.extra ?? [] });
    await tcpAccepts(port, 2000); // triggers the exec; the connection dies with tetherd
    const ex = await waitExit(p, 10000);
    assert.deepEqual(ex, { code: 1, signal: null }, p.out());
    assert.match(p.out(), r.message);
    assert.equal(fs.existsSync(path.join(l.rt, 'endpoint.json')), false, 'nothing published');
  });
}

test('socket activation refuses a UDP socket: exit 1 naming the fd', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const { p, port } = await socketActivate(t, l, ['127.0.0.1:PORT'], ['--runtime-dir', l.rt, '--port', '0'], { extra: ['--datagram'] });
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.send('x', port, '127.0.0.1', resolve));
  s.close();
  const ex = await waitExit(p, 10000);
  assert.deepEqual(ex, { code: 1, signal: null }, p.out());
  assert.match(p.out(), /socket activation: fd 3 is neither a listening TCP socket on 127\.0\.0\.1 nor a listening unix stream socket/);
});

// ---------------------------------------------------------------------------------------------
// Logs: the journal's priorities, rotation

/** tetherd without --log-file, stderr into a file; resolves {proc, errFile, stat}. */
async function tetherdStderrToFile(t, l, journal) {
  const errFile = path.join(l.tmp, 'stderr.txt');
  // O_APPEND: a second daemon in the test appends to the same file
  const fd = fs.openSync(errFile, 'a');
  const st = fs.fstatSync(fd, { bigint: true });
  const env = { TETHERD_TEST_STALL_MS: '1' };
  if (journal === 'match') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  if (journal === 'mismatch') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  const proc = spawn(TETHERD_BIN(), ['--runtime-dir', l.rt, '--port', '0'], {
    env: childEnv(l.home, env),
    stdio: ['ignore', 'ignore', fd],
  });
  fs.closeSync(fd);
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await waitExit(proc, 5000).catch(() => {});
  });
  await poll(() => readEndpoint(l.rt, l.home), { timeoutMs: 10000, what: 'endpoint' });
  return { proc, errFile, env };
}

test('JOURNAL_STREAM matching stderr: <N>-prefixed lines, no timestamps (info 6, warn 4, err 3)', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const { proc, errFile, env } = await tetherdStderrToFile(t, l, 'match');
  proc.kill('SIGUSR2'); // the stall switch logs a warning
  await poll(() => /<4>test switch/.test(readOr(errFile, '')), { what: 'the <4> warning line' });
  // A second tetherd on the same runtime dir fails on the lock: an error line.
  const fd = fs.openSync(errFile, 'a');
  const st = fs.fstatSync(fd, { bigint: true });
  const second = spawn(TETHERD_BIN(), ['--runtime-dir', l.rt, '--port', '0'], {
    env: childEnv(l.home, { ...env, JOURNAL_STREAM: `${st.dev}:${st.ino}` }),
    stdio: ['ignore', 'ignore', fd],
  });
  fs.closeSync(fd);
  assert.deepEqual(await waitExit(second, 10000), { code: 1, signal: null });
  proc.kill('SIGTERM');
  assert.deepEqual(await waitExit(proc, 10000), { code: 0, signal: null });
  const lines = readOr(errFile, '').split('\n').filter(Boolean);
  assert.ok(lines.length >= 4, lines.join('\n'));
  for (const line of lines) assert.match(line, /^<[3467]>[^<]/, `every line has a priority and nothing else first: ${line}`);
  for (const line of lines) assert.doesNotMatch(line, /\d{4}-\d\d-\d\dT\d\d:\d\d/, `no timestamp: ${line}`);
  assert.ok(lines.some((x) => /^<6>tetherd .* listening on ws:\/\/127\.0\.0\.1:\d+\/ws/.test(x)), lines.join('\n'));
  assert.ok(lines.some((x) => /^<4>test switch: blocking the loop for 1 ms$/.test(x)), lines.join('\n'));
  assert.ok(lines.some((x) => /^<3>another tetherd \(pid \d+\) is running/.test(x)), lines.join('\n'));
  assert.ok(lines.some((x) => /^<6>stopped$/.test(x)), lines.join('\n'));
});

test('JOURNAL_STREAM naming another file (inherited, not ours): plain timestamped lines', { timeout: 30000 }, async (t) => {
  for (const mode of ['mismatch', 'none']) {
    const l = await layoutFor(t);
    const { proc, errFile } = await tetherdStderrToFile(t, l, mode);
    proc.kill('SIGTERM');
    assert.deepEqual(await waitExit(proc, 10000), { code: 0, signal: null });
    const lines = readOr(errFile, '').split('\n').filter(Boolean);
    assert.ok(lines.length >= 2, `${mode}: ${lines.join('\n')}`);
    for (const line of lines) {
      assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) /, `${mode}: ${line}`);
    }
  }
});

test('--log-max-bytes: the log file is renamed to FILE.1 before a write would pass the limit', { timeout: 30000 }, async (t) => {
  const LIMIT = 600;
  const l = await layoutFor(t);
  const d = tetherdFor(t, l, { args: ['--log-max-bytes', String(LIMIT)] });
  const ep = await poll(() => readEndpoint(l.rt, l.home), { timeoutMs: 10000, what: 'endpoint' });
  const rotated = d.logFile + '.1';
  // Every client's connect/hello/close is logged: keep connecting until the file has rotated twice
  // (FILE.1 replaced by a newer FILE.1), checking the sizes after each.
  let firstRotated = null;
  for (let i = 0; i < 60; i++) {
    const ws = await openWs(ep.url, { headers: authHeaders(ep.token) });
    await ws.hello();
    await ws.close();
    const s0 = fs.statSync(d.logFile).size;
    assert.ok(s0 <= LIMIT, `log ${s0} bytes > ${LIMIT}`);
    if (fs.existsSync(rotated)) {
      const r = fs.readFileSync(rotated, 'utf8');
      assert.ok(r.length <= LIMIT, `FILE.1 ${r.length} bytes > ${LIMIT}`);
      if (firstRotated === null) firstRotated = r;
      else if (r !== firstRotated) break;
    }
  }
  assert.notEqual(firstRotated, null, 'FILE.1 appeared');
  assert.notEqual(fs.readFileSync(rotated, 'utf8'), firstRotated, 'a second rotation replaced FILE.1');
  assert.match(firstRotated, /listening on ws:/, 'FILE.1 holds the oldest lines first');
  for (const f of [d.logFile, rotated]) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(0, -1)) {
      assert.match(line, /^\d{4}-\d\d-\d\dT.*Z (error|warn |info |debug) /, `whole lines only in ${f}: ${line}`);
    }
  }
  assert.equal(fs.existsSync(d.logFile + '.2'), false, 'one older generation only');
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
});

test('--log-max-bytes 0 never rotates', { timeout: 30000 }, async (t) => {
  const l = await layoutFor(t);
  const d = tetherdFor(t, l, { args: ['--log-max-bytes', '0'] });
  const ep = await poll(() => readEndpoint(l.rt, l.home), { timeoutMs: 10000, what: 'endpoint' });
  for (let i = 0; i < 10; i++) {
    const ws = await openWs(ep.url, { headers: authHeaders(ep.token) });
    await ws.hello();
    await ws.close();
  }
  assert.deepEqual(await d.stop(), { code: 0, signal: null });
  assert.ok(fs.statSync(d.logFile).size > 1000);
  assert.equal(fs.existsSync(d.logFile + '.1'), false);
});

// ---------------------------------------------------------------------------------------------
// systemd-analyze verify on the units as installed

async function installedUnits(t) {
  const l = await layoutFor(t);
  const fake = writeFakeTools(path.join(l.tmp, 'fake'));
  const cfg = path.join(l.tmp, 'config');
  const r = await run(TETHER_BIN(), ['service', 'install', '--init', 'systemd'], {
    env: childEnv(l.home, { XDG_CONFIG_HOME: cfg, PATH: `${fake.bin}:${process.env.PATH}`, FAKE_LINGER: 'yes' }),
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const dir = path.join(cfg, 'systemd', 'user');
  const xrt = path.join(l.tmp, 'xdg-runtime');
  fs.mkdirSync(xrt, { mode: 0o700 });
  return { l, dir, xrt };
}

function verify(xrt, files) {
  return run('systemd-analyze', ['verify', '--user', ...files], {
    env: { ...childEnv(), XDG_RUNTIME_DIR: xrt, SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: 'cat' },
    timeoutMs: 30000,
  });
}

test('systemd-analyze verify --user: the installed units are clean (exit 0, no output)', { timeout: 60000 }, async (t) => {
  const { dir, xrt } = await installedUnits(t);
  const files = ['tetherd.service', 'tetherd.socket'].map((f) => path.join(dir, f));
  const r = await verify(xrt, files);
  assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: '', stderr: '' });
});

test('systemd-analyze verify catches a broken copy (so the check above can fail)', { timeout: 60000 }, async (t) => {
  const { dir, xrt, l } = await installedUnits(t);
  const bad = path.join(l.tmp, 'broken');
  fs.mkdirSync(bad);
  for (const f of ['tetherd.service', 'tetherd.socket']) {
    let text = fs.readFileSync(path.join(dir, f), 'utf8');
    if (f === 'tetherd.service') text = text.replace('WatchdogSec=10s', 'WatchdogSec=ten seconds').replace('KillMode=mixed', 'KillMode=gently');
    fs.writeFileSync(path.join(bad, f), text);
  }
  const r = await verify(xrt, [path.join(bad, 'tetherd.service'), path.join(bad, 'tetherd.socket')]);
  assert.match(r.stdout + r.stderr, /tetherd\.service:\d+: Failed to parse sec value, ignoring: ten seconds/);
  assert.match(r.stdout + r.stderr, /tetherd\.service:\d+: Failed to parse kill mode specification, ignoring: gently/);
});
