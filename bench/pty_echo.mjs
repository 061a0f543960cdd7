// Keystroke echo round trip: a session runs `stty raw -echo; exec cat`; the client sends one
// byte, waits for it to come back, COUNT times (after 200 unmeasured warm-up round trips), and
// reports p50/p99/max in microseconds. Client time is included (Node's ws on both ends of the
// measurement, the same for tetherd and ttyd).
//
//   node pty_echo.mjs --target tetherd --tetherd BIN --tether BIN [--count 10000] [--reps 3]
//   node pty_echo.mjs --target ttyd --ttyd BIN [--count 10000] [--reps 3]
//   ... [--flood FILE]   the same while another session of the same server, on another
//                        connection, runs `while :; do cat FILE; done` and its client reads
//                        it all (credit re-granted): typing in one terminal while a build
//                        floods another. Results are "<target>-echo-flood" with the flood's
//                        MB/s during the measurement. (The flood's client is in this process.)

import path from 'node:path';
import {
  parseArgs, median, quantile, emit, log, sleep, startTetherd, TetherClient, openSession,
  startTtyd, TtydClient,
} from './lib.mjs';

const args = parseArgs();
const target = args.target ?? 'tetherd';
const count = Number(args.count ?? 10000);
const reps = Number(args.reps ?? 3);
const WARMUP = 200;
const READY = 'RDY';
const SCRIPT = `stty raw -echo; printf ${READY}; exec cat`;
const floodFile = args.flood ? path.resolve(args.flood) : null;
const FLOOD = floodFile ? `while :; do cat '${floodFile.replace(/'/g, "'\\''")}'; done` : null;
const kind = `${target}-echo${floodFile ? '-flood' : ''}`;

/** Drives the loop given send(byte) and a way to be told of returned bytes. */
async function echoLoop(send, setSink) {
  let want = -1;
  let wake = null;
  let got = '';
  setSink((buf, off) => {
    for (let i = off; i < buf.length; i++) {
      if (buf[i] === want) {
        want = -1;
        const w = wake;
        wake = null;
        if (w) w();
      } else {
        got += String.fromCharCode(buf[i]);
      }
    }
  });
  const lat = [];
  // one watchdog for the whole loop (a timer per round trip would cost more than it measures)
  let fail = null;
  let done = 0;
  let seen = -1;
  const watchdog = setInterval(() => {
    if (done === seen && fail) fail(new Error(`byte ${done} did not come back within 5 s`));
    seen = done;
  }, 5000);
  try {
    for (let i = 0; i < WARMUP + count; i++) {
      const b = 0x61 + (i % 26);
      const p = new Promise((resolve, reject) => {
        wake = resolve;
        fail = reject;
      });
      want = b;
      const t0 = process.hrtime.bigint();
      send(b);
      await p;
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (i >= WARMUP) lat.push(us);
      done++;
    }
  } finally {
    clearInterval(watchdog);
  }
  if (got.length) log(`echo: ${got.length} unexpected bytes (${JSON.stringify(got.slice(0, 40))})`);
  lat.sort((a, b) => a - b);
  return {
    count,
    p50_us: quantile(lat, 0.5),
    p90_us: quantile(lat, 0.9),
    p99_us: quantile(lat, 0.99),
    max_us: lat[lat.length - 1],
    mean_us: lat.reduce((a, b) => a + b, 0) / lat.length,
  };
}

