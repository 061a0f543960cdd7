// tether anchor (issue 6; relay/anchor.c): supervise mode (restart after a crash with backoff,
// a crash-loop limit, adoption, health checks, SIGTERM, a lost stdout) and systemd mode through
// anchor-systemd.test.mjs has systemd mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  makeTempLayout,
  startDaemon,
  run,
  childEnv,
  httpGet,
  waitExit,
  waitPidGone,
  pidAlive,
  TETHERD_BIN,
  TETHER_BIN,
  sleep,
} from './lib.mjs';
import { poll, readOr, processesWithMarker, writeFakeTools, anchorLayout, anchorEnv, startAnchor, status } from './lifelib.mjs';

// ---------------------------------------------------------------------------------------------
// supervise

test('supervise: anchor.json and `tether status` show the anchor and its daemon', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l);
  const s = await a.until((s) => s.state === 'running', 'state running');
  assert.deepEqual(
    { ...s, since: typeof s.since, daemon_pid: typeof s.daemon_pid, log: s.log === path.join(l.state, 'tether', 'anchor.log') },
    {
      pid: a.pid,
      mode: 'supervise',
      state: 'running',
      daemon_pid: 'number',
      adopted: false,
      restarts: 0,
      quick_failures: 0,
      restart_limit: 10,
      last_exit: null,
      since: 'string',
      log: true,
    },
  );
  assert.match(s.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const st = await status(l);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(st.json.pid, s.daemon_pid, 'the anchor names the daemon that serves');
  assert.deepEqual(st.json.anchor, s);
  const text = await status(l, false);
  assert.match(text.stdout, new RegExp(`anchor: +pid ${a.pid}, supervise mode, running since \\S+; 0 restarts`));
  // tetherd runs in its own session (a Ctrl-C for the anchor does not reach it directly)
  const sid = fs.readFileSync(`/proc/${s.daemon_pid}/stat`, 'utf8').split(') ')[1].split(' ')[3];
  assert.equal(Number(sid), s.daemon_pid, 'tetherd leads its own session');
  // logs: the anchor's own file, and tetherd's under XDG_STATE_HOME/tether
  assert.match(a.anchorLog(), /supervise mode \(systemd is not PID 1\)/);
  await poll(() => /listening on ws:/.test(readOr(path.join(l.state, 'tether', 'tetherd.log'), '')), { what: 'tetherd.log' });
  assert.equal(a.out(), '', 'nothing on stdout/stderr');
});

test('tetherd\'s log: XDG_STATE_HOME/tether/tetherd.log unless --log-file, --config or the default config names one', { timeout: 30000 }, async (t) => {
  const cmdline = (pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, -1);
  const cases = [
    { name: 'default', daemonArgs: [], expect: (l) => path.join(l.state, 'tether', 'tetherd.log') },
    { name: '--log-file', daemonArgs: (l) => ['--log-file', path.join(l.tmp, 'flag.log')], expect: (l) => path.join(l.tmp, 'flag.log') },
    {
      name: '--config',
      daemonArgs: (l) => {
        const f = path.join(l.tmp, 'cfg.json');
        fs.writeFileSync(f, JSON.stringify({ log_file: path.join(l.tmp, 'config.log') }));
        return ['--config', f];
      },
      expect: (l) => path.join(l.tmp, 'config.log'),
    },
    {
      name: 'the default config file',
      daemonArgs: (l) => {
        fs.mkdirSync(path.join(l.home, '.config', 'tether'), { recursive: true });
        fs.writeFileSync(path.join(l.home, '.config', 'tether', 'tetherd.json'), JSON.stringify({ log_file: path.join(l.tmp, 'home.log') }));
        return [];
      },
      expect: (l) => path.join(l.tmp, 'home.log'),
    },
  ];
  for (const c of cases) {
    const l = await anchorLayout(t);
    const extra = typeof c.daemonArgs === 'function' ? c.daemonArgs(l) : c.daemonArgs;
    const a = startAnchor(t, l, { daemonArgs: ['--port', '0', ...extra] });
    const s = await a.until((s) => s.state === 'running', `${c.name}: running`);
    const want = c.expect(l);
    await poll(() => /listening on ws:/.test(readOr(want, '')), { what: `${c.name}: tetherd logs to ${want}`, describe: () => JSON.stringify(cmdline(s.daemon_pid)) });
    const argv = cmdline(s.daemon_pid);
    assert.equal(argv.filter((x) => x === '--log-file').length, c.name === 'default' || c.name === '--log-file' ? 1 : 0, `${c.name}: ${argv.join(' ')}`);
    if (c.name !== 'default') assert.equal(fs.existsSync(path.join(l.state, 'tether', 'tetherd.log')), false, c.name);
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
  }
});

