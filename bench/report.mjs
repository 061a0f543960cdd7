// Prints the benchmark's report from the JSON lines bench/run collected (one file, argument 1).
// Medians are taken over the per-repetition lines; a measurement that did not run shows "n/a".
// Never fails on a slow number: the verdict column says "met" or "missed".

import fs from 'node:fs';
import { median } from './lib.mjs';

const file = process.argv[2];
const meta = JSON.parse(process.argv[3] ?? '{}');
const lines = fs
  .readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return null;
    }
  })
  .filter(Boolean);

const of = (kind) => lines.filter((l) => l.kind === kind);
const med = (kind, key) => median(of(kind).map((l) => l[key]));
const all = (kind, key, digits = 1) => of(kind).map((l) => fmt(l[key], digits)).join(' ');

function fmt(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (typeof v !== 'number') return String(v);
  return v.toFixed(digits);
}

const out = [];
const p = (s = '') => out.push(s);

p(`tether terminal benchmark  ${meta.date ?? ''}`);
p(`machine: ${meta.cpus ?? '?'} CPUs, ${meta.kernel ?? ''}; ${meta.tetherd_version ?? 'tetherd'}` +
  ` (${meta.tetherd_source ?? 'work tree'})` +
  `${meta.ttyd_version ? `; ttyd ${meta.ttyd_version}` : '; ttyd: not available'}`);
p(`data: ${meta.file ?? ''} (${meta.mib ?? '?'} MiB of 80-byte text lines; the terminal's ONLCR ` +
  'makes each "\\n" "\\r\\n", so more bytes leave the PTY than the file holds)');
p(`repetitions: ${meta.reps ?? '?'} (medians; the runs of the three servers are interleaved); ` +
  'MB = 10^6 bytes; µs = microseconds');
p(`other load: CPUs ${meta.busy_start ?? '?'}% busy in the second before the start, ` +
  `${meta.busy_end ?? '?'}% in the second after the end` +
  `${meta.busy_procs ? ` (${meta.busy_procs})` : ''}` +
  `${Number(meta.busy_start) >= 10 || Number(meta.busy_end) >= 10 ? ' — the machine was not idle: expect noise' : ''}`);
p();

// ---- throughput
const ptyT = med('pty-throughput', 'mbps');
const tdT = med('tetherd-throughput', 'mbps');
const ttT = med('ttyd-throughput', 'mbps');
p('1. Output throughput: `cat FILE` in a terminal, bytes counted by the reader');
const ptyE = med('pty-throughput-epoll', 'mbps');
const expectBytes = median(of('pty-throughput').map((l) => l.bytes));
// bytes received, and how many runs came up short of what the terminal emitted
const got = (k) => {
  const short = of(k).filter((l) => expectBytes !== null && l.bytes < expectBytes);
  const worst = short.length ? Math.max(...short.map((l) => expectBytes - l.bytes)) : 0;
  return `${fmt(med(k, 'bytes'), 0)} bytes` +
    (short.length ? ` (${short.length} of ${of(k).length} runs short, by up to ${worst} bytes: the end of the output was lost)` : '');
};
const busy = (k) => `machine CPU busy ${fmt(med(k, 'machine_busy_pct'), 0)}% (of ${meta.cpus ?? '?'} CPUs)`;
p(`   PTY limit (bench/pty_limit.c)  ${fmt(ptyT).padStart(6)} MB/s   runs: ${all('pty-throughput', 'mbps')}`);
p(`      blocking reads: mean ${fmt(med('pty-throughput', 'bytes_per_read'), 0)} B per read, ` +
  `reader CPU ${fmt(med('pty-throughput', 'reader_cpu_pct'), 0)}%, ${busy('pty-throughput')}, ` +
  `${fmt(med('pty-throughput', 'bytes'), 0)} bytes`);
p(`   PTY, event-loop reader         ${fmt(ptyE).padStart(6)} MB/s   runs: ${all('pty-throughput-epoll', 'mbps')}`);
p(`      epoll_wait then non-blocking reads to EAGAIN (as a libuv server reads): ` +
  `mean ${fmt(med('pty-throughput-epoll', 'bytes_per_read'), 0)} B per read, ${busy('pty-throughput-epoll')}`);
p(`   tetherd (WebSocket, Node ws)   ${fmt(tdT).padStart(6)} MB/s   runs: ${all('tetherd-throughput', 'mbps')}`);
p(`      mean frame ${fmt(med('tetherd-throughput', 'bytes_per_frame'), 0)} B, ` +
  `daemon CPU ${fmt(med('tetherd-throughput', 'server_cpu_pct'), 0)}% ` +
  `(user ${fmt(med('tetherd-throughput', 'server_user_pct'), 0)}%, sys ${fmt(med('tetherd-throughput', 'server_sys_pct'), 0)}%), ` +
  `client CPU ${fmt(med('tetherd-throughput', 'client_cpu_pct'), 0)}%, ${busy('tetherd-throughput')}, ` +
  got('tetherd-throughput'));
