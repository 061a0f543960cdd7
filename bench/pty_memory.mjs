// tetherd's memory per terminal session, from /proc/PID/status (VmRSS: resident; VmData: heap
// and anonymous mappings, touched or not). Each repetition uses fresh daemons:
//
//   A  (--max-detached above SESSIONS, so no detached session is closed)
//      0 sessions: one connection after hello
//      SESSIONS idle sessions running `cat` (no output), attached to that connection
//      the connection closed: SESSIONS detached sessions (counted with pty.list afterwards)
//   B  SESSIONS sessions that each print ring_bytes (head -c RING /dev/zero) and then idle in
//      `cat`, opened with credit 0 and detached at once, so the daemon reads every byte into
//      their rings: the cost of a detached session whose ring is full
//
//   node pty_memory.mjs --tetherd BIN --tether BIN [--sessions 100] [--reps 3]

import {
  parseArgs, median, emit, log, sleep, memKiB, startTetherd, tetherdFlags, TetherClient,
  openSession,
} from './lib.mjs';

const args = parseArgs();
const N = Number(args.sessions ?? 100);
const reps = Number(args.reps ?? 3);
const SETTLE_MS = 400;

async function settle(pid) {
  await sleep(SETTLE_MS);
  return memKiB(pid);
}

async function listSessions(endpoint) {
  const c = await TetherClient.connect(endpoint);
  const r = await c.request({ type: 'pty.list' });
  await c.close();
  if (r.type !== 'pty.list') throw new Error(`pty.list: ${JSON.stringify(r)}`);
  return r.sessions;
}

async function phaseA(flags) {
  const extra = flags.has('--max-detached') ? ['--max-detached', String(N + 28)] : [];
  const d = await startTetherd({ tetherd: args.tetherd, tether: args.tether, args: extra });
  try {
    const c = await TetherClient.connect(d.endpoint);
    const cap = c.helloReply.capabilities?.pty ?? {};
    const m0 = await settle(d.pid);
    for (let i = 0; i < N; i++) await openSession(c, { argv: ['cat'] });
    const m1 = await settle(d.pid);
    await c.close();
    const m2 = await settle(d.pid);
    const sessions = await listSessions(d.endpoint);
    const detached = sessions.filter((s) => s.attached === 0 && s.state === 'running').length;
    return { cap, m0, m1, m2, detached };
  } finally {
    await d.stop();
  }
}

async function phaseB(flags, ringBytes) {
  const extra = flags.has('--max-detached') ? ['--max-detached', String(N + 28)] : [];
  const d = await startTetherd({ tetherd: args.tetherd, tether: args.tether, args: extra });
  try {
    const c = await TetherClient.connect(d.endpoint);
    const m0 = await settle(d.pid);
    const script = `head -c ${ringBytes} /dev/zero; exec cat`;
    for (let i = 0; i < N; i++) await openSession(c, { argv: ['/bin/sh', '-c', script], credit: 0 });
    await c.close();
    // wait (up to 60 s) until the daemon has read every session's output into its ring
    const end = Date.now() + 60000;
    let full = 0;
    for (;;) {
      const s = await listSessions(d.endpoint);
      full = s.filter((x) => x.seq >= ringBytes).length;
      if (full >= N || Date.now() > end) break;
      await sleep(200);
    }
    const m1 = await settle(d.pid);
    return { m0, m1, full };
  } finally {
    await d.stop();
  }
}

async function main() {
  const flags = tetherdFlags(args.tetherd);
  const runs = [];
  for (let i = 0; i < reps; i++) {
    const a = await phaseA(flags);
    const ringBytes = a.cap.ring_bytes ?? 1048576;
    const b = await phaseB(flags, ringBytes);
    const r = {
      sessions: N,
      ring_bytes: ringBytes,
      max_detached: flags.has('--max-detached') ? N + 28 : a.cap.max_detached ?? null,
      rss0_kib: a.m0.rss,
      rss_idle_kib: a.m1.rss,
      rss_detached_kib: a.m2.rss,
      detached: a.detached,
      idle_kib_per_session: (a.m1.rss - a.m0.rss) / N,
      idle_vmdata_kib_per_session: (a.m1.data - a.m0.data) / N,
      detached_kib_per_session: a.detached ? (a.m2.rss - a.m0.rss) / a.detached : null,
      detached_vmdata_kib_per_session: a.detached ? (a.m2.data - a.m0.data) / a.detached : null,
      full_ring_sessions: b.full,
      rss0_b_kib: b.m0.rss,
      rss_full_ring_kib: b.m1.rss,
      full_ring_kib_per_session: b.full ? (b.m1.rss - b.m0.rss) / b.full : null,
      full_ring_vmdata_kib_per_session: b.full ? (b.m1.data - b.m0.data) / b.full : null,
    };
    runs.push(r);
    emit({ kind: 'tetherd-memory', rep: i, ...r });
  }
  const med = (k) => median(runs.map((r) => r[k]));
  emit({
    kind: 'tetherd-memory-summary',
    reps,
    sessions: N,
    ring_bytes: runs[0].ring_bytes,
    rss0_kib: med('rss0_kib'),
    rss_idle_kib: med('rss_idle_kib'),
    rss_detached_kib: med('rss_detached_kib'),
    detached: med('detached'),
    idle_kib_per_session: med('idle_kib_per_session'),
    idle_vmdata_kib_per_session: med('idle_vmdata_kib_per_session'),
    detached_kib_per_session: med('detached_kib_per_session'),
    detached_vmdata_kib_per_session: med('detached_vmdata_kib_per_session'),
    full_ring_kib_per_session: med('full_ring_kib_per_session'),
    full_ring_vmdata_kib_per_session: med('full_ring_vmdata_kib_per_session'),
  });
}

main().catch((e) => {
  log(`pty_memory: ${e.stack ?? e}`);
  process.exit(1);
});