test('supervise: kill -9 of tetherd → a new daemon serving within 1 s', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l);
  const s = await a.until((s) => s.state === 'running', 'state running');
  const t0 = performance.now();
  process.kill(s.daemon_pid, 'SIGKILL');
  const st = await poll(
    async () => {
      const r = await status(l);
      return r.code === 0 && r.json.pid !== s.daemon_pid && r;
    },
    { timeoutMs: 10000, every: 5, what: 'a new daemon answering tether status', describe: a.describe },
  );
  const ms = performance.now() - t0;
  const h = await httpGet(st.json.listen.port, '/healthz');
  assert.equal(h.status, 200, 'healthz over TCP');
  assert.ok(ms < 1000, `back in service ${ms.toFixed(0)} ms after kill -9 (first retry after 100 ms)`);
  const s2 = await a.until((x) => x.state === 'running' && x.daemon_pid === st.json.pid, 'running with the new pid');
  assert.equal(s2.restarts, 1);
  assert.equal(s2.last_exit, 'killed by SIGKILL');
  assert.equal(s2.quick_failures, 1);
  assert.equal(s2.adopted, false);
});

/** A --tetherd script: records each start (ns since the epoch) and exits 1, unless the file
 *  `ok` exists next to it, in which case it execs the real tetherd. */
function crashingTetherd(l) {
  const dir = path.join(l.tmp, 'fake-tetherd');
  fs.mkdirSync(dir);
  const script = path.join(dir, 'tetherd');
  fs.writeFileSync(
    script,
    `#!/bin/sh\ndate +%s%N >> '${dir}/starts'\n[ -e '${dir}/ok' ] && exec '${TETHERD_BIN()}' "$@"\nexit 1\n`,
    { mode: 0o755 },
  );
  return {
    script,
    ok: () => fs.writeFileSync(path.join(dir, 'ok'), ''),
    starts: () => (readOr(path.join(dir, 'starts'), '') || '').split('\n').filter(Boolean).map((x) => Number(BigInt(x) / 1000n) / 1000),
  };
}

test('supervise: a crash loop backs off 100/200/400 ms, gives up after --restart-limit, SIGHUP retries', { timeout: 40000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = crashingTetherd(l);
  const a = startAnchor(t, l, { args: ['--tetherd', fake.script, '--restart-limit', '4'] });
  const seen = new Set();
  const s = await poll(
    () => {
      const s = a.state();
      if (s?.state === 'backoff') seen.add(s.next_retry_ms);
      return s?.state === 'gave-up' && s;
    },
    { timeoutMs: 15000, every: 5, what: 'gave-up', describe: a.describe },
  );
  const starts = fake.starts();
  assert.equal(starts.length, 4, `4 starts before giving up: ${starts}`);
  const gaps = starts.slice(1).map((x, i) => x - starts[i]);
  [100, 200, 400].forEach((min, i) => {
    assert.ok(gaps[i] >= min, `retry ${i + 1} came ${gaps[i].toFixed(1)} ms after the start before it (≥ ${min})`);
    assert.ok(gaps[i] < min + 3000, `retry ${i + 1} after ${gaps[i].toFixed(1)} ms`);
  });
  for (const v of seen) assert.ok([100, 200, 400].includes(v), `next_retry_ms ${v}`);
  assert.ok(seen.has(400), `backoff with next_retry_ms 400 seen in anchor.json (saw ${[...seen]})`);
  assert.equal(s.quick_failures, 4);
  assert.equal(s.restart_limit, 4);
  assert.equal(s.restarts, 3);
  assert.equal(s.last_exit, 'exit 1');
  assert.equal(s.daemon_pid, null);
  assert.equal('next_retry_ms' in s, false, 'no next retry once given up');

  // `tether status` shows it although tetherd is down
  const st = await status(l);
  assert.equal(st.code, 1);
  assert.equal(st.json.running, false);
  assert.deepEqual(st.json.anchor, s);
  const text = await status(l, false);
  assert.equal(text.code, 1);
  assert.match(text.stdout, new RegExp(`anchor: +pid ${a.pid}, supervise mode, gave-up since .*; 3 restarts; last exit: exit 1`));
  assert.match(text.stdout, new RegExp(`kill -HUP ${a.pid}`));
  assert.match(a.anchorLog(), /4 quick failures in a row: giving up/);

  // the anchor stays; after a while it still has not retried
  await sleep(600);
  assert.equal(fake.starts().length, 4, 'no start while given up');
  assert.equal(a.exitCode, null, 'the anchor keeps running');

  // SIGHUP: try again (now the daemon starts for real)
  fake.ok();
  a.kill('SIGHUP');
  const r = await a.until((x) => x.state === 'running', 'running after SIGHUP');
  assert.equal(fake.starts().length, 5);
  assert.equal(r.quick_failures, 0, 'SIGHUP clears the quick failures');
  const st2 = await status(l);
  assert.equal(st2.code, 0, st2.stderr);
  assert.equal(st2.json.pid, r.daemon_pid);
});

