// The round trip of one agent hook: `tether hook` started with the agent's JSON on stdin, to its
// exit, with an IDE subscriber (Node's ws) that answers at once. Process start is included, as
// the agent pays it. Prints p50/p99 over BENCH_HOOK_CALLS calls (1000) and the share of it that
// is just starting a process (`tether --version`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocket, ROOT, quantile, startTetherd } from './lib.mjs';

const tether = process.env.TETHER_BIN || path.join(ROOT, 'build/tether');
const tetherd = process.env.TETHERD_BIN || path.join(ROOT, 'build/tetherd');
const calls = Number(process.env.BENCH_HOOK_CALLS || 1000);
const input = fs.readFileSync(path.join(ROOT, '../shared/fixtures/hooks/in/PreToolUse.json'));

function run(args, stdin) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(tether, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => { out += b; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, out }));
    p.stdin.on('error', () => {});   // --version exits before reading
    p.stdin.end(stdin);
  });
}

const d = await startTetherd({ tetherd, tether });
const ws = new WebSocket(d.endpoint.url, { headers: { Authorization: `Bearer ${d.endpoint.token}` } });
await new Promise((r) => ws.once('open', r));
ws.send(JSON.stringify({ type: 'hello', id: 1, protocol: 1 }));
ws.send(JSON.stringify({ type: 'hooks.subscribe', id: 2, events: ['PreToolUse'] }));
ws.on('message', (m) => {
  const j = JSON.parse(m);
  if (j.type === 'hooks.request')
    ws.send(JSON.stringify({ type: 'hooks.respond', id: j.hook, hook: j.hook, decision: 'allow' }));
});
await new Promise((r) => setTimeout(r, 200));

const hook = [], start = [];
for (let i = 0; i < calls; i++) {
  const r = await run(['hook', '--runtime-dir', d.rt], input);
  if (r.code !== 0 || !r.out.includes('"allow"')) throw new Error(`hook ${i}: exit ${r.code} ${r.out}`);
  hook.push(r.ms);
  if (i < 200) start.push((await run(['--version'], '')).ms);
}
hook.sort((a, b) => a - b);
start.sort((a, b) => a - b);
const f = (x) => x.toFixed(2);
console.log(`  ${calls} calls: p50 ${f(quantile(hook, 0.5))} ms, p99 ${f(quantile(hook, 0.99))} ms; ` +
  `starting a tether process alone (tether --version, from Node): p50 ${f(quantile(start, 0.5))} ms`);
ws.close();
await d.stop();
