// tetherd's serving benchmark for one model file (bench/serve runs it for each; see there).
//
//   node bench/serve.mjs --tetherd BIN --tether BIN --model FILE [--threads 2] [--reps 5]
//                        [--llama-server BIN] [--out FILE.jsonl]
//
// Four measurements, each with tetherd and (when given) llama-server on the same file, the same
// threads, the same prompts, requests alternating between the two so that drift on a noisy
// machine hits both alike. Times are taken here, in the client, the same way for both servers:
//   1. relay overhead: TTFT of a short prompt through the WebSocket vs the daemon's own TTFT
//      (queue + prompt + first token, from its done event) vs `tether generate` in process
//   2. one stream: TTFT of a ~128-token prompt and generation tok/s over 64 tokens
//   3. N = 1, 2, 4, 8 concurrent streams on a server with N slots: aggregate generation tok/s in
//      the window where all N streams decode (from the last stream's first token to the first
//      stream's last token), so that prompts do not count
//   4. the second turn of a conversation: ~1,500 tokens of history, then the same history plus
//      ~20 new tokens; TTFT with the prompt cache (the slot still holds turn 1) and without it
//      (tetherd: one slot, overwritten by another prompt in between; llama-server:
//      cache_prompt false)
// Greedy everywhere; llama-server gets ignore_eos so that a random model's end-of-text token
// does not end a stream early (tetherd has no such switch; its stop reasons are reported).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { TetherClient, log, median, parseArgs, sleep, startTetherd } from './lib.mjs';

const args = parseArgs();
const MODEL = args.model;
const THREADS = Number(args.threads ?? 2);
const REPS = Number(args.reps ?? 5);
const LLAMA = args['llama-server'] || null;
const CTX = 2048;
const GEN = 64;
if (!args.tetherd || !args.tether || !MODEL) {
  log('usage: node bench/serve.mjs --tetherd BIN --tether BIN --model FILE [--threads N] [--reps N] [--llama-server BIN]');
  process.exit(2);
}
const modelId = MODEL.split('/').pop().replace(/\.gguf$/, '');
const results = [];
const record = (r) => {
  results.push(r);
  if (args.out) fs.appendFileSync(args.out, JSON.stringify({ model: modelId, ...r }) + '\n');
};

// Text whose first characters differ between uses, so that no prompt shares more than the BOS
// token with an earlier one (the caches of both servers would otherwise help).
const WORDS = 'the sea was calm and the ship sailed on toward the far islands where the old light stood'.split(' ');
let serial = 0;
function text(chars) {
  let s = `${String.fromCharCode(65 + (serial % 26))}${serial++} `;
  for (let i = 0; s.length < chars; i++) s += WORDS[i % WORDS.length] + ' ';
  return s.slice(0, chars);
}

// ---- tetherd -------------------------------------------------------------------------------

class Tetherd {
  static async start(slots) {
    const d = await startTetherd({
      tetherd: args.tetherd,
      tether: args.tether,
      args: ['--model', MODEL, '--infer-parallel', String(slots), '--infer-threads', String(THREADS),
        '--infer-ctx', String(CTX), '--keep-alive', '-1'],
    });
    const c = await TetherClient.connect(d.endpoint);
    const t = new Tetherd(d, c);
    const r = await c.request({ type: 'infer.load', model: modelId }, 120000);
    if (r.type !== 'infer.load') throw new Error(`infer.load: ${JSON.stringify(r)}`);
    return t;
  }

  constructor(d, c) {
    this.d = d;
    this.c = c;
    this.streams = new Map();
    c.onEvent = (ev) => {
      const s = this.streams.get(ev.stream);
      if (!s) return;
      if (ev.type === 'infer.delta') {
        const now = performance.now();
        for (let i = 0; i < ev.ids.length; i++) s.times.push(now);
      } else if (ev.type === 'infer.done') {
        this.streams.delete(ev.stream);
        s.resolve({ times: s.times, t0: s.t0, done: ev });
      }
    };
  }

  name() {
    return 'tetherd';
  }

  /** {times: [ms of each token], t0, done} */
  async generate(prompt, maxTokens) {
    const t0 = performance.now();
    const r = await this.c.request({ type: 'infer.generate', model: modelId, prompt, temperature: 0, max_tokens: maxTokens }, 120000);
    if (r.type !== 'infer.generate') throw new Error(`infer.generate: ${JSON.stringify(r)}`);
    return new Promise((resolve) => this.streams.set(r.stream, { t0, times: [], resolve }));
  }

  async stop() {
    await this.c.close();
    await this.d.stop();
  }
}

// ---- llama-server --------------------------------------------------------------------------

let nextPort = 18300 + (process.pid % 500);