test('supervise: tetherd exiting 2 at once (-- --port notanumber) is a crash loop too', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l, { args: ['--restart-limit', '2'], daemonArgs: ['--port', 'notanumber'] });
  const s = await a.until((s) => s.state === 'gave-up', 'gave-up');
  assert.equal(s.last_exit, 'exit 2');
  assert.equal(s.quick_failures, 2);
  // tetherd's own complaint (written before its log opens) lands in the anchor's log
  assert.match(a.anchorLog(), /tetherd: .*port/);
});

test('two anchors: the second exits 1 naming the first; a dead anchor\'s lock is taken over', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l);
  const s = await a.until((s) => s.state === 'running', 'running');
  const b = await run(TETHER_BIN(), ['anchor', '--runtime-dir', l.rt, '--', '--port', '0'], {
    env: childEnv(l.home, anchorEnv(l)),
  });
  assert.equal(b.code, 1, b.stdout + b.stderr);
  assert.match(b.stderr, new RegExp(`another tether anchor \\(pid ${a.pid}\\) is running`));
  assert.deepEqual(a.state().pid, a.pid, 'anchor.json still the first one\'s');

  // kill -9 the first: its tetherd (own session) keeps serving and the next anchor adopts it
  a.kill('SIGKILL');
  await waitExit(a, 5000);
  assert.ok(pidAlive(s.daemon_pid), 'tetherd outlives an anchor killed outright');
  const st = await status(l);
  assert.equal(st.json.anchor, null, 'a dead anchor\'s anchor.json is not shown');
  const c = startAnchor(t, l);
  const s3 = await c.until((x) => x.pid === c.pid && x.state === 'running', 'the next anchor running');
  assert.equal(s3.daemon_pid, s.daemon_pid);
  assert.equal(s3.adopted, true);
});

test('SIGTERM (and SIGINT) to the anchor: tetherd exits, the anchor exits 0, anchor.json removed, nothing left', { timeout: 30000 }, async (t) => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const l = await anchorLayout(t);
    const a = startAnchor(t, l);
    const s = await a.until((s) => s.state === 'running', 'running');
    assert.deepEqual(await a.stop(sig), { code: 0, signal: null }, a.describe());
    assert.ok(await waitPidGone(s.daemon_pid, 5000), 'tetherd is gone');
    assert.equal(fs.existsSync(l.anchorJson), false, 'anchor.json removed');
    assert.deepEqual(processesWithMarker(l.marker), [], 'no process left');
    assert.match(a.anchorLog(), new RegExp(`${sig}: stopping[^]*tetherd stopped: exit 0[^]*anchor stopped`));
    // the anchor forwards either as SIGTERM
    assert.match(readOr(path.join(l.state, 'tether', 'tetherd.log'), ''), /stopping: tetherd is stopping \(SIGTERM\)/);
  }
});

test('stdin is a pipe and reaches EOF (the shim closed wsl.exe\'s stdin): the anchor stops as on SIGTERM', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l, { stdio: ['pipe', 'pipe', 'pipe'] });
  const s = await a.until((s) => s.state === 'running', 'running');
  a.stdin.write('anything the Windows side sends is ignored\n');
  await sleep(200);
  assert.equal(a.state()?.state, 'running', 'data on stdin does not stop it');
  a.stdin.end();
  assert.deepEqual(await waitExit(a, 10000), { code: 0, signal: null }, a.describe());
  assert.ok(await waitPidGone(s.daemon_pid, 5000), 'tetherd is gone');
  assert.equal(fs.existsSync(l.anchorJson), false, 'anchor.json removed');
  assert.match(a.anchorLog(), /stdin closed: stopping[^]*tetherd stopped: exit 0/);
});

