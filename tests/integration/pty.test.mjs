// Terminals: pty.open / attach / detach / resize / signal / close / list and pty.exit
// (docs/protocol.md, "Terminals (pty.*)"). Flow control and memory: pty-flow.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  daemonFor,
  connectPty,
  assertError,
  procStat,
  childProcesses,
  zombieChildren,
  waitPidGone,
  pidAlive,
  until,
  sleep,
  PYTHON3,
} from './lib.mjs';

const T = { timeout: 20000 };
const DEFAULT_CAPS = {
  max_sessions: 256,
  max_sessions_per_connection: 128,
  ring_bytes: 1048576,
  detach_timeout_s: 14400,
  max_detached: 32,
  default_credit: 262144,
};

let errSeq = 0;
/** Sends msg with a fresh id; the answer must be the error `code` (with `field` when given). */
async function expectError(c, msg, code, field) {
  const id = `e${++errSeq}`;
  const m = await c.request({ ...msg, id });
  assertError(assert, m, { code, id, field }, `${JSON.stringify(msg).slice(0, 200)}`);
  return m;
}

/** Types `word\n` into a cooked-mode `cat` and waits for the tty echo and cat's copy. */
async function echoCheck(c, channel, word, timeoutMs = 3000) {
  const from = c.ch(channel).length;
  c.input(channel, `${word}\n`);
  await c.waitOutput(channel, `${word}\r\n`, { from, count: 2, timeoutMs });
}

function sessionIn(list, session) {
  return list.find((s) => s.session === session);
}

/** Pids of the processes whose parent is pid and whose command is comm. */
function childNamed(pid, comm) {
  return childProcesses(pid).filter((p) => p.comm === comm);
}

function sigField(pid, name) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${name}:\\s+([0-9a-f]+)`, 'm').exec(st);
  return m ? m[1] : null;
}

// ---------------------------------------------------------------------------------------------

test('hello advertises capabilities.pty with the documented members; flags change them', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const pty = c.helloReply.capabilities?.pty;
  assert.equal(typeof pty, 'object', `capabilities.pty: ${JSON.stringify(c.helloReply.capabilities)}`);
  for (const [k, v] of Object.entries(DEFAULT_CAPS)) {
    assert.equal(pty[k], v, `capabilities.pty.${k} default: ${JSON.stringify(pty)}`);
  }

  const d2 = await daemonFor(t, {
    args: [
      '--max-sessions', '10',
      '--max-sessions-per-connection', '5',
      '--ring-bytes', '8192',
      '--detach-timeout', '60',
      '--max-detached', '4',
      '--default-credit', '1000',
      '--close-grace-ms', '500',
    ],
  });
  const c2 = await connectPty(d2, t);
  const p2 = c2.helloReply.capabilities?.pty;
  assert.deepEqual(
    Object.fromEntries(Object.keys(DEFAULT_CAPS).map((k) => [k, p2?.[k]])),
    { max_sessions: 10, max_sessions_per_connection: 5, ring_bytes: 8192, detach_timeout_s: 60, max_detached: 4, default_credit: 1000 },
    `configured values: ${JSON.stringify(p2)}`,
  );
  // --default-credit is the credit of an attachment that names none
  const r = await c2.open({ argv: ['/bin/cat'] });
  assert.equal(r.credit, 1000, `pty.open credit with --default-credit 1000: ${JSON.stringify(r)}`);
});

test('pty.open ["/bin/cat"]: reply fields, pty.list entry; "hello\\n" comes back as tty echo + cat output', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.request({ type: 'pty.open', id: 7, argv: ['/bin/cat'] });
  assert.equal(r.type, 'pty.open', JSON.stringify(r));
  assert.equal(r.id, 7);
  assert.match(String(r.session), /^pty-\d+$/, `session id: ${JSON.stringify(r)}`);
  assert.ok(Number.isInteger(r.channel) && r.channel >= 0 && r.channel <= 0xffffffff, `channel: ${r.channel}`);
  assert.ok(Number.isInteger(r.pid) && r.pid > 1, `pid: ${r.pid}`);
  assert.deepEqual(r.argv, ['/bin/cat']);
  assert.equal(typeof r.cwd, 'string');
  assert.equal(r.cols, 80);
  assert.equal(r.rows, 24);
  assert.equal(r.term, 'xterm-256color');
  assert.equal(r.seq, 0);
  assert.equal(r.credit, 262144);

  const st = procStat(r.pid);
  assert.ok(st, `process ${r.pid} exists`);
  assert.equal(st.ppid, d.pid, 'the child is the daemon\'s child');

  c.input(r.channel, 'hello\n');
  await c.waitOutput(r.channel, 'hello\r\n', { count: 2 });
  await sleep(150);
  assert.equal(c.ch(r.channel).text(), 'hello\r\nhello\r\n', 'exactly the echo and cat\'s copy');

  const list = await c.list();
  assert.equal(list.length, 1, JSON.stringify(list));
  const e = list[0];
  assert.equal(e.session, r.session);
  assert.equal(e.pid, r.pid);
  assert.deepEqual(e.argv, ['/bin/cat']);
  assert.equal(e.cwd, r.cwd);
  assert.equal(e.cols, 80);
  assert.equal(e.rows, 24);
  assert.equal(e.term, 'xterm-256color');
  assert.equal(e.state, 'running');
  assert.equal(e.attached, 1);
  assert.equal(e.attached_here, true);
  assert.equal(e.seq, 14, `seq counts the 14 output bytes: ${JSON.stringify(e)}`);
  assert.equal(e.retained, 14);
  assert.ok(!('detached_s' in e), 'an attached session has no detached_s');
  assert.equal(typeof e.created_at, 'string');
  assert.match(e.created_at, /Z$/);
  assert.ok(Math.abs(Date.parse(e.created_at) - Date.now()) < 60000, `created_at: ${e.created_at}`);

  // a second session gets another id and channel
  const r2 = await c.open({ argv: ['/bin/cat'] });
  assert.notEqual(r2.session, r.session);
  assert.notEqual(r2.channel, r.channel);
});

test('pty.open options: PATH lookup, cwd, env (set and null), term, cols/rows; own session with a controlling tty', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const cwd = fs.realpathSync(d.tmp);
  const argv = ['sh', '-c', 'echo "[$TETHER_IT_VAR][${HOME-unset}][$TERM]"; stty size; pwd -P; echo end-of-info; exec sleep 30'];
  const r = await c.open({ argv, cwd, env: { TETHER_IT_VAR: 'v1 é', HOME: null }, cols: 100, rows: 30, term: 'vt100' });
  assert.deepEqual(r.argv, argv);
  assert.equal(r.cwd, cwd);
  assert.equal(r.cols, 100);
  assert.equal(r.rows, 30);
  assert.equal(r.term, 'vt100');
  await c.waitOutput(r.channel, 'end-of-info\r\n');
  const out = Buffer.from(c.ch(r.channel).text(), 'latin1').toString('utf8');
  assert.ok(out.includes('[v1 é][unset][vt100]\r\n'), `env set, HOME removed, TERM: ${JSON.stringify(out)}`);
  assert.ok(out.includes('30 100\r\n'), `stty size: ${JSON.stringify(out)}`);
  assert.ok(out.includes(`${cwd}\r\n`), `cwd: ${JSON.stringify(out)}`);

  const st = procStat(r.pid);
  assert.equal(st.session, r.pid, 'the child leads its own session (setsid)');
  assert.equal(st.pgrp, r.pid, 'and its own process group');
  assert.notEqual(st.tty_nr, 0, 'it has a controlling terminal');
  assert.equal(st.tpgid, r.pid, 'it is the terminal\'s foreground process group');
  assert.equal(sigField(r.pid, 'SigIgn'), '0000000000000000', 'no signal is ignored in the child');
  assert.equal(sigField(r.pid, 'SigBlk'), '0000000000000000', 'no signal is blocked in the child');
});

test('pty.open without argv runs the login shell ("-" + name) in the home directory', T, async (t) => {
  const shell = os.userInfo().shell;
  if (!shell || /nologin|false$/.test(shell)) {
    t.skip(`the user's shell is ${shell}`);
    return;
  }
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({});
  assert.equal(typeof r.cwd, 'string');
  c.input(r.channel, 'echo "zero=[$0] dir=[$(pwd -P)]"\n');
  const ch = await c.waitOutput(r.channel, /zero=\[-[^\]]+\] dir=\[[^\]]*\]/, { timeoutMs: 5000 });
  const m = /zero=\[(-[^\]]+)\] dir=\[([^\]]*)\]/.exec(ch.text());
  assert.equal(m[1], `-${path.basename(shell)}`, 'argv[0] is "-" + the shell\'s name');
  assert.equal(m[2], fs.realpathSync(r.cwd), 'runs in the reply\'s cwd');
  assert.ok([fs.realpathSync(d.home), fs.realpathSync(os.userInfo().homedir)].includes(m[2]), `home directory: ${m[2]}`);
  c.input(r.channel, 'exit 5\n');
  const ex = await c.waitExit(r.channel);
  assert.equal(ex.exit_code, 5);
});