const dcT = med('tetherd-dc-throughput', 'mbps');
p(`   tetherd, default credit        ${fmt(dcT).padStart(6)} MB/s   runs: ${all('tetherd-dc-throughput', 'mbps')}`);
p(`      pty.open credit 262144, pty.credit of 64 KiB each time 64 KiB arrived ` +
  `(${fmt(med('tetherd-dc-throughput', 'credit_grants'), 0)} grants), ` +
  `mean frame ${fmt(med('tetherd-dc-throughput', 'bytes_per_frame'), 0)} B, ${got('tetherd-dc-throughput')}`);
if (of('ttyd-throughput').length) {
  p(`   ttyd (WebSocket, Node ws)      ${fmt(ttT).padStart(6)} MB/s   runs: ${all('ttyd-throughput', 'mbps')}`);
  p(`      mean frame ${fmt(med('ttyd-throughput', 'bytes_per_frame'), 0)} B, ` +
    `ttyd CPU ${fmt(med('ttyd-throughput', 'server_cpu_pct'), 0)}%, ` +
    `client CPU ${fmt(med('ttyd-throughput', 'client_cpu_pct'), 0)}%, ${busy('ttyd-throughput')}, ` +
    got('ttyd-throughput'));
} else {
  p(`   ttyd                           n/a (${meta.ttyd_note ?? 'not run'})`);
}
const fs1 = of('tetherd-throughput')[0]?.frame_sizes;
if (fs1) p(`   tetherd frames per size (first run): ${JSON.stringify(fs1)}`);
const st = of('tetherd-throughput-strace')[0];
if (st) p(`   strace -c of tetherd during one extra run: ${meta.strace_file} (${fmt(st.mbps)} MB/s under strace)`);
p();

// ---- echo
const ptyE50 = med('pty-echo', 'p50_us');
const ptyE99 = med('pty-echo', 'p99_us');
const tdE50 = med('tetherd-echo', 'p50_us');
const tdE99 = med('tetherd-echo', 'p99_us');
const ttE50 = med('ttyd-echo', 'p50_us');
const ttE99 = med('ttyd-echo', 'p99_us');
p(`2. Keystroke echo: 1 byte to \`stty raw -echo; exec cat\` and back, ${meta.echo_count ?? '?'} round trips a run`);
p(`   PTY alone (C, no network)      p50 ${fmt(ptyE50)} µs  p99 ${fmt(ptyE99)} µs   p99 runs: ${all('pty-echo', 'p99_us')}`);
p(`   tetherd (Node ws client)       p50 ${fmt(tdE50)} µs  p99 ${fmt(tdE99)} µs   p99 runs: ${all('tetherd-echo', 'p99_us')}`);
if (of('ttyd-echo').length) {
  p(`   ttyd (Node ws client)          p50 ${fmt(ttE50)} µs  p99 ${fmt(ttE99)} µs   p99 runs: ${all('ttyd-echo', 'p99_us')}`);
} else {
  p(`   ttyd                           n/a (${meta.ttyd_note ?? 'not run'})`);
}
const tdF50 = med('tetherd-echo-flood', 'p50_us');
const tdF99 = med('tetherd-echo-flood', 'p99_us');
const ttF50 = med('ttyd-echo-flood', 'p50_us');
const ttF99 = med('ttyd-echo-flood', 'p99_us');
p(`   while another session of the same server floods (\`cat FILE\` in a loop, its client reading all), ` +
  `${meta.flood_echo_count ?? '?'} round trips a run:`);
p(`   tetherd                        p50 ${fmt(tdF50)} µs  p99 ${fmt(tdF99)} µs   p99 runs: ${all('tetherd-echo-flood', 'p99_us')}` +
  `   flood ${fmt(med('tetherd-echo-flood', 'flood_mbps'))} MB/s meanwhile`);
if (of('ttyd-echo-flood').length) {
  p(`   ttyd                           p50 ${fmt(ttF50)} µs  p99 ${fmt(ttF99)} µs   p99 runs: ${all('ttyd-echo-flood', 'p99_us')}` +
    `   flood ${fmt(med('ttyd-echo-flood', 'flood_mbps'))} MB/s meanwhile`);
}
p();

// ---- memory
const m = of('tetherd-memory');
const idle = med('tetherd-memory', 'idle_kib_per_session');
const det = med('tetherd-memory', 'detached_kib_per_session');
const full = med('tetherd-memory', 'full_ring_kib_per_session');
const ringKiB = m.length ? m[0].ring_bytes / 1024 : null;
p(`3. Memory (tetherd VmRSS; ${m[0]?.sessions ?? '?'} sessions running \`cat\`; ring_bytes ${fmt(ringKiB, 0)} KiB, ` +
  `max_detached set to ${m[0]?.max_detached ?? '?'})`);