test('SIGTERM during backoff: the anchor exits 0 at once, no restart', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = crashingTetherd(l);
  const a = startAnchor(t, l, { args: ['--tetherd', fake.script] });
  await a.until((s) => s.state === 'backoff' && s.next_retry_ms >= 200, 'second backoff');
  const n = fake.starts().length;
  assert.deepEqual(await a.stop('SIGTERM', 5000), { code: 0, signal: null });
  await sleep(500);
  assert.equal(fake.starts().length, n, 'no start after SIGTERM');
  assert.equal(fs.existsSync(l.anchorJson), false);
});

test('SIGTERM to the anchor: a tetherd that ignores SIGTERM gets SIGKILL 10 s later', { timeout: 40000 }, async (t) => {
  const l = await anchorLayout(t);
  const script = path.join(l.tmp, 'stubborn-tetherd');
  const trapped = path.join(l.tmp, 'trapped');
  fs.writeFileSync(script, `#!/bin/sh\ntrap '' TERM\n: > '${trapped}'\nwhile :; do sleep 0.05; done\n`, { mode: 0o755 });
  const a = startAnchor(t, l, { args: ['--tetherd', script] });
  const s = await a.until((s) => s.state === 'starting' && s.daemon_pid, 'the stubborn daemon started');
  // the script says when its trap is set (a fixed wait can be too short on a loaded machine)
  await poll(() => fs.existsSync(trapped), { timeoutMs: 10000, what: 'the stubborn daemon set its trap' });
  const t0 = performance.now();
  a.kill('SIGTERM');
  const ex = await waitExit(a, 20000);
  const ms = performance.now() - t0;
  assert.deepEqual(ex, { code: 0, signal: null });
  assert.ok(ms >= 10000, `SIGKILL only after 10 s (${ms.toFixed(0)} ms)`);
  assert.ok(await waitPidGone(s.daemon_pid, 2000));
  assert.match(a.anchorLog(), new RegExp(`tetherd \\(pid ${s.daemon_pid}\\) still running 10 s after SIGTERM: SIGKILL[^]*tetherd stopped: killed by SIGKILL`));
  assert.equal(fs.existsSync(l.anchorJson), false);
});

test('SIGTERM to an anchor that gave up: exit 0 at once', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const a = startAnchor(t, l, { args: ['--restart-limit', '1'], daemonArgs: ['--port', 'notanumber'] });
  await a.until((s) => s.state === 'gave-up', 'gave-up');
  assert.deepEqual(await a.stop('SIGTERM', 5000), { code: 0, signal: null });
  assert.equal(fs.existsSync(l.anchorJson), false);
});

test('tether status with an anchor.json it cannot read: reports it, does not crash', {
  timeout: 30000,
}, async (t) => {
  const l = await anchorLayout(t);
  fs.writeFileSync(l.anchorJson, JSON.stringify({ pid: process.pid }));
  const r = await run(TETHER_BIN(), ['status', '--runtime-dir', l.rt], {
    env: childEnv(l.home, { ASAN_OPTIONS: 'handle_segv=0:detect_leaks=0' }),
  });
  assert.equal(r.signal, null, `tether status died of ${r.signal}`);
  assert.equal(r.code, 1);
});

for (const logTo of ['its log file', 'stderr (--log-file /dev/stderr)']) {
  test(`the anchor's stdout and stderr lose their reader, logging to ${logTo}: kill -9 of tetherd still restarts it`, { timeout: 30000 }, async (t) => {
    const l = await anchorLayout(t);
    // A real pipe (a FIFO; Node's own pipes are socketpairs), as wsl.exe gives the anchor.
    const fifo = path.join(l.tmp, 'stdout.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const w = fs.openSync(fifo, 'w');
    const args = logTo.startsWith('stderr') ? ['--log-file', '/dev/stderr'] : [];
    const a = startAnchor(t, l, { args, stdio: ['ignore', w, w] });
    fs.closeSync(w);
    const s = await a.until((s) => s.state === 'running', 'running');
    // the reader goes away: every write the anchor (or tetherd) makes there now fails (EPIPE)
    fs.closeSync(r);
    process.kill(s.daemon_pid, 'SIGKILL');
    const s2 = await a.until((x) => x.state === 'running' && x.daemon_pid !== s.daemon_pid, 'a new daemon');
    assert.equal(s2.restarts, 1);
    const st = await status(l);
    assert.equal(st.code, 0);
    assert.equal(st.json.pid, s2.daemon_pid);
    assert.equal(a.exitCode, null, 'the anchor is still running');
    assert.equal(a.signalCode, null);
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
  });
}

test('adoption: a tetherd started by hand is adopted, and when killed replaced by a child', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const d = await startDaemon({ layout: l, env: { [l.marker]: '1' } });
  t.after(() => d.cleanup());
  const a = startAnchor(t, l);
  const s = await a.until((s) => s.state === 'running', 'running');
  assert.equal(s.daemon_pid, d.pid);
  assert.equal(s.adopted, true);
  assert.match(a.anchorLog(), new RegExp(`adopted the running tetherd \\(pid ${d.pid}\\)`));
  d.proc.kill('SIGKILL');
  const s2 = await a.until((x) => x.state === 'running' && x.daemon_pid !== d.pid, 'a child replaces it');
  assert.equal(s2.adopted, false);
  assert.equal(s2.last_exit, `adopted tetherd pid ${d.pid} ended`);
  const st = await status(l);
  assert.equal(st.json.pid, s2.daemon_pid);
  // SIGTERM stops the child it started
  assert.deepEqual(await a.stop(), { code: 0, signal: null });
  assert.ok(await waitPidGone(s2.daemon_pid, 5000));
});