test('pty.resize to 120x40: stty size prints "40 120" (SIGWINCH); 0, 1001, strings → invalid_field, size unchanged', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({
    argv: ['/bin/sh', '-c', 'trap \'echo "winch-$(stty size)"\' WINCH; echo ready; while :; do sleep 0.05; done'],
  });
  await c.waitOutput(r.channel, 'ready\r\n');
  const ch = c.ch(r.channel);

  const ok = await c.request({ type: 'pty.resize', id: 'rs', session: r.session, cols: 120, rows: 40 });
  assert.deepEqual(
    { type: ok.type, id: ok.id, session: ok.session, cols: ok.cols, rows: ok.rows },
    { type: 'pty.resize', id: 'rs', session: r.session, cols: 120, rows: 40 },
    JSON.stringify(ok),
  );
  await c.waitOutput(r.channel, 'winch-40 120\r\n', { timeoutMs: 3000 });

  const mark = ch.length;
  const bad = [
    [{ cols: 0, rows: 40 }, 'cols'],
    [{ cols: 120, rows: 0 }, 'rows'],
    [{ cols: 1001, rows: 40 }, 'cols'],
    [{ cols: 120, rows: 1001 }, 'rows'],
    [{ cols: '120', rows: 40 }, 'cols'],
    [{ cols: 120, rows: '40' }, 'rows'],
    [{ cols: 99.5, rows: 40 }, 'cols'],
    [{ cols: -1, rows: 40 }, 'cols'],
  ];
  for (const [size, field] of bad) {
    await expectError(c, { type: 'pty.resize', session: r.session, ...size }, 'invalid_field', field);
  }
  await expectError(c, { type: 'pty.resize', session: r.session, rows: 40 }, 'missing_field', 'cols');
  await expectError(c, { type: 'pty.resize', session: r.session, cols: 120, rows: 40, x: 1 }, 'unknown_field', 'x');
  await sleep(400);
  assert.ok(!ch.text(mark).includes('winch'), `no SIGWINCH after refused resizes: ${JSON.stringify(ch.text(mark))}`);
  const e = sessionIn(await c.list(), r.session);
  assert.deepEqual({ cols: e.cols, rows: e.rows }, { cols: 120, rows: 40 }, 'the size stays');

  // the bounds are inclusive
  const edge = await c.request({ type: 'pty.resize', session: r.session, cols: 1000, rows: 1 });
  assert.equal(edge.type, 'pty.resize', JSON.stringify(edge));
  await c.waitOutput(r.channel, 'winch-1 1000\r\n', { from: mark, timeoutMs: 3000 });
});

