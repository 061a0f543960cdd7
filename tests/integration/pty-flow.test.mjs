// Terminals: flow control (credit), back-pressure and the daemon's memory
// (docs/protocol.md, "Terminals (pty.*)": "Flow control (credit)", and "Limits and flow").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { daemonFor, connectPty, rssBytes, procStat, pidAlive, sleep, PYTHON3 } from './lib.mjs';

const MiB = 1048576;
const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;
// AddressSanitizer keeps freed memory in quarantine, so RSS says nothing there; the same tests
// run without it in the plain build (as in limits.test.mjs).
const sanitized = Boolean(process.env.ASAN_OPTIONS);

/** Types `word\n` into a cooked-mode `cat`; resolves the ms until the echo and cat's copy came back. */
async function echoMs(c, channel, word, timeoutMs = 3000) {
  const from = c.ch(channel).length;
  const t0 = performance.now();
  c.input(channel, `${word}\n`);
  await c.waitOutput(channel, `${word}\r\n`, { from, count: 2, timeoutMs });
  return performance.now() - t0;
}

function sessionIn(list, session) {
  return list.find((s) => s.session === session);
}

/** Polls pty.list until pred(the session's entry) holds; resolves the entry (the last one seen
 *  once timeoutMs have passed, for the caller's assertions to report). */
async function sessionWhen(c, session, pred, timeoutMs = 10000) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const e = sessionIn(await c.list(), session);
    if (pred(e) || performance.now() > end) return e;
    await sleep(20);
  }
}

/** CPU ticks (utime + stime) of a process. */
function cpuTicks(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Samples fn() every intervalMs until stopped; resolves {max, samples}. */
function sampler(fn, intervalMs = 100) {
  const samples = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      samples.push(fn());
      await sleep(intervalMs);
    }
    return { max: Math.max(...samples), samples };
  })();
  return { stop: () => ((stop = true), done) };
}

/** The output of `yes` through a tty ("y\r\n" repeated), cut to n bytes. */
const yesBytes = (n) => Buffer.from('y\r\n'.repeat(Math.ceil(n / 3)).slice(0, n));

// ---------------------------------------------------------------------------------------------

test('credit: yes with credit 10000 sends exactly 10000 bytes, then nothing; pty.credit 5000 → exactly 5000 more; a cat beside it still echoes', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const cat = await c.open({ argv: ['/bin/cat'] });
  const y = await c.open({ argv: ['yes'], credit: 10000 });
  assert.equal(y.credit, 10000, JSON.stringify(y));
  const ch = c.ch(y.channel);
  await c.waitBytes(y.channel, 10000);
  await sleep(500);
  assert.equal(ch.length, 10000, 'exactly the credit, nothing more after 500 ms');
  assert.ok(ch.bytes().equals(yesBytes(10000)), 'the bytes are yes\'s output from seq 0');

  // the terminal is no longer read: yes blocks in write (no CPU), the session's seq stays put
  const e1 = sessionIn(await c.list(), y.session);
  const cpu1 = cpuTicks(y.pid);
  for (let i = 0; i < 5; i++) assert.ok((await echoMs(c, cat.channel, `beside-${i}`)) < 1000, 'cat echoes while yes is blocked');
  await sleep(300);
  const e2 = sessionIn(await c.list(), y.session);
  const cpu2 = cpuTicks(y.pid);
  assert.equal(e2.state, 'running');
  assert.equal(e2.seq, e1.seq, `the daemon stopped reading yes's terminal: seq ${e1.seq} → ${e2.seq}`);
  assert.ok(e1.seq - 10000 <= 65536, `no reading far beyond the credit (seq ${e1.seq}, at most one read past 10000)`);
  assert.ok(cpu2 - cpu1 <= 5, `yes is blocked, not spinning: ${cpu2 - cpu1} ticks in ~1 s`);

  const g = await c.request({ type: 'pty.credit', id: 'g', session: y.session, bytes: 5000 });
  assert.equal(g.type, 'pty.credit', JSON.stringify(g));
  assert.equal(g.id, 'g');
  assert.equal(g.credit, 5000, 'the credit after the grant (all 10000 were spent)');
  await c.waitBytes(y.channel, 15000);
  await sleep(500);
  assert.equal(ch.length, 15000, 'exactly 5000 more');
  assert.ok(ch.bytes().equals(yesBytes(15000)), 'no gap, no duplicate across the grant');
  assert.ok((await echoMs(c, cat.channel, 'after-grant')) < 1000);
  await c.request({ type: 'pty.close', session: y.session });
});

