// tether anchor in systemd mode (issue 6; relay/anchor.c), through a fake `systemctl` first on
// PATH that records its argv and starts or kills a real tetherd as systemd would (this machine
// has no systemd as PID 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive, waitExit, TETHERD_BIN, sleep } from './lib.mjs';
import { poll, readOr, writeFakeTools, anchorLayout, startAnchor, status } from './lifelib.mjs';

// ---------------------------------------------------------------------------------------------
// systemd mode, with a fake systemctl that starts and kills a real tetherd as systemd would

function fakeSystemd(l) {
  const dir = path.join(l.tmp, 'fake');
  const pidFile = path.join(dir, 'tetherd.pid');
  const body = `
case "$2" in
start|restart)
  if [ "$2" = restart ] && [ -s '${pidFile}' ]; then
    kill -KILL "$(cat '${pidFile}')" 2>/dev/null
    while kill -0 "$(cat '${pidFile}')" 2>/dev/null; do sleep 0.01; done
  fi
  if [ "$2" = start ] && [ -s '${pidFile}' ] && kill -0 "$(cat '${pidFile}')" 2>/dev/null; then exit 0; fi
  setsid '${TETHERD_BIN()}' --runtime-dir '${l.rt}' --port 0 --log-file '${dir}/tetherd.log' </dev/null >/dev/null 2>&1 &
  echo $! > '${pidFile}'
  ;;
esac`;
  const f = writeFakeTools(dir, { systemctlBody: body });
  f.pid = () => Number(readOr(pidFile, '0'));
  return f;
}

test('systemd mode: `systemctl --user start tetherd.service`, health on the unix socket, daemon_pid from endpoint.json', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = fakeSystemd(l);
  const a = startAnchor(t, l, { args: ['--mode', 'systemd'], env: { PATH: `${fake.bin}:${process.env.PATH}` } });
  const s = await a.until((s) => s.state === 'running', 'running');
  assert.deepEqual(fake.read(), ['systemctl --user start tetherd.service']);
  assert.equal(s.mode, 'systemd');
  assert.equal(s.daemon_pid, fake.pid());
  const st = await status(l, false);
  assert.match(st.stdout, /anchor: +pid \d+, systemd mode, running/);
});

test('systemd mode: unhealthy → `systemctl --user restart tetherd.service`', { timeout: 40000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = fakeSystemd(l);
  const a = startAnchor(t, l, {
    args: ['--mode', 'systemd', '--health-interval-ms', '200'],
    env: { PATH: `${fake.bin}:${process.env.PATH}`, TETHERD_TEST_STALL_MS: '15000' },
  });
  const s = await a.until((s) => s.state === 'running', 'running');
  process.kill(s.daemon_pid, 'SIGUSR2');
  const s2 = await a.until((x) => x.state === 'running' && x.daemon_pid && x.daemon_pid !== s.daemon_pid, 'restarted through systemctl', 25000);
  assert.deepEqual(fake.read(), ['systemctl --user start tetherd.service', 'systemctl --user restart tetherd.service']);
  assert.match(s2.last_exit ?? '', /^unhealthy: /);
  assert.equal(s2.restarts, 1);
  assert.equal(s2.daemon_pid, fake.pid());
});

test('systemd mode: SIGTERM to the anchor leaves tetherd.service running', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = fakeSystemd(l);
  const a = startAnchor(t, l, { args: ['--mode', 'systemd'], env: { PATH: `${fake.bin}:${process.env.PATH}` } });
  const s = await a.until((s) => s.state === 'running', 'running');
  assert.deepEqual(await a.stop(), { code: 0, signal: null });
  assert.equal(fs.existsSync(l.anchorJson), false);
  await sleep(300);
  assert.ok(pidAlive(s.daemon_pid), 'tetherd still runs');
  const st = await status(l);
  assert.equal(st.code, 0);
  assert.equal(st.json.pid, s.daemon_pid);
  assert.equal(st.json.anchor, null);
  assert.deepEqual(fake.read(), ['systemctl --user start tetherd.service'], 'no stop');
});

test('systemd mode: SIGTERM while a health check is in flight still stops the anchor', { timeout: 30000 }, async (t) => {
  const l = await anchorLayout(t);
  const fake = fakeSystemd(l);
  const a = startAnchor(t, l, {
    args: ['--mode', 'systemd', '--health-interval-ms', '200'],
    env: { PATH: `${fake.bin}:${process.env.PATH}`, TETHERD_TEST_STALL_MS: '15000' },
  });
  const s = await a.until((s) => s.state === 'running', 'running');
  process.kill(s.daemon_pid, 'SIGUSR2'); // hello now waits the full 2 s for every check
  await poll(() => /health check 1 of 3 failed/.test(a.anchorLog()), { timeoutMs: 10000, what: 'a failed check' });
  await sleep(500); // the next check started 200 ms after, and waits until 2 s
  const t0 = performance.now();
  a.kill('SIGTERM');
  const ex = await waitExit(a, 8000).catch((e) => e.message);
  assert.deepEqual(ex, { code: 0, signal: null }, `the anchor stops once the check is done: ${a.describe()}`);
  assert.ok(performance.now() - t0 < 4000);
  assert.equal(fs.existsSync(l.anchorJson), false);
  assert.ok(pidAlive(s.daemon_pid), 'the unit is left running');
});