test('exit 3 → pty.exit exit_code 3, signal null; it follows all 100000 output bytes (bytes before it == seq)', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'exit 3'] });
  const ex = await c.waitExit(r.channel);
  assert.deepEqual(
    { type: ex.type, session: ex.session, channel: ex.channel, exit_code: ex.exit_code, signal: ex.signal, seq: ex.seq },
    { type: 'pty.exit', session: r.session, channel: r.channel, exit_code: 3, signal: null, seq: 0 },
    JSON.stringify(ex),
  );
  assert.ok(!('id' in ex), 'pty.exit is an event (no id)');
  await until(async () => !sessionIn(await c.list(), r.session), { what: 'the exited session is forgotten' });

  const r2 = await c.open({ argv: ['/bin/sh', '-c', "printf 'x%.0s' $(seq 1 100000); exit 3"] });
  const ex2 = await c.waitExit(r2.channel, { timeoutMs: 10000 });
  const ch = c.ch(r2.channel);
  assert.equal(ex2.exit_code, 3);
  assert.equal(ex2.signal, null);
  assert.equal(ex2.seq, 100000, `pty.exit seq: ${JSON.stringify(ex2)}`);
  assert.equal(ch.bytesAtExit, ex2.seq, 'every output byte arrived before pty.exit');
  await sleep(200);
  assert.equal(ch.bytesAfterExit, 0, 'nothing after pty.exit');
  assert.ok(ch.bytes().equals(Buffer.alloc(100000, 'x')), 'the output is 100000 x');
});

test('a child killed by SIGTERM → pty.exit signal "TERM", exit_code null', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'kill -TERM $$'] });
  const ex = await c.waitExit(r.channel);
  assert.equal(ex.signal, 'TERM', JSON.stringify(ex));
  assert.equal(ex.exit_code, null, JSON.stringify(ex));
  assert.equal(ex.session, r.session);
  assert.ok(await waitPidGone(r.pid, 2000), 'the child is gone');
});

test('Ctrl-C (0x03) interrupts sleep in bash; pty.signal INT to the foreground group does too; unknown names → invalid_field', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/bash', '--norc', '--noprofile'] });
  const ch = c.ch(r.channel);

  c.input(r.channel, 'sleep 30\n');
  await sleep(300);
  const sleeper = await until(() => childNamed(r.pid, 'sleep')[0], { what: 'bash runs sleep' });
  c.input(r.channel, Buffer.from([0x03]));
  c.input(r.channel, 'echo done-$((1+1))\n');
  await c.waitOutput(r.channel, 'done-2', { timeoutMs: 3000 });
  assert.ok(await waitPidGone(sleeper.pid, 1000), 'sleep was interrupted');

  // pty.signal INT: to the foreground process group, which is sleep's job (bash's job control)
  let from = ch.length;
  c.input(r.channel, 'sleep 30\n');
  const sleeper2 = await until(() => childNamed(r.pid, 'sleep')[0], { what: 'bash runs sleep again' });
  await sleep(300);
  const sr = await c.request({ type: 'pty.signal', id: 'sig', session: r.session, signal: 'INT' });
  assert.equal(sr.type, 'pty.signal', JSON.stringify(sr));
  assert.equal(sr.session, r.session);
  assert.equal(sr.signal, 'INT');
  assert.equal(sr.pgid, sleeper2.pgrp, `pgid is the foreground group (sleep's job), not bash's: ${JSON.stringify(sr)}`);
  assert.notEqual(sr.pgid, r.pid);
  c.input(r.channel, 'echo done-$((2+2))\n');
  await c.waitOutput(r.channel, 'done-4', { from, timeoutMs: 3000 });

  // names with the SIG prefix are accepted
  const w = await c.request({ type: 'pty.signal', session: r.session, signal: 'SIGWINCH' });
  assert.equal(w.type, 'pty.signal', JSON.stringify(w));
  for (const signal of ['FOO', 'SIGFOO', 'SEGV', '9', '', 'int ']) {
    await expectError(c, { type: 'pty.signal', session: r.session, signal }, 'invalid_field', 'signal');
  }
  await expectError(c, { type: 'pty.signal', session: r.session, signal: 2 }, 'invalid_field', 'signal');
  await expectError(c, { type: 'pty.signal', session: r.session }, 'missing_field', 'signal');

  from = ch.length;
  c.input(r.channel, 'echo alive-$((3+3))\n');
  await c.waitOutput(r.channel, 'alive-6', { from, timeoutMs: 3000 });
  assert.ok(pidAlive(r.pid), 'bash survived');
});