test('credit 0 at open: no output and no pty.exit until credit is granted; then the output, then pty.exit', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'echo hi; exit 4'], credit: 0 });
  assert.equal(r.credit, 0);
  // the child exits at once (its output waits in the terminal); wait until the daemon has seen
  // that, however long the machine takes to run sh, rather than for a fixed time
  const e = await sessionWhen(c, r.session, (x) => x?.state === 'exited');
  const ch = c.ch(r.channel);
  assert.equal(ch.length, 0, 'no byte without credit');
  assert.equal(ch.exit, null, 'pty.exit waits for the output before it');
  // the child has exited (its output waits in the terminal): input, resize, signal → session_exited
  assert.equal(e.state, 'exited', JSON.stringify(e));
  assert.equal(e.exit_code, 4, JSON.stringify(e));
  c.input(r.channel, 'late\n');
  const err = await c.waitError('session_exited');
  assert.equal(err.id, null, JSON.stringify(err));
  const rs = await c.request({ type: 'pty.resize', id: 'rs', session: r.session, cols: 90, rows: 30 });
  assert.equal(rs.code, 'session_exited', JSON.stringify(rs));
  const sg = await c.request({ type: 'pty.signal', id: 'sg', session: r.session, signal: 'INT' });
  assert.equal(sg.code, 'session_exited', JSON.stringify(sg));
  assert.equal(ch.length, 0);
  const g = await c.request({ type: 'pty.credit', session: r.session, bytes: 100 });
  assert.equal(g.type, 'pty.credit', JSON.stringify(g));
  assert.equal(g.credit, 100);
  const ex = await c.waitExit(r.channel);
  assert.equal(ex.exit_code, 4, JSON.stringify(ex));
  assert.equal(ex.seq, 4, JSON.stringify(ex));
  assert.equal(ch.bytesAtExit, 4);
  assert.equal(ch.text(), 'hi\r\n');
});

test('a session is read only while every attachment has credit: a second attachment with more credit waits for the first', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t);
  const a = await connectPty(d, t);
  const b = await connectPty(d, t);
  const y = await a.open({ argv: ['yes'], credit: 5000 });
  await a.waitBytes(y.channel, 5000);
  const att = await b.attach({ session: y.session, since: 0, credit: 1000000 });
  assert.equal(att.seq, 0);
  // B first gets the replay of what had been read (end_seq bytes); then 600 ms in which nothing
  // more may come
  await b.waitBytes(att.channel, att.end_seq);
  await sleep(600);
  const bLen = b.ch(att.channel).length;
  const e = sessionIn(await b.list(), y.session);
  assert.equal(a.ch(y.channel).length, 5000, 'A got exactly its credit');
  assert.equal(bLen, att.end_seq, `B got what had been read, nothing more: ${bLen} bytes, end_seq ${att.end_seq}`);
  assert.equal(e.seq, att.end_seq, 'and the daemon read nothing more while A has no credit');
  assert.ok(bLen < 5000 + 65536, `B did not run ahead: ${bLen} bytes`);
  assert.ok(b.ch(att.channel).bytes().equals(yesBytes(bLen)));

  await a.request({ type: 'pty.credit', session: y.session, bytes: 2000 });
  await a.waitBytes(y.channel, 7000);
  await b.waitBytes(att.channel, 7000); // B's copy travels on its own connection
  await sleep(400);
  assert.equal(a.ch(y.channel).length, 7000);
  const bLen2 = b.ch(att.channel).length;
  assert.ok(bLen2 >= 7000 && bLen2 < 7000 + 65536, `B follows A's grant only: ${bLen2}`);
  assert.ok(b.ch(att.channel).bytes().equals(yesBytes(bLen2)));
  await a.request({ type: 'pty.close', session: y.session });
});