class LlamaServer {
  static async start(slots) {
    const port = nextPort++;
    const proc = spawn(LLAMA, ['-m', MODEL, '-t', String(THREADS), '-tb', String(THREADS), '-np', String(slots),
      '-c', String(CTX * slots), '--host', '127.0.0.1', '--port', String(port), '--no-webui'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    process.on('exit', () => proc.kill('SIGKILL'));
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`llama-server exited: ${err}`);
      try {
        const h = await fetch(`http://127.0.0.1:${port}/health`);
        if (h.ok) break;
      } catch {
        // not up yet
      }
      if (i > 600) throw new Error(`llama-server did not come up: ${err}`);
      await sleep(100);
    }
    return new LlamaServer(proc, port);
  }

  constructor(proc, port) {
    this.proc = proc;
    this.port = port;
  }

  name() {
    return 'llama-server';
  }

  async generate(prompt, maxTokens, extra = {}) {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${this.port}/completion`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, n_predict: maxTokens, temperature: 0, stream: true, ignore_eos: true, ...extra }),
    });
    const times = [];
    let buf = '';
    let last = null;
    const dec = new TextDecoder();
    for await (const chunk of res.body) {
      const now = performance.now();
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!line.startsWith('data: ')) continue;
        const ev = JSON.parse(line.slice(6));
        // tokens_predicted counts every token, also those held back while UTF-8 is incomplete
        while (times.length < ev.tokens_predicted) times.push(now);
        last = ev;
      }
    }
    return { times, t0, done: last };
  }

  async stop() {
    this.proc.kill('SIGTERM');
    await new Promise((resolve) => (this.proc.exitCode !== null ? resolve() : this.proc.once('exit', resolve)));
  }
}

async function startBoth(slots) {
  const servers = [await Tetherd.start(slots)];
  if (LLAMA) servers.push(await LlamaServer.start(slots));
  // one warm-up request each: first-touch costs are not what is measured
  for (const s of servers) await s.generate(text(64), 4);
  return servers;
}

const ttft = (r) => r.times[0] - r.t0;
const genRate = (r) => (r.times.length > 1 ? (r.times.length - 1) / ((r.times.at(-1) - r.times[0]) / 1e3) : null);
const fmt = (x, d = 1) => (x === null || x === undefined ? '-' : x.toFixed(d));

// ---- 1. relay overhead, 2. one stream, 4. second turn: servers with one slot ----------------

{
  const servers = await startBoth(1);
  const [ours] = servers;
  // 1: a ~24-token prompt, one token
  const client = [];
  const daemon = [];
  const inproc = [];
  for (let i = 0; i < REPS * 2; i++) {
    const p = text(24);
    const r = await ours.generate(p, 1);
    client.push(ttft(r));
    daemon.push(r.done.timings.ttft_ms);
    const out = execFileSync(args.tether, ['generate', '--model', MODEL, '--prompt', p, '--temperature', '0',
      '--max-tokens', '1', '--threads', String(THREADS), '--ctx', String(CTX), '--json'], { encoding: 'utf8' });
    inproc.push(JSON.parse(out).timings.ttft_ms);
  }
  const overhead = client.map((x, i) => x - daemon[i]);
  // the floor for comparison: one round trip of a request the loop answers itself
  const rtt = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await ours.c.request({ type: 'status' });
    rtt.push(performance.now() - t0);
  }
  record({
    status_rtt_ms: median(rtt),
    test: 'relay', client_ttft_ms: median(client), daemon_ttft_ms: median(daemon), in_process_ttft_ms: median(inproc),
    relay_overhead_ms: median(overhead), relay_overhead_max_ms: Math.max(...overhead),
  });

  // 2: ~128-token prompt, 64 tokens
  const one = Object.fromEntries(servers.map((s) => [s.name(), { ttft: [], rate: [], n: [] }]));
  for (let i = 0; i < REPS; i++) {
    const p = text(128);
    for (const s of servers) {
      const r = await s.generate(p, GEN);
      one[s.name()].ttft.push(ttft(r));
      one[s.name()].rate.push(genRate(r));
      one[s.name()].n.push(r.times.length);
    }
  }
  for (const s of servers) {
    const o = one[s.name()];
    record({ test: 'one_stream', server: s.name(), ttft_ms: median(o.ttft), gen_tok_s: median(o.rate), tokens: median(o.n) });
  }

  // 4: second turn
  const turn = Object.fromEntries(servers.map((s) => [s.name(), { cached: [], cold: [], prompt: [], hit: [] }]));
  for (let i = 0; i < Math.min(REPS, 3); i++) {
    const history = text(2030);   // ~1,500 tokens of this tokenizer
    const second = `${history} and then the wind rose`;   // ~20 new tokens
    for (const s of servers) {
      const t = turn[s.name()];
      await s.generate(history, 8);
      const warm = await s.generate(second, 1);
      t.cached.push(ttft(warm));
      let cold;
      if (s.name() === 'tetherd') {
        await s.generate(text(64), 1);   // the one slot now holds something else
        cold = await s.generate(second, 1);
        t.prompt.push(warm.done.usage.prompt_tokens);
        t.hit.push(warm.done.usage.cached_tokens);
      } else {
        cold = await s.generate(second, 1, { cache_prompt: false });
        t.prompt.push(warm.done.tokens_evaluated);
        t.hit.push(warm.done.timings ? warm.done.tokens_evaluated - warm.done.timings.prompt_n : null);
      }
      t.cold.push(ttft(cold));
    }
  }
  for (const s of servers) {
    const t = turn[s.name()];
    record({ test: 'second_turn', server: s.name(), prompt_tokens: median(t.prompt), cached_tokens: median(t.hit),
      ttft_cached_ms: median(t.cached), ttft_uncached_ms: median(t.cold) });
  }
  for (const s of servers) await s.stop();
}

// ---- 3. N concurrent streams ----------------------------------------------------------------

for (const n of [1, 2, 4, 8]) {
  const servers = await startBoth(n);
  const agg = Object.fromEntries(servers.map((s) => [s.name(), []]));
  const stops = new Set();
  for (let rep = 0; rep < Math.min(REPS, 3); rep++) {
    const prompts = Array.from({ length: n }, () => text(24));
    for (const s of servers) {
      const rs = await Promise.all(prompts.map((p) => s.generate(p, GEN)));
      if (s.name() === 'tetherd') for (const r of rs) stops.add(r.done.stop_reason);
      const from = Math.max(...rs.map((r) => r.times[0]));
      const to = Math.min(...rs.map((r) => r.times.at(-1)));
      let tokens = 0;
      for (const r of rs) tokens += r.times.filter((t) => t > from && t <= to).length;
      agg[s.name()].push(to > from ? tokens / ((to - from) / 1e3) : null);
    }
  }
  for (const s of servers) {
    record({ test: 'concurrent', server: s.name(), streams: n, agg_tok_s: median(agg[s.name()]),
      ...(s.name() === 'tetherd' ? { stop_reasons: [...stops] } : {}) });
  }
  for (const s of servers) await s.stop();
}

// ---- report ------------------------------------------------------------------------------

const get = (test, server, extra = {}) => results.find((r) => r.test === test && (!server || r.server === server) &&
  Object.entries(extra).every(([k, v]) => r[k] === v));
const rel = get('relay');
console.log(`\n${modelId}, ${THREADS} threads, ${REPS} reps (medians)${LLAMA ? '' : '; no llama-server (LLAMA_SERVER unset)'}`);
console.log(`  relay: TTFT through the WebSocket ${fmt(rel.client_ttft_ms, 2)} ms, the daemon's own ${fmt(rel.daemon_ttft_ms, 2)} ms,` +
  ` in process ${fmt(rel.in_process_ttft_ms, 2)} ms; overhead of the relay ${fmt(rel.relay_overhead_ms, 3)} ms (max ${fmt(rel.relay_overhead_max_ms, 3)});` +
  ` a status round trip ${fmt(rel.status_rtt_ms, 3)} ms`);
const row = (label, a, b, d = 1) => console.log(`  ${label.padEnd(34)} ${fmt(a, d).padStart(9)} ${fmt(b, d).padStart(13)} ${a && b ? (a / b).toFixed(2).padStart(9) : ''}`);
console.log(`  ${''.padEnd(34)} ${'tetherd'.padStart(9)} ${'llama-server'.padStart(13)} ${'ratio'.padStart(9)}`);
const o1 = get('one_stream', 'tetherd');
const l1 = get('one_stream', 'llama-server');
row('one stream: TTFT ms (~128 tok)', o1.ttft_ms, l1?.ttft_ms);
row('one stream: generation tok/s', o1.gen_tok_s, l1?.gen_tok_s);
const base = get('concurrent', 'tetherd', { streams: 1 }).agg_tok_s;
for (const n of [1, 2, 4, 8]) {
  const o = get('concurrent', 'tetherd', { streams: n });
  const l = get('concurrent', 'llama-server', { streams: n });
  row(`${n} streams: aggregate tok/s (x${(o.agg_tok_s / base).toFixed(2)})`, o.agg_tok_s, l?.agg_tok_s);
}
const t2 = get('second_turn', 'tetherd');
const l2 = get('second_turn', 'llama-server');
row(`2nd turn (${t2.prompt_tokens} tok): TTFT ms, cached`, t2.ttft_cached_ms, l2?.ttft_cached_ms);
row('2nd turn: TTFT ms, no cache', t2.ttft_uncached_ms, l2?.ttft_uncached_ms);
console.log(`  2nd turn: prompt cache speed-up x${(t2.ttft_uncached_ms / t2.ttft_cached_ms).toFixed(1)} (tetherd, ${t2.cached_tokens} tokens from the cache)` +
  (l2 ? `, x${(l2.ttft_uncached_ms / l2.ttft_cached_ms).toFixed(1)} (llama-server)` : ''));
const sr = get('concurrent', 'tetherd', { streams: 8 }).stop_reasons;
if (sr.some((x) => x !== 'max_tokens')) console.log(`  note: tetherd streams ended by ${sr.join(', ')} (random weights)`);
process.exit(0);