test('channel data is byte-exact: all 256 byte values, UTF-8 split across frames, invalid UTF-8, both ways', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'stty raw -echo; printf READY; exec cat'] });
  await c.waitOutput(r.channel, 'READY');
  const ch = c.ch(r.channel);
  const from = ch.length;
  assert.equal(from, 5, `only READY before the input: ${ch.describe()}`);

  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const sent = [];
  const send = (b) => {
    c.input(r.channel, b);
    sent.push(b);
  };
  for (let i = 0; i < 4; i++) send(all);
  // é (C3 A9), € (E2 82 AC), 😀 (F0 9F 98 80), each split across two frames
  for (const b of [[0xc3], [0xa9, 0xe2], [0x82], [0xac, 0xf0, 0x9f], [0x98, 0x80]]) send(Buffer.from(b));
  // invalid UTF-8: stray bytes, a truncated sequence, a surrogate, an overlong encoding
  send(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0x80]));
  const expected = Buffer.concat(sent);
  await c.waitBytes(r.channel, from + expected.length);
  await sleep(150);
  const got = ch.bytes(from);
  assert.equal(got.length, expected.length, 'as many bytes back as sent');
  const firstDiff = [...expected].findIndex((b, i) => got[i] !== b);
  assert.ok(got.equals(expected), `bytes differ from index ${firstDiff}: sent ${expected[firstDiff]}, got ${got[firstDiff]}`);

  // output: a child writing multibyte characters and every byte value, read in chunks by the
  // daemon, arrives intact however the daemon cuts it
  const py = 'import sys; sys.stdout.buffer.write("é€😀".encode() * 20000 + bytes(range(256)) * 8); sys.stdout.flush()';
  const r2 = await c.open({ argv: ['/bin/sh', '-c', `stty raw -echo; printf READY; exec ${PYTHON3} -c '${py}'`] });
  const ex = await c.waitExit(r2.channel, { timeoutMs: 10000 });
  const want = Buffer.concat([Buffer.from('READY'), Buffer.from('é€😀'.repeat(20000)), ...Array(8).fill(all)]);
  const out = c.ch(r2.channel).bytes();
  assert.equal(ex.seq, want.length, `pty.exit seq: ${JSON.stringify(ex)}`);
  assert.equal(out.length, want.length);
  assert.ok(out.equals(want), 'child output arrives byte-exact');
});

test('spawn failures → spawn_failed naming the cause; no process or zombie is left', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  let m = await expectError(c, { type: 'pty.open', argv: ['/nonexistent/prog'] }, 'spawn_failed');
  assert.match(m.message, /\/nonexistent\/prog/, `names the program: ${m.message}`);
  assert.match(m.message, /No such file or directory|not found/i, `names the cause: ${m.message}`);

  m = await expectError(c, { type: 'pty.open', argv: ['tether-it-no-such-program'] }, 'spawn_failed');
  assert.match(m.message, /tether-it-no-such-program/, `names the program: ${m.message}`);

  const notExec = path.join(d.tmp, 'not-executable');
  fs.writeFileSync(notExec, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  m = await expectError(c, { type: 'pty.open', argv: [notExec] }, 'spawn_failed');
  assert.match(m.message, /permission denied/i, `names the cause: ${m.message}`);

  m = await expectError(c, { type: 'pty.open', argv: ['/bin/cat'], cwd: '/nonexistent' }, 'spawn_failed');
  assert.match(m.message, /chdir/, `names chdir: ${m.message}`);
  assert.match(m.message, /\/nonexistent/, `names the directory: ${m.message}`);
  assert.match(m.message, /No such file or directory/i, `names the cause: ${m.message}`);

  await until(() => childProcesses(d.pid).length === 0, {
    timeoutMs: 3000,
    what: `no child of the daemon left (children: ${JSON.stringify(childProcesses(d.pid))})`,
  });
  assert.deepEqual(zombieChildren(d.pid), [], 'no zombie');
  assert.deepEqual(await c.list(), [], 'no session was created');

  // and the connection goes on
  const r = await c.open({ argv: ['/bin/cat'] });
  await echoCheck(c, r.channel, 'after-failures');
});

test('100 concurrent sessions on one connection: each echoes its own line on its own channel; pty.list shows 100', { timeout: 40000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const N = 100;
  const replies = await Promise.all(
    Array.from({ length: N }, (_, i) => c.request({ type: 'pty.open', id: `open-${i}`, argv: ['/bin/cat'] }, 20000)),
  );
  for (const r of replies) assert.equal(r.type, 'pty.open', JSON.stringify(r));
  assert.equal(new Set(replies.map((r) => r.channel)).size, N, 'distinct channels');
  assert.equal(new Set(replies.map((r) => r.session)).size, N, 'distinct sessions');
  assert.equal(new Set(replies.map((r) => r.pid)).size, N, 'distinct processes');

  replies.forEach((r, i) => c.input(r.channel, `line-${i}-of-${N}\n`));
  await Promise.all(
    replies.map((r, i) => c.waitOutput(r.channel, `line-${i}-of-${N}\r\n`, { count: 2, timeoutMs: 15000 })),
  );
  await sleep(100);
  replies.forEach((r, i) => {
    const text = c.ch(r.channel).text();
    assert.equal(text, `line-${i}-of-${N}\r\n`.repeat(2), `channel ${r.channel} carries only its own session`);
  });

  const list = await c.list();
  assert.equal(list.length, N);
  assert.ok(list.every((s) => s.state === 'running' && s.attached === 1 && s.attached_here === true), 'all running, attached here');
  assert.deepEqual(new Set(list.map((s) => s.session)), new Set(replies.map((r) => r.session)));
});