test('a 1 GiB writer with credit 65536 never granted more: daemon RSS stays under baseline + 16 MiB; a cat beside it echoes with p99 < 50 ms', { timeout: 30000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const cat = await c.open({ argv: ['/bin/cat'] });
  for (let i = 0; i < 3; i++) await echoMs(c, cat.channel, `warm-${i}`);
  await sleep(200);
  const baseline = rssBytes(d.pid);

  const w = await c.open({ argv: ['/bin/sh', '-c', 'head -c 1073741824 /dev/zero'], credit: 65536 });
  const wch = c.ch(w.channel);
  await c.waitBytes(w.channel, 65536);
  const rss = sampler(() => rssBytes(d.pid));
  const t0 = performance.now();
  const lat = [];
  for (let i = 0; i < 50; i++) {
    lat.push(await echoMs(c, cat.channel, `echo-${i}`));
    await sleep(40);
  }
  while (performance.now() - t0 < 3000) await sleep(50);
  const { max } = await rss.stop();

  assert.equal(wch.length, 65536, 'the writer got exactly its credit');
  assert.ok(wch.bytes().equals(Buffer.alloc(65536)), 'zeros from /dev/zero');
  assert.ok(pidAlive(w.pid), 'the writer is blocked, not finished');
  assert.equal(sessionIn(await c.list(), w.session).state, 'running');
  lat.sort((x, y) => x - y);
  const p99 = lat[Math.ceil(0.99 * lat.length) - 1];
  t.diagnostic(`echo latency: median ${lat[25].toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; RSS baseline ${mib(baseline)}, max ${mib(max)}`);
  assert.ok(p99 < 50, `echo p99 ${p99.toFixed(1)} ms (< 50 ms)`);
  if (sanitized) t.diagnostic('RSS bound skipped: ASan quarantine holds freed memory');
  else assert.ok(max - baseline < 16 * MiB, `daemon RSS grew by ${mib(max - baseline)} (< 16 MiB) while a 1 GiB writer was blocked`);

  // close it: after pty.close the exit does not wait for credit (docs/protocol.md): the output
  // the credit did not cover is discarded and counted
  const cl = await c.request({ type: 'pty.close', session: w.session });
  assert.equal(cl.type, 'pty.close', JSON.stringify(cl));
  const ex = await c.waitExit(w.channel, { timeoutMs: 3000 });
  t.diagnostic(`writer's pty.exit: ${JSON.stringify(ex)}, ${wch.length} bytes received in all`);
  assert.equal(ex.signal, 'HUP', JSON.stringify(ex));
  assert.equal(ex.seq, 65536, 'seq is where this attachment\'s output ended: its credit');
  assert.ok(ex.discarded > 0, `the unsent output is counted: ${ex.discarded}`);
  assert.equal(wch.bytesAtExit, ex.seq, 'every byte up to seq arrived before pty.exit');
  assert.ok(!pidAlive(w.pid) || procStat(w.pid)?.state === 'Z' || procStat(w.pid) === null);
  assert.ok((await echoMs(c, cat.channel, 'after-close')) < 1000);
});