test('SIGTERM to the anchor stops an adopted tetherd too', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const d = await startDaemon({ layout: l, env: { [l.marker]: '1' } });
  t.after(() => d.cleanup());
  const a = startAnchor(t, l);
  await a.until((s) => s.state === 'running' && s.adopted, 'adopted');
  assert.deepEqual(await a.stop(), { code: 0, signal: null });
  assert.deepEqual(await waitExit(d.proc, 5000), { code: 0, signal: null }, 'the adopted tetherd got SIGTERM');
});

test('unhealthy: a stalled loop fails 3 health checks → SIGKILL and restart, last_exit "unhealthy: ..."', { timeout: 40000 }, async (t) => {
  // Each check waits 2 s for hello; 3 failures in a row need the loop stuck for over 6 s.
  const STALL = 15000;
  const l = await anchorLayout(t);
  const a = startAnchor(t, l, { args: ['--health-interval-ms', '200'], env: { TETHERD_TEST_STALL_MS: String(STALL) } });
  const s = await a.until((s) => s.state === 'running', 'running');
  const t0 = performance.now();
  process.kill(s.daemon_pid, 'SIGUSR2');
  const s2 = await a.until((x) => x.state === 'running' && x.daemon_pid !== s.daemon_pid, 'restarted', 20000);
  const ms = performance.now() - t0;
  assert.match(s2.last_exit, /^unhealthy: /);
  assert.ok(ms >= 3 * 2000, `three 2 s health checks failed first (${ms.toFixed(0)} ms)`);
  assert.ok(ms < STALL, `killed before the stall ended by itself (${ms.toFixed(0)} ms)`);
  assert.ok(await waitPidGone(s.daemon_pid, 2000), 'the stalled daemon is gone');
  assert.match(a.anchorLog(), /health check 1 of 3 failed[^]*health check 2 of 3 failed[^]*is unhealthy: /);
  const st = await status(l);
  assert.equal(st.json.pid, s2.daemon_pid);
});

test('usage errors: exit 2 naming the flag', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const cases = [
    [['--bogus', 'x'], /unknown option '--bogus'/],
    [['--mode', 'bogus'], /--mode must be auto, supervise or systemd, got 'bogus'/],
    [['--restart-limit', '0'], /--restart-limit must be an integer from 1 to 1000, got '0'/],
    [['--restart-limit', '3x'], /--restart-limit must be an integer/],
    [['--health-interval-ms', '5'], /--health-interval-ms must be an integer from 100/],
    [['--runtime-dir'], /missing value: '--runtime-dir'/],
  ];
  for (const [args, re] of cases) {
    const r = await run(TETHER_BIN(), ['anchor', ...args], { env: childEnv(l.home, anchorEnv(l)) });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.deepEqual(processesWithMarker(l.marker), []);
  assert.equal(fs.existsSync(l.anchorJson), false);
});

test('--mode auto without systemd as PID 1: supervise, and systemctl is never asked', { timeout: 30000 }, async (t) => {
  if (fs.existsSync('/run/systemd/system')) {
    t.skip('systemd is PID 1 here');
    return;
  }
  const l = await anchorLayout(t);
  const fake = writeFakeTools(path.join(l.tmp, 'fake'));
  const a = startAnchor(t, l, { args: ['--mode', 'auto'], env: { PATH: `${fake.bin}:${process.env.PATH}` } });
  const s = await a.until((s) => s.state === 'running', 'running');
  assert.equal(s.mode, 'supervise');
  assert.deepEqual(fake.read(), []);
});