test('limits: --max-sessions-per-connection 3 and --max-sessions 4 → too_many_sessions', T, async (t) => {
  const d = await daemonFor(t, { args: ['--max-sessions', '4', '--max-sessions-per-connection', '3'] });
  const a = await connectPty(d, t);
  const b = await connectPty(d, t);
  assert.equal(a.helloReply.capabilities.pty.max_sessions, 4);
  assert.equal(a.helloReply.capabilities.pty.max_sessions_per_connection, 3);
  const opened = [];
  for (let i = 0; i < 3; i++) opened.push(await a.open({ argv: ['/bin/cat'] }));
  await expectError(a, { type: 'pty.open', argv: ['/bin/cat'] }, 'too_many_sessions');

  // per connection: another connection may open; then the daemon-wide limit (4) holds
  const b1 = await b.open({ argv: ['/bin/cat'] });
  await expectError(b, { type: 'pty.open', argv: ['/bin/cat'] }, 'too_many_sessions');
  assert.equal((await b.list()).length, 4, 'no session was created by the refused opens');
  await echoCheck(b, b1.channel, 'b-still-works');

  // closing one frees a slot
  const cl = await a.request({ type: 'pty.close', session: opened[0].session });
  assert.equal(cl.type, 'pty.close', JSON.stringify(cl));
  await a.waitExit(opened[0].channel);
  const again = await until(
    async () => {
      const r = await b.request({ type: 'pty.open', argv: ['/bin/cat'] });
      if (r.type === 'pty.open') return r;
      assertError(assert, r, { code: 'too_many_sessions' });
      return null;
    },
    { timeoutMs: 3000, what: 'a slot after closing a session' },
  );
  await echoCheck(b, again.channel, 'b-again');
  await expectError(a, { type: 'pty.open', argv: ['/bin/cat'] }, 'too_many_sessions');
});

test('bad input → the documented errors; the connection and other sessions go on', { timeout: 30000 }, async (t) => {
  const d = await daemonFor(t);
  const c = await connectPty(d, t);
  const other = await connectPty(d, t);
  const keep = await c.open({ argv: ['/bin/cat'] });
  const S = keep.session;
  const NO = 'pty-999999';

  // pty.open members
  const open = (extra) => ({ type: 'pty.open', argv: ['/bin/cat'], ...extra });
  await expectError(c, open({ argv: [] }), 'invalid_field', 'argv');
  await expectError(c, open({ argv: 'cat' }), 'invalid_field', 'argv');
  await expectError(c, open({ argv: [1] }), 'invalid_field', 'argv');
  await expectError(c, open({ argv: Array(257).fill('x') }), 'invalid_field', 'argv');
  await expectError(c, open({ cols: 0 }), 'invalid_field', 'cols');
  await expectError(c, open({ rows: 1001 }), 'invalid_field', 'rows');
  await expectError(c, open({ term: 'x'.repeat(65) }), 'invalid_field', 'term');
  await expectError(c, open({ credit: -1 }), 'invalid_field', 'credit');
  await expectError(c, open({ credit: 1073741825 }), 'invalid_field', 'credit');
  await expectError(c, open({ read_only: 'yes' }), 'invalid_field', 'read_only');
  await expectError(c, open({ cwd: 5 }), 'invalid_field', 'cwd');
  const envErr = await expectError(c, open({ env: { A: 1 } }), 'invalid_field');
  assert.match(String(envErr.field), /^env/, `field names env: ${JSON.stringify(envErr)}`);
  await expectError(c, open({ bogus: true }), 'unknown_field', 'bogus');
  await expectError(c, { type: 'pty.list', verbose: true }, 'unknown_field', 'verbose');
  await expectError(c, { type: 'pty.attach', session: S, bogus: 1 }, 'unknown_field', 'bogus');
  await echoCheck(c, keep.channel, 'after-open-errors');

  // unknown sessions
  await expectError(c, { type: 'pty.resize', session: NO, cols: 80, rows: 24 }, 'unknown_session');
  await expectError(c, { type: 'pty.signal', session: NO, signal: 'INT' }, 'unknown_session');
  await expectError(c, { type: 'pty.close', session: NO }, 'unknown_session');
  await expectError(c, { type: 'pty.attach', session: NO }, 'unknown_session');
  await expectError(c, { type: 'pty.detach', session: NO }, 'unknown_session');
  await expectError(c, { type: 'pty.credit', session: NO, bytes: 10 }, 'unknown_session');
  await expectError(c, { type: 'pty.resize', cols: 80, rows: 24 }, 'missing_field', 'session');
  await expectError(c, { type: 'pty.resize', session: 5, cols: 80, rows: 24 }, 'invalid_field', 'session');
  // detach / credit need an attachment on this connection
  await expectError(other, { type: 'pty.detach', session: S }, 'unknown_session');
  await expectError(other, { type: 'pty.credit', session: S, bytes: 10 }, 'unknown_session');

  // credit
  for (const bytes of [0, -5, 1.5, 2 ** 31, '10', null]) {
    await expectError(c, { type: 'pty.credit', session: S, bytes }, 'invalid_field', 'bytes');
  }
  await expectError(c, { type: 'pty.credit', session: S }, 'missing_field', 'bytes');
  const cr = await c.request({ type: 'pty.credit', session: S, bytes: 1 });
  assert.equal(cr.type, 'pty.credit', JSON.stringify(cr));
  const spent = c.ch(keep.channel).length; // the echo so far, all of it received
  assert.equal(cr.credit, 262144 - spent + 1, `credit after the grant (${spent} bytes spent): ${JSON.stringify(cr)}`);
  // the credit after a grant may reach 2^30, not pass it
  const top = await c.request({ type: 'pty.credit', session: S, bytes: 1073741824 - cr.credit });
  assert.equal(top.credit, 1073741824, JSON.stringify(top));
  await expectError(c, { type: 'pty.credit', session: S, bytes: 1 }, 'invalid_field', 'bytes');

  // attach
  await expectError(c, { type: 'pty.attach', session: S }, 'already_attached');
  await expectError(other, { type: 'pty.attach', session: S, since: -1 }, 'invalid_field', 'since');
  await expectError(other, { type: 'pty.attach', session: S, since: 1e9 }, 'invalid_field', 'since');
  await expectError(other, { type: 'pty.attach', session: S, credit: 0.5 }, 'invalid_field', 'credit');
  await echoCheck(c, keep.channel, 'after-session-errors');

  // binary: unknown channel, too short
  const unusedChannel = 0x7fff0000;
  c.input(unusedChannel, 'nobody\n');
  let e = await c.waitError('unknown_channel');
  assert.equal(e.id, null, JSON.stringify(e));
  c.ws.send(Buffer.from([0, 0, 1]), { binary: true });
  e = await c.waitError('invalid_binary');
  assert.equal(e.id, null, JSON.stringify(e));
  await echoCheck(c, keep.channel, 'after-binary-errors');

  // a session that exited: its channel is closed, the session forgotten
  const gone = await c.open({ argv: ['/bin/sh', '-c', 'exit 0'] });
  const ex = await c.waitExit(gone.channel);
  assert.equal(ex.exit_code, 0);
  c.input(gone.channel, 'too late\n');
  e = await c.waitError('unknown_channel');
  assert.equal(e.id, null);
  await expectError(c, { type: 'pty.resize', session: gone.session, cols: 80, rows: 24 }, 'unknown_session');
  await expectError(c, { type: 'pty.credit', session: gone.session, bytes: 10 }, 'unknown_session');

  // still alive, with only the one session
  await echoCheck(c, keep.channel, 'still-alive');
  const list = await other.list();
  assert.deepEqual(list.map((s) => s.session), [S]);
  assert.equal(c.closeInfo, null, 'the connection was never closed');
  assert.deepEqual(c.strays, [], 'no reply without a request');
  const unexpected = c.events.filter((x) => !x.taken && x.msg.type !== 'pty.exit');
  assert.deepEqual(unexpected.map((x) => x.msg), [], 'no error beyond the ones provoked');
});

