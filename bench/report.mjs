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
p(`machine: ${meta.cpus ?? '?'} CPUs, ${meta.kernel ?? ''}; tetherd ${meta.tetherd_version ?? ''}` +
  `${meta.ttyd_version ? `; ttyd ${meta.ttyd_version}` : '; ttyd: not available'}`);
p(`data: ${meta.file ?? ''} (${meta.mib ?? '?'} MiB of 80-byte text lines; the terminal's ONLCR ` +
  'makes each "\\n" "\\r\\n", so more bytes leave the PTY than the file holds)');
p(`repetitions: ${meta.reps ?? '?'} (medians; the runs of the three servers are interleaved); ` +
  'MB = 10^6 bytes; µs = microseconds');
p();

// ---- throughput
const ptyT = med('pty-throughput', 'mbps');
const tdT = med('tetherd-throughput', 'mbps');
const ttT = med('ttyd-throughput', 'mbps');
p('1. Output throughput: `cat FILE` in a terminal, bytes counted by the reader');
p(`   PTY limit (bench/pty_limit.c)  ${fmt(ptyT)} MB/s   runs: ${all('pty-throughput', 'mbps')}` +
  `   mean read ${fmt(med('pty-throughput', 'bytes_per_read'), 0)} B, ` +
  `bytes ${fmt(med('pty-throughput', 'bytes'), 0)}`);
p(`   tetherd (WebSocket, Node ws)   ${fmt(tdT)} MB/s   runs: ${all('tetherd-throughput', 'mbps')}` +
  `   mean frame ${fmt(med('tetherd-throughput', 'bytes_per_frame'), 0)} B, ` +
  `bytes ${fmt(med('tetherd-throughput', 'bytes'), 0)}, ` +
  `daemon CPU ${fmt(med('tetherd-throughput', 'server_cpu_pct'), 0)}%, ` +
  `client CPU ${fmt(med('tetherd-throughput', 'client_cpu_pct'), 0)}%`);
if (of('ttyd-throughput').length) {
  p(`   ttyd (WebSocket, Node ws)      ${fmt(ttT)} MB/s   runs: ${all('ttyd-throughput', 'mbps')}` +
    `   mean frame ${fmt(med('ttyd-throughput', 'bytes_per_frame'), 0)} B, ` +
    `bytes ${fmt(med('ttyd-throughput', 'bytes'), 0)}, ` +
    `ttyd CPU ${fmt(med('ttyd-throughput', 'server_cpu_pct'), 0)}%, ` +
    `client CPU ${fmt(med('ttyd-throughput', 'client_cpu_pct'), 0)}%`);
} else {
  p(`   ttyd                           n/a (${meta.ttyd_note ?? 'not run'})`);
}
const fs1 = of('tetherd-throughput')[0]?.frame_sizes;
if (fs1) p(`   tetherd frame sizes (first run, count per size bucket): ${JSON.stringify(fs1)}`);
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
  ['throughput vs ttyd (MB/s)', fmt(tdT), `${fmt(ttT)} (ttyd)`, fmt(ratio(tdT, ttT), 2),
   '>= 1.00', verdict(ratio(tdT, ttT) === null ? null : ratio(tdT, ttT) >= 1)],
  ['echo p50 (µs)', fmt(tdE50), `${fmt(ttE50)} (ttyd)`, fmt(ratio(tdE50, ttE50), 2), '-', '-'],
  ['echo p99 (µs)', fmt(tdE99), `${fmt(ttE99)} (ttyd)`, fmt(ratio(tdE99, ttE99), 2),
   '< 100 µs', verdict(tdE99 === null ? null : tdE99 < 100)],
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