p(`   0 sessions: ${fmt(med('tetherd-memory', 'rss0_kib'), 0)} KiB; ` +
  `${m[0]?.sessions ?? '?'} idle: ${fmt(med('tetherd-memory', 'rss_idle_kib'), 0)} KiB; ` +
  `after detach (${fmt(med('tetherd-memory', 'detached'), 0)} detached): ${fmt(med('tetherd-memory', 'rss_detached_kib'), 0)} KiB`);
p(`   per idle session: ${fmt(idle, 2)} KiB RSS (${fmt(med('tetherd-memory', 'idle_vmdata_kib_per_session'), 2)} KiB VmData); ` +
  `per detached session: ${fmt(det, 2)} KiB RSS (${fmt(med('tetherd-memory', 'detached_vmdata_kib_per_session'), 2)} KiB VmData)`);
p(`   per detached session whose ring is full (printed ring_bytes): ${fmt(full, 1)} KiB RSS ` +
  `(${fmt(med('tetherd-memory', 'full_ring_vmdata_kib_per_session'), 1)} KiB VmData) — ` +
  `the ring is allocated lazily: ${idle !== null && ringKiB && idle < ringKiB / 4 ? 'yes (an idle session holds none of it)' : 'no'}`);
p();

// ---- table
const ratio = (a, b) => (a === null || b === null || !b ? null : a / b);
const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'met' : 'missed');
const rows = [
  ['metric', 'tetherd', 'peer/limit', 'ratio', 'target', 'verdict'],
  ['throughput vs PTY limit (MB/s)', fmt(tdT), `${fmt(ptyT)} (PTY)`, fmt(ratio(tdT, ptyT), 2),
   '>= 0.90', verdict(ratio(tdT, ptyT) === null ? null : ratio(tdT, ptyT) >= 0.9)],
  ['throughput vs event-loop PTY reader', fmt(tdT), `${fmt(ptyE)} (PTY, epoll)`, fmt(ratio(tdT, ptyE), 2),
   '-', '-'],
  ['throughput, default credit vs 64 MiB', fmt(dcT), `${fmt(tdT)} (64 MiB)`, fmt(ratio(dcT, tdT), 2), '-', '-'],
  ['throughput vs ttyd (MB/s)', fmt(tdT), `${fmt(ttT)} (ttyd)`, fmt(ratio(tdT, ttT), 2),
   '>= 1.00', verdict(ratio(tdT, ttT) === null ? null : ratio(tdT, ttT) >= 1)],
  ['echo p50 (µs)', fmt(tdE50), `${fmt(ttE50)} (ttyd)`, fmt(ratio(tdE50, ttE50), 2), '-', '-'],
  ['echo p99 (µs)', fmt(tdE99), `${fmt(ttE99)} (ttyd)`, fmt(ratio(tdE99, ttE99), 2),
   '< 100 µs', verdict(tdE99 === null ? null : tdE99 < 100)],
  ['echo p50 beside a flood (µs)', fmt(tdF50), `${fmt(ttF50)} (ttyd)`, fmt(ratio(tdF50, ttF50), 2), '-', '-'],
  ['echo p99 beside a flood (µs)', fmt(tdF99), `${fmt(ttF99)} (ttyd)`, fmt(ratio(tdF99, ttF99), 2),
   '< 100 µs', verdict(tdF99 === null ? null : tdF99 < 100)],
  ['echo p99 vs bare PTY (µs)', fmt(tdE99), `${fmt(ptyE99)} (PTY)`, fmt(ratio(tdE99, ptyE99), 2), '-', '-'],
  ['idle session (KiB RSS)', fmt(idle, 1), 'ring: none yet', '-', '< 64 KiB + ring',
   verdict(idle === null ? null : idle < 64)],
  ['detached session (KiB RSS)', fmt(det, 1), 'ring: none yet', '-', '< 64 KiB + ring',
   verdict(det === null ? null : det < 64)],
  ['detached, full ring (KiB RSS)', fmt(full, 1), `${fmt(ringKiB, 0)} (ring)`, fmt(ratio(full, ringKiB), 3),
   '< 64 KiB + ring', verdict(full === null || ringKiB === null ? null : full - ringKiB < 64)],
];
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
p('Summary');
rows.forEach((r, k) => {
  p('  ' + r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd());
  if (k === 0) p('  ' + w.map((n) => '-'.repeat(n)).join('  '));
});
if (ptyE99 !== null && ptyE99 >= 100) {
  p(`  note: the bare PTY round trip alone has p99 ${fmt(ptyE99)} µs on this machine, so "< 100 µs" ` +
    'cannot be met here by any server; compare with ttyd and the bare PTY instead.');
}
process.stdout.write(out.join('\n') + '\n');