test('detach on disconnect, reattach with since: exactly the missed bytes; since 0 from a third connection replays all', { timeout: 30000 }, async (t) => {
  const d = await daemonFor(t);
  const expected = Array.from({ length: 50 }, (_, i) => `line${i}\r\n`).join('');
  const a = await connectPty(d, t);
  const r = await a.open({
    argv: ['/bin/sh', '-c', 'i=0; while [ $i -lt 50 ]; do echo line$i; i=$((i+1)); sleep 0.05; done; sleep 30'],
  });
  await a.waitOutput(r.channel, 'line10\r\n', { timeoutMs: 5000 });
  await a.close();
  const aBytes = a.ch(r.channel).bytes();
  const aNext = r.seq + aBytes.length;
  assert.ok(aBytes.length < expected.length, 'A left before the end');
  assert.ok(expected.startsWith(aBytes.toString('latin1')), 'A received a prefix of the output');
  await sleep(1000);

  const b = await connectPty(d, t);
  const e = sessionIn(await b.list(), r.session);
  assert.ok(e, 'the session outlives its connection');
  assert.equal(e.state, 'running');
  assert.equal(e.attached, 0, JSON.stringify(e));
  assert.equal(e.attached_here, false);
  assert.equal(typeof e.detached_s, 'number', `detached_s: ${JSON.stringify(e)}`);
  assert.ok(e.detached_s >= 0 && e.detached_s < 10, `detached_s: ${e.detached_s}`);
  assert.ok(e.seq >= aNext, JSON.stringify(e));

  const att = await b.attach({ session: r.session, since: aNext });
  assert.equal(att.session, r.session);
  assert.equal(att.seq, aNext, `attach seq == since: ${JSON.stringify(att)}`);
  assert.equal(att.dropped, 0);
  assert.ok(att.end_seq >= aNext && att.end_seq <= expected.length, JSON.stringify(att));
  assert.equal(att.state, 'running');
  assert.equal(att.pid, r.pid);
  assert.equal(att.cols, 80);
  assert.equal(att.rows, 24);
  assert.equal(att.credit, 262144);
  assert.ok(Number.isInteger(att.channel));

  await b.waitBytes(att.channel, expected.length - aNext, { timeoutMs: 8000 });
  await sleep(200);
  const whole = Buffer.concat([aBytes, b.ch(att.channel).bytes()]).toString('latin1');
  assert.equal(whole, expected, 'A\'s bytes + B\'s bytes are the whole output, no gap, no duplicate');

  const c3 = await connectPty(d, t);
  const att3 = await c3.attach({ session: r.session, since: 0 });
  assert.equal(att3.seq, 0);
  assert.equal(att3.dropped, 0);
  assert.equal(att3.end_seq, expected.length);
  await c3.waitBytes(att3.channel, expected.length);
  const c4 = await connectPty(d, t);
  const att4 = await c4.attach({ session: r.session }); // since defaults to the oldest retained byte
  assert.equal(att4.seq, 0);
  await c4.waitBytes(att4.channel, expected.length);
  await sleep(100);
  assert.equal(c3.ch(att3.channel).text(), expected, 'since 0 replays the whole output');
  assert.equal(c4.ch(att4.channel).text(), expected, 'no since replays the whole output');
  assert.equal((sessionIn(await b.list(), r.session)).attached, 3);

  // pty.close: every attachment gets pty.exit
  await b.request({ type: 'pty.close', session: r.session });
  const exits = await Promise.all([b.waitExit(att.channel), c3.waitExit(att3.channel), c4.waitExit(att4.channel)]);
  for (const ex of exits) {
    assert.equal(ex.seq, expected.length, JSON.stringify(ex));
    assert.equal(ex.signal, 'HUP', JSON.stringify(ex));
  }
});