test('a connection that stops reading its socket: daemon RSS stays under baseline + 16 MiB, the terminal stops being read, others unaffected; after resume the numbered lines go on with no gap', { timeout: 40000 }, async (t) => {
  const d = await daemonFor(t, { args: ['--max-queued-bytes', String(MiB)] });
  const p = await connectPty(d, t);
  const q = await connectPty(d, t);
  const qcat = await q.open({ argv: ['/bin/cat'] });
  for (let i = 0; i < 3; i++) await echoMs(q, qcat.channel, `warm-${i}`);
  await sleep(200);
  const baseline = rssBytes(d.pid);

  // numbered lines as fast as python can write them: "000000000\r\n", "000000001\r\n", ...
  const code = [
    'import sys',
    'w = sys.stdout.buffer.write',
    'i = 0',
    'while True:',
    "    w(''.join('%09d\\n' % j for j in range(i, i + 1000)).encode())",
    '    i += 1000',
  ].join('\n');
  const r = await p.open({ argv: [PYTHON3, '-c', code], credit: 1073741824 });
  const ch = p.ch(r.channel);
  let next = 0;
  let rest = '';
  let bad = null;
  ch.stream((chunk) => {
    if (bad) return;
    const lines = (rest + chunk.toString('latin1')).split('\r\n');
    rest = lines.pop();
    for (const l of lines) {
      const want = String(next).padStart(9, '0');
      if (l !== want) {
        bad = `line ${next}: expected ${JSON.stringify(want)}, got ${JSON.stringify(l.slice(0, 40))}`;
        return;
      }
      next++;
    }
  });
  await p.waitFor(() => next >= 1000, { what: 'the writer runs', timeoutMs: 5000 });

  p.ws._socket.pause();
  const pausedAt = performance.now();
  const rss = sampler(() => rssBytes(d.pid));
  const lat = [];
  // The daemon stops reading the terminal once the paused connection's socket buffers (a few
  // MiB on loopback) and its queue (--max-queued-bytes) are full: how long the writer takes to
  // fill them depends on the machine (ASan, load), so no fixed moment is "after". And once full,
  // TCP can still take a burst later (a zero-window probe finding room after the receiver
  // compacted its queue; the probes back off 200, 400, 800 ms...). seqMid is the session's seq
  // once it has stood still for 1.5 s (after at most 15 s: the last seq seen); the echoes go on
  // for at least 3 s in all and 1.2 s past seqMid, and then the seq must not have moved.
  let seqMid = null;
  let midAt = null;
  let last = null;
  while (performance.now() - pausedAt < 3000 || seqMid === null || performance.now() - midAt < 1200) {
    lat.push(await echoMs(q, qcat.channel, `q-${lat.length}`));
    if (seqMid === null) {
      const seq = sessionIn(await q.list(), r.session).seq;
      const now = performance.now();
      if (!last || seq !== last.seq) last = { seq, at: now };
      if (now - last.at >= 1500 || now - pausedAt > 15000) {
        seqMid = seq;
        midAt = now;
      }
    }
    await sleep(50);
  }
  const seqEnd = sessionIn(await q.list(), r.session);
  const { max } = await rss.stop();
  const receivedWhilePaused = ch.length;

  t.diagnostic(`paused: RSS baseline ${mib(baseline)}, max ${mib(max)}; session seq ${seqMid} → ${seqEnd.seq}; ` +
    `other connection's echo max ${Math.max(...lat).toFixed(1)} ms`);
  if (sanitized) t.diagnostic('RSS bound skipped: ASan quarantine holds freed memory');
  else assert.ok(max - baseline < 16 * MiB, `daemon RSS grew by ${mib(max - baseline)} (< 16 MiB) while a client did not read`);
  assert.equal(seqEnd.state, 'running');
  assert.equal(seqEnd.seq, seqMid, 'the daemon stopped reading the terminal of the client that does not read');
  assert.ok(Math.max(...lat) < 200, `the other connection's echoes stay prompt: max ${Math.max(...lat).toFixed(1)} ms`);
  assert.equal(p.closeInfo, null, 'the paused client was not disconnected');

  p.ws._socket.resume();
  const target = Math.ceil(seqEnd.seq / 11) + 200000;
  await p.waitFor(() => bad || next >= target, {
    timeoutMs: 15000,
    what: `numbered lines continue past ${target} after resume`,
    describe: () => `at line ${next}, ${ch.length} bytes (${receivedWhilePaused} when paused)`,
  });
  assert.equal(bad, null, 'lines in order with no gap and no duplicate');

  await p.request({ type: 'pty.close', session: r.session }, 10000);
  const ex = await p.waitExit(r.channel, { timeoutMs: 10000 });
  assert.equal(bad, null, 'lines in order to the end');
  assert.equal(ch.bytesAtExit, ex.seq, 'every byte up to seq arrived before pty.exit');
  assert.ok((await echoMs(q, qcat.channel, 'q-after')) < 1000);
});

test('input for a child that does not read: past 1 MiB waiting → input_overflow; the connection, other sessions and the daemon\'s memory are fine', { timeout: 20000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const cat = await c.open({ argv: ['/bin/cat'] });
  await echoMs(c, cat.channel, 'warm');
  await sleep(200);
  const baseline = rssBytes(d.pid);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'stty raw -echo; echo ready; exec sleep 30'] });
  await c.waitOutput(r.channel, 'ready');
  const chunk = Buffer.alloc(65536, 0x61);
  for (let i = 0; i < 40; i++) c.input(r.channel, chunk); // 2.5 MiB
  const e = await c.waitError('input_overflow');
  assert.equal(e.id, null, JSON.stringify(e));
  assert.equal(typeof e.message, 'string');
  // a request after the 40 frames: its reply comes after the daemon has handled every one of
  // them (and sent their errors), however long that takes
  await c.request({ type: 'pty.list' }, 10000);
  const overflows = c.events.filter((x) => x.msg.type === 'error').map((x) => x.msg.code);
  assert.ok(overflows.every((code) => code === 'input_overflow'), `only input_overflow errors: ${overflows}`);
  // at most 1 MiB (+ what the kernel holds, + one frame) was taken: at least 20 of the 40 frames are refused
  assert.ok(overflows.length >= 20, `${overflows.length} of 40 frames refused`);
  assert.ok((await echoMs(c, cat.channel, 'beside-overflow')) < 1000, 'another session still echoes');
  if (!sanitized) assert.ok(rssBytes(d.pid) - baseline < 16 * MiB, `daemon RSS grew by ${mib(rssBytes(d.pid) - baseline)}`);
  await c.request({ type: 'pty.close', session: r.session });
  const ex = await c.waitExit(r.channel, { timeoutMs: 5000 });
  assert.equal(ex.signal, 'HUP', JSON.stringify(ex));
  assert.equal(c.closeInfo, null);
});