/** Resolves once the output seen through setSink contains READY. */
function waitReady(setSink, timeoutMs = 5000) {
  let seen = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${READY} within ${timeoutMs} ms: ${JSON.stringify(seen)}`)), timeoutMs);
    setSink((buf, off) => {
      seen += buf.toString('latin1', off);
      if (seen.includes(READY)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** tetherd: a flooding session on its own connection; resolves {bytes(), stop()}. */
async function tetherdFlood(d) {
  const f = await TetherClient.connect(d.endpoint);
  let session = null;
  let bytes = 0;
  let since = 0;
  f.onBinary = (_ch, buf) => {
    bytes += buf.length - 4;
    since += buf.length - 4;
    if (since >= 1 << 20 && session) {
      f.fire({ type: 'pty.credit', session, bytes: since }, ['unknown_session']);
      since = 0;
    }
  };
  const r = await openSession(f, { argv: ['/bin/sh', '-c', FLOOD], credit: 8 << 20 });
  session = r.session;
  await sleep(300);
  return {
    bytes: () => bytes,
    async stop() {
      await f.request({ type: 'pty.close', session });
      await f.close();
    },
  };
}

/** ttyd: a flooding connection (ttyd runs with -a: the script comes in the URL). */
async function ttydFlood(t) {
  const f = await TtydClient.connect(t.port, [FLOOD]);
  let bytes = 0;
  f.onOutput = (buf) => (bytes += buf.length - 1);
  f.init(80, 24);
  await sleep(300);
  return { bytes: () => bytes, stop: () => f.close() };
}

/** Runs echo() with a flood beside it when --flood was given; adds the flood's MB/s. */
async function withFlood(startFlood, echo) {
  if (!FLOOD) return echo();
  const fl = await startFlood();
  try {
    const b0 = fl.bytes();
    const t0 = process.hrtime.bigint();
    const res = await echo();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return { ...res, flood_mbps: (fl.bytes() - b0) / secs / 1e6 };
  } finally {
    await fl.stop();
  }
}

async function tetherdRun(d) {
  return withFlood(() => tetherdFlood(d), () => tetherdEcho(d));
}

async function ttydRun(t) {
  return withFlood(() => ttydFlood(t), () => ttydEcho(t));
}

async function tetherdEcho(d) {
  const c = await TetherClient.connect(d.endpoint);
  let sink = null;
  let channel = null;
  c.onBinary = (ch, buf) => {
    // The first output may arrive in the same read as the pty.open reply, before `channel` is
    // set (the await resumes after ws has emitted the whole chunk): this connection has only
    // this session, so anything before the reply is processed is its output.
    if ((channel === null || ch === channel) && sink) sink(buf, 4);
  };
  const setSink = (f) => (sink = f);
  const ready = waitReady(setSink);
  const r = await openSession(c, { argv: ['/bin/sh', '-c', SCRIPT], credit: 4 * 1024 * 1024 });
  channel = r.channel;
  await ready;
  const out = Buffer.alloc(5);
  out.writeUInt32BE(channel, 0);
  const res = await echoLoop((b) => {
    const m = Buffer.from(out);
    m[4] = b;
    c.sendBinary(m);
  }, setSink);
  await c.request({ type: 'pty.close', session: r.session });
  await c.close();
  return res;
}

async function ttydEcho(t) {
  const c = await TtydClient.connect(t.port, FLOOD ? [SCRIPT] : []);
  let sink = null;
  c.onOutput = (buf) => sink && sink(buf, 1);
  const setSink = (f) => (sink = f);
  const ready = waitReady(setSink);
  c.init(80, 24);
  await ready;
  const res = await echoLoop((b) => c.input(Buffer.from([0x30, b])), setSink);
  await c.close();
  return res;
}

async function main() {
  let server;
  let runOnce;
  if (target === 'tetherd') {
    server = await startTetherd({ tetherd: args.tetherd, tether: args.tether });
    runOnce = () => tetherdRun(server);
  } else if (target === 'ttyd') {
    // with a flood, two commands: each connection passes its script as an argument (-a)
    server = await startTtyd(args.ttyd, FLOOD ? ['-W', '-a', '/bin/sh', '-c'] : ['-W', '/bin/sh', '-c', SCRIPT]);
    runOnce = () => ttydRun(server);
  } else {
    throw new Error(`--target tetherd|ttyd, not ${target}`);
  }
  const runs = [];
  try {
    for (let i = 0; i < reps; i++) {
      const r = await runOnce();
      runs.push(r);
      emit({ kind, rep: i, ...r });
      await sleep(100);
    }
    emit({
      kind: `${kind}-summary`,
      reps,
      count,
      p50_us: median(runs.map((r) => r.p50_us)),
      p99_us: median(runs.map((r) => r.p99_us)),
    });
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  log(`pty_echo (${target}): ${e.stack ?? e}`);
  process.exit(1);
});