test('--ring-bytes 4096: 20000 bytes while detached → attach since 0 gets seq = end_seq - retained, dropped, the last 4096 bytes', T, async (t) => {
  const d = await daemonFor(t, { args: ['--ring-bytes', '4096'] });
  const a = await connectPty(d, t);
  assert.equal(a.helloReply.capabilities.pty.ring_bytes, 4096);
  const expected = Array.from({ length: 2000 }, (_, i) => `${String(i).padStart(9, '0')}|`).join('');
  const py = "import sys; sys.stdout.write(''.join('%09d|' % i for i in range(2000))); sys.stdout.flush()";
  const r = await a.open({ argv: ['/bin/sh', '-c', `sleep 0.5; ${PYTHON3} -c "${py}"; exec sleep 30`] });
  const det = await a.request({ type: 'pty.detach', id: 'det', session: r.session });
  assert.deepEqual({ type: det.type, id: det.id, session: det.session }, { type: 'pty.detach', id: 'det', session: r.session }, JSON.stringify(det));
  a.input(r.channel, 'x');
  const e1 = await a.waitError('unknown_channel');
  assert.equal(e1.id, null);

  const e = await until(
    async () => {
      const s = sessionIn(await a.list(), r.session);
      return s && s.seq === expected.length ? s : null;
    },
    { timeoutMs: 8000, what: 'the detached session reads all 20000 bytes' },
  );
  assert.equal(e.attached, 0);
  assert.equal(typeof e.detached_s, 'number');
  assert.equal(e.retained, 4096, `the ring keeps the most recent ring_bytes: ${JSON.stringify(e)}`);
  assert.equal(a.ch(r.channel).length, 0, 'nothing was sent to the detached channel');

  const att = await a.attach({ session: r.session, since: 0 });
  assert.equal(att.end_seq, expected.length, JSON.stringify(att));
  assert.equal(att.seq, att.end_seq - e.retained, `seq is the oldest retained byte: ${JSON.stringify(att)}`);
  assert.equal(att.dropped, att.seq, `dropped counts the lost bytes since 0: ${JSON.stringify(att)}`);
  assert.ok(att.dropped > 0);
  await a.waitBytes(att.channel, 4096);
  await sleep(150);
  assert.equal(a.ch(att.channel).text(), expected.slice(att.seq), 'exactly the last bytes of the output');
});

test('read_only attachment: input and control requests get read_only; two writers can both write', T, async (t) => {
  const d = await daemonFor(t);
  const a = await connectPty(d, t);
  const b = await connectPty(d, t);
  const w = await connectPty(d, t);
  const r = await a.open({ argv: ['/bin/cat'] });
  const ro = await b.attach({ session: r.session, read_only: true });
  b.input(ro.channel, 'from-readonly\n');
  const e = await b.waitError('read_only');
  assert.equal(e.id, null, JSON.stringify(e));
  await expectError(b, { type: 'pty.resize', session: r.session, cols: 100, rows: 30 }, 'read_only');
  await expectError(b, { type: 'pty.signal', session: r.session, signal: 'INT' }, 'read_only');
  await expectError(b, { type: 'pty.close', session: r.session }, 'read_only');

  await echoCheck(a, r.channel, 'from-a');
  await b.waitOutput(ro.channel, 'from-a\r\n', { count: 2 });

  const wr = await w.attach({ session: r.session });
  const from = w.ch(wr.channel).length;
  w.input(wr.channel, 'from-w\n');
  await w.waitOutput(wr.channel, 'from-w\r\n', { from, count: 2 });
  await a.waitOutput(r.channel, 'from-w\r\n', { count: 2 });
  await b.waitOutput(ro.channel, 'from-w\r\n', { count: 2 });
  const rs = await w.request({ type: 'pty.resize', session: r.session, cols: 100, rows: 30 });
  assert.equal(rs.type, 'pty.resize', JSON.stringify(rs));
  await echoCheck(a, r.channel, 'a-again');
  for (const [cl, ch] of [[a, r.channel], [b, ro.channel], [w, wr.channel]]) {
    assert.ok(!cl.ch(ch).text().includes('from-readonly'), 'the read-only input never reached the terminal');
  }
  const e2 = sessionIn(await a.list(), r.session);
  assert.equal(e2.attached, 3);
  assert.deepEqual({ cols: e2.cols, rows: e2.rows }, { cols: 100, rows: 30 }, 'the refused resize changed nothing');
});

test('pty.close → SIGHUP (pty.exit signal HUP); a child ignoring HUP is killed after --close-grace-ms 300 (signal KILL)', T, async (t) => {
  const d = await daemonFor(t, { args: ['--close-grace-ms', '300'] });
  const c = await connectPty(d, t);
  const r = await c.open({ argv: ['/bin/sh', '-c', 'exec sleep 30'] });
  await until(() => procStat(r.pid)?.comm === 'sleep', { what: 'sleep runs' });
  let t0 = performance.now();
  const cl = await c.request({ type: 'pty.close', id: 'cl', session: r.session });
  assert.deepEqual({ type: cl.type, id: cl.id, session: cl.session }, { type: 'pty.close', id: 'cl', session: r.session }, JSON.stringify(cl));
  assert.ok(performance.now() - t0 < 1000, 'the reply comes at once');
  let ex = await c.waitExit(r.channel, { timeoutMs: 3000 });
  assert.equal(ex.signal, 'HUP', JSON.stringify(ex));
  assert.equal(ex.exit_code, null);
  assert.ok(await waitPidGone(r.pid, 1000));

  const r2 = await c.open({ argv: ['/bin/sh', '-c', "trap '' HUP; echo armed; sleep 30"] });
  await c.waitOutput(r2.channel, 'armed\r\n');
  const sleeper = await until(() => childNamed(r2.pid, 'sleep')[0], { what: 'sh runs sleep' });
  t0 = performance.now();
  await c.request({ type: 'pty.close', session: r2.session });
  ex = await c.waitExit(r2.channel, { timeoutMs: 3000 });
  const ms = performance.now() - t0;
  assert.equal(ex.signal, 'KILL', JSON.stringify(ex));
  assert.equal(ex.exit_code, null);
  assert.ok(ms >= 250, `KILL only after the grace period: ${ms.toFixed(0)} ms`);
  assert.ok(ms < 1500, `KILL after --close-grace-ms 300, not the 2000 ms default: ${ms.toFixed(0)} ms`);
  assert.ok(await waitPidGone(sleeper.pid, 1000), 'the whole process group is gone (sleep too)');
  await until(() => zombieChildren(d.pid).length === 0, { timeoutMs: 2000, what: 'no zombie' });
});

