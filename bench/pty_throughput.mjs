// Terminal output throughput through a WebSocket server: a session runs `cat FILE`, the client
// counts the output bytes until the session ends, and reports MB/s (10^6 bytes/s).
//
//   node pty_throughput.mjs --target tetherd --tetherd BIN --tether BIN --file FILE [--reps N]
//                           [--strace OUT]   (one extra, unmeasured run with `strace -c` on the
//                                             daemon: its own syscalls, not its children's)
//   node pty_throughput.mjs --target ttyd --ttyd BIN --file FILE [--reps N]
//
// tetherd: pty.open with an initial credit of 64 MiB, re-granted (pty.credit) every 16 MiB
// received, so credit never runs out (--credit BYTES and --grant-every BYTES change that, e.g.
// to the daemon's default credit; --label NAME names the results); the run ends at pty.exit.
// ttyd: one connection per run, ends when ttyd closes the WebSocket after `cat` exits.
// Prints one JSON line per run and a summary line with the medians.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  parseArgs, median, emit, log, sleep, cpuSeconds, cpuTimes, clientCpuSeconds, machineCpu,
  machineBusyPct, startTetherd,
  TetherClient, openSession, startTtyd, TtydClient, SizeHist,
} from './lib.mjs';

const args = parseArgs();
const target = args.target ?? 'tetherd';
const file = args.file && path.resolve(args.file);   // the session's cwd is HOME
const reps = Number(args.reps ?? 3);
const timeoutMs = Number(args['timeout-s'] ?? 120) * 1000;
if (!file || !fs.existsSync(file)) throw new Error('--file FILE (an existing file) is required');

const INITIAL_CREDIT = Number(args.credit ?? 64 * 1024 * 1024);
const GRANT_EVERY = Number(args['grant-every'] ?? 16 * 1024 * 1024);
const label = args.label ?? target;   // the results' kind: `${label}-throughput`

async function tetherdRun(d) {
  const c = await TetherClient.connect(d.endpoint);
  const hist = new SizeHist();
  let session = null;
  let channel = null;
  let sinceGrant = 0;
  let grants = 0;
  let exitMsg = null;
  const done = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no pty.exit within ${timeoutMs} ms`)), timeoutMs);
    c.onEvent = (m) => {
      if (m.type === 'pty.exit' && (session === null || m.session === session)) {
        clearTimeout(t);
        exitMsg = m;
        resolve();
      } else if (m.type === 'error') {
        log(`tetherd: ${JSON.stringify(m)}`);
      }
    };
  });
  c.onBinary = (ch, buf) => {
    if (channel !== null && ch !== channel) return;
    const n = buf.length - 4;
    hist.add(n);
    sinceGrant += n;
    if (sinceGrant >= GRANT_EVERY && session) {
      // the last grant may reach the daemon after the session ended: unknown_session is fine
      c.fire({ type: 'pty.credit', session, bytes: sinceGrant }, ['unknown_session']);
      sinceGrant = 0;
      grants++;
    }
  };
  const cpu0 = cpuTimes(d.pid);
  const ccpu0 = clientCpuSeconds();
  const m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  const r = await openSession(c, { argv: ['cat', file], credit: INITIAL_CREDIT, cols: 80, rows: 24 });
  session = r.session;
  channel = r.channel;
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = cpuTimes(d.pid);
  const m1 = machineCpu();
  const daemonCpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
  const clientCpu = clientCpuSeconds() - ccpu0;
  await c.close();
  return {
    bytes: hist.bytes,
    seq: exitMsg?.seq ?? null,
    exit_code: exitMsg?.exit_code ?? null,
    seconds: secs,
    mbps: hist.bytes / secs / 1e6,
    frames: hist.n,
    bytes_per_frame: hist.n ? hist.bytes / hist.n : 0,
    max_frame: hist.max,
    frame_sizes: hist.top(),
    credit_grants: grants,
    server_cpu_s: daemonCpu,
    server_cpu_pct: (100 * daemonCpu) / secs,
    machine_busy_pct: machineBusyPct(m0, m1),
    server_user_pct: (100 * (cpu1.user - cpu0.user)) / secs,
    server_sys_pct: (100 * (cpu1.sys - cpu0.sys)) / secs,
    client_cpu_s: clientCpu,
    client_cpu_pct: (100 * clientCpu) / secs,
  };
}

async function ttydRun(t) {
  const c = await TtydClient.connect(t.port);
  const hist = new SizeHist();
  c.onOutput = (buf) => hist.add(buf.length - 1);
  const cpu0 = cpuSeconds(t.pid);
  const ccpu0 = clientCpuSeconds();
  const m0 = machineCpu();
  const t0 = process.hrtime.bigint();
  c.init(80, 24);
  let timer;
  const closed = await Promise.race([
    c.closed,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ttyd did not close within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const serverCpu = cpuSeconds(t.pid) - cpu0;
  const m1 = machineCpu();
  const clientCpu = clientCpuSeconds() - ccpu0;
  return {
    bytes: hist.bytes,
    close_code: closed.code,
    seconds: secs,
    mbps: hist.bytes / secs / 1e6,
    frames: hist.n,
    bytes_per_frame: hist.n ? hist.bytes / hist.n : 0,
    max_frame: hist.max,
    frame_sizes: hist.top(),
    server_cpu_s: serverCpu,
    server_cpu_pct: (100 * serverCpu) / secs,
    machine_busy_pct: machineBusyPct(m0, m1),
    client_cpu_s: clientCpu,
    client_cpu_pct: (100 * clientCpu) / secs,
  };
}

/** Attaches `strace -c` to pid; returns stop() that detaches it and resolves its report. */
async function straceOn(pid, out) {
  const p = spawn('strace', ['-c', '-S', 'calls', '-o', out, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  // strace prints "Process N attached" once it is in
  for (let i = 0; i < 50 && !/attached/.test(err); i++) await sleep(50);
  return async () => {
    p.kill('SIGINT');
    await new Promise((resolve) => p.once('exit', resolve));
    return fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : err;
  };
}

async function main() {
  const runs = [];
  let server;
  let runOnce;
  if (target === 'tetherd') {
    server = await startTetherd({ tetherd: args.tetherd, tether: args.tether });
    runOnce = () => tetherdRun(server);
  } else if (target === 'ttyd') {
    server = await startTtyd(args.ttyd, ['cat', file]);
    runOnce = () => ttydRun(server);
  } else {
    throw new Error(`--target tetherd|ttyd, not ${target}`);
  }
  try {
    for (let i = 0; i < reps; i++) {
      const r = await runOnce();
      runs.push(r);
      emit({ kind: `${label}-throughput`, rep: i, ...r });
      await sleep(200);
    }
    emit({
      kind: `${label}-throughput-summary`,
      reps,
      mbps: median(runs.map((r) => r.mbps)),
      bytes: median(runs.map((r) => r.bytes)),
      bytes_per_frame: median(runs.map((r) => r.bytes_per_frame)),
      server_cpu_pct: median(runs.map((r) => r.server_cpu_pct)),
      client_cpu_pct: median(runs.map((r) => r.client_cpu_pct)),
    });
    if (args.strace) {
      const stop = await straceOn(server.pid, args.strace);
      const r = await runOnce();
      const report = await stop();
      emit({ kind: `${label}-throughput-strace`, ...r, strace_file: args.strace });
      log(report);
    }
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  log(`pty_throughput (${target}): ${e.stack ?? e}`);
  process.exit(1);
});