test('a session that exits while detached keeps its output and exit for a later attach', T, async (t) => {
  const d = await daemonFor(t);
  const a = await connectPty(d, t);
  const r = await a.open({ argv: ['/bin/sh', '-c', 'sleep 0.3; echo bye-detached; exit 7'] });
  await a.request({ type: 'pty.detach', session: r.session });
  const b = await connectPty(d, t);
  const e = await until(
    async () => {
      const s = sessionIn(await b.list(), r.session);
      return s && s.state === 'exited' ? s : null;
    },
    { timeoutMs: 5000, what: 'the detached session is listed as exited' },
  );
  assert.equal(e.exit_code, 7, JSON.stringify(e));
  assert.equal(e.attached, 0);
  assert.equal(typeof e.detached_s, 'number');
  assert.equal(e.seq, 14, JSON.stringify(e));
  await expectError(b, { type: 'pty.resize', session: r.session, cols: 90, rows: 20 }, 'session_exited');
  await expectError(b, { type: 'pty.signal', session: r.session, signal: 'INT' }, 'session_exited');
  await sleep(300);
  assert.ok(sessionIn(await b.list(), r.session), 'an exited detached session waits for an attach');

  const att = await b.attach({ session: r.session });
  assert.equal(att.state, 'exited', JSON.stringify(att));
  assert.equal(att.seq, 0);
  assert.equal(att.end_seq, 14);
  const ex = await b.waitExit(att.channel);
  assert.equal(ex.exit_code, 7);
  assert.equal(ex.signal, null);
  assert.equal(ex.seq, 14);
  assert.equal(ex.channel, att.channel);
  assert.equal(b.ch(att.channel).bytesAtExit, 14);
  assert.equal(b.ch(att.channel).text(), 'bye-detached\r\n');
  await until(async () => !sessionIn(await b.list(), r.session), { what: 'the session is forgotten after its exit was collected' });
  assert.ok(!a.events.some((x) => x.msg.type === 'pty.exit'), 'the detached connection got no pty.exit');
});

test('--detach-timeout 1: a detached session is closed within ~3 s and its process is gone (the default keeps it)', T, async (t) => {
  const [d1, d2] = await Promise.all([daemonFor(t, { args: ['--detach-timeout', '1'] }), daemonFor(t)]);
  const a1 = await connectPty(d1, t);
  const a2 = await connectPty(d2, t);
  assert.equal(a1.helloReply.capabilities.pty.detach_timeout_s, 1);
  const r1 = await a1.open({ argv: ['/bin/sh', '-c', 'exec sleep 30'] });
  const r2 = await a2.open({ argv: ['/bin/sh', '-c', 'exec sleep 30'] });
  await Promise.all([a1.close(), a2.close()]);
  const t0 = performance.now();
  const b1 = await connectPty(d1, t);
  const b2 = await connectPty(d2, t);
  assert.ok(await waitPidGone(r1.pid, 3500), `the child is gone ~1 s after the detach (waited ${(performance.now() - t0).toFixed(0)} ms)`);
  await until(
    async () => {
      const s = sessionIn(await b1.list(), r1.session);
      return !s || s.state === 'exited';
    },
    { timeoutMs: 1000, what: 'the session is closed' },
  );
  const kept = sessionIn(await b2.list(), r2.session);
  assert.ok(kept && kept.state === 'running', `with the default timeout the session stays: ${JSON.stringify(kept)}`);
  assert.ok(pidAlive(r2.pid));
});

test('--max-detached 2: when a third session is detached, the one detached longest is closed', T, async (t) => {
  const d = await daemonFor(t, { args: ['--max-detached', '2'] });
  const c = await connectPty(d, t);
  assert.equal(c.helloReply.capabilities.pty.max_detached, 2);
  const rs = [];
  for (let i = 0; i < 3; i++) rs.push(await c.open({ argv: ['/bin/sh', '-c', 'exec sleep 30'] }));
  for (const r of rs) {
    await c.request({ type: 'pty.detach', session: r.session });
    await sleep(100);
  }
  assert.ok(await waitPidGone(rs[0].pid, 3000), 'the first detached session\'s child is gone');
  const list = await c.list();
  const s0 = sessionIn(list, rs[0].session);
  assert.ok(!s0 || s0.state === 'exited', `the first detached session is closed: ${JSON.stringify(s0)}`);
  for (const r of rs.slice(1)) {
    const s = sessionIn(list, r.session);
    assert.ok(s && s.state === 'running', `the later ones stay: ${JSON.stringify(s)}`);
    assert.ok(pidAlive(r.pid));
  }
});
