// Agent hooks: `tether hook` (docs/hooks.md) against a daemon whose IDE side is a Node `ws`
// subscriber (docs/protocol.md, "Agent hooks"). Inputs and expected Claude Code outputs come from
// the shared fixtures (HOOK_FIXTURES, default /work/shared/fixtures/hooks).
// Install / uninstall of the Claude Code settings: hooks-install.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  daemonFor,
  startDaemon,
  makeTempLayout,
  connectSubscriber,
  connectUnix,
  nextHookRequest,
  hookFixture,
  runHook,
  assertError,
  HOOK_FIXTURES,
  sleep,
} from './lib.mjs';

const T = { timeout: 20000 };
const IN = (name) => hookFixture('in', name);
const OUT = (name) => JSON.parse(hookFixture('out', name));
const NOTIFICATIONS = ['Notification', 'SessionStart', 'SessionEnd'];
const WAITED = ['PreToolUse', 'PermissionRequest', 'PostToolUse', 'UserPromptSubmit', 'Stop'];

let rid = 0;
/** hooks.respond for req with the given members; resolves the reply or error. */
function respond(c, req, fields) {
  return c.request({ type: 'hooks.respond', id: `a${++rid}`, hook: typeof req === 'string' ? req : req.hook, ...fields });
}

/** hooks.respond that must succeed: reply {type: 'hooks.respond', id, hook}. */
async function respondOk(c, req, fields) {
  const id = `a${++rid}`;
  const r = await c.request({ type: 'hooks.respond', id, hook: req.hook, ...fields });
  assert.equal(r.type, 'hooks.respond', `hooks.respond ${JSON.stringify(fields)}: ${JSON.stringify(r)}`);
  assert.equal(r.id, id);
  assert.equal(r.hook, req.hook);
  return r;
}

/** hooks.respond that must fail with `code` (and `field` when given). */
async function respondError(c, req, fields, code, field) {
  const id = `e${++rid}`;
  const r = await c.request({ type: 'hooks.respond', id, ...(req ? { hook: req.hook ?? req } : {}), ...fields });
  assertError(assert, r, { code, id, field }, `hooks.respond ${JSON.stringify(fields).slice(0, 120)}`);
  return r;
}

/** The raw text of the hooks.request message for hook id `hook` as the subscriber received it. */
function rawRequestText(c, hook) {
  return c.raw.find((s) => {
    try {
      const m = JSON.parse(s);
      return m.type === 'hooks.request' && m.hook === hook;
    } catch {
      return false;
    }
  });
}

/** Checks the documented members of a hooks.request and that `input` is the agent's text. */
function checkRequest(c, req, { event, text, wait, toolName, agent = 'claude-code', timeoutMs }) {
  const ctx = JSON.stringify(req).slice(0, 400);
  assert.equal(req.type, 'hooks.request', ctx);
  assert.equal(typeof req.hook, 'string', `hook id is a string: ${ctx}`);
  assert.ok(req.hook.length > 0, ctx);
  assert.equal(req.event, event, `event: ${ctx}`);
  assert.equal(req.agent, agent, `agent: ${ctx}`);
  if (toolName !== undefined) assert.equal(req.tool_name, toolName, `tool_name: ${ctx}`);
  assert.equal(req.wait, wait, `wait: ${ctx}`);
  if (timeoutMs !== undefined) assert.equal(req.timeout_ms, timeoutMs, `timeout_ms: ${ctx}`);
  assert.deepEqual(req.input, JSON.parse(text), 'the subscriber receives the agent input exactly');
  // "The subscriber's hooks.request carries that text, unchanged, as its input member."
  const raw = rawRequestText(c, req.hook);
  assert.ok(raw, `raw text of the hooks.request for ${req.hook}`);
  assert.ok(
    raw.includes(text.trimEnd()),
    `the agent's text appears byte for byte in the hooks.request:\n  sent: ${text.trimEnd().slice(0, 300)}\n  got:  ${raw.slice(0, 600)}`,
  );
}

/** Stdout of a hook: '' for "nothing", else it must be one JSON object; returns the parsed value. */
function parseStdout(r) {
  if (r.stdout === '') return null;
  let v;
  assert.doesNotThrow(() => (v = JSON.parse(r.stdout)), `stdout is JSON: ${JSON.stringify(r.stdout)}`);
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `stdout is a JSON object: ${r.stdout}`);
  return v;
}

function describe(r) {
  return `exit ${r.code} signal ${r.signal} after ${Math.round(r.ms)} ms; stdout ${JSON.stringify(r.stdout)}; stderr ${JSON.stringify(r.stderr)}`;
}

/** A promise's settled flag: {done} becomes true once p settles. */
function track(p) {
  const s = { done: false };
  p.then(
    () => (s.done = true),
    () => (s.done = true),
  );
  return s;
}

/** An input object text for event with tool_name/tool_input, shaped like the fixtures. */
function inputText(event, extra = {}) {
  return JSON.stringify({
    session_id: 'it-session',
    transcript_path: '/tmp/it.jsonl',
    cwd: '/tmp',
    hook_event_name: event,
    ...extra,
  });
}

const BASH = (command) => ({ tool_name: 'Bash', tool_input: { command } });

// ---------------------------------------------------------------------------------------------

test('hello advertises capabilities.hooks with the documented members', T, async (t) => {
  const d = await daemonFor(t);
  const c = await connectSubscriber(d, t, null);
  assert.deepEqual(
    c.helloReply.capabilities?.hooks,
    { decisions: ['allow', 'deny', 'ask', 'block', 'halt', 'passthrough'], history: 200, max_pending: 1024 },
    JSON.stringify(c.helloReply.capabilities),
  );
});

test('the fixtures cover the events these tests drive', () => {
  const names = fs.readdirSync(path.join(HOOK_FIXTURES, 'in')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  assert.deepEqual(names.sort(), [...WAITED, ...NOTIFICATIONS].sort(), `fixtures in ${HOOK_FIXTURES}/in`);
});

// Every waited fixture input, answered by the IDE, rendered for Claude Code (docs/hooks.md table).
const CASES = [
  {
    event: 'PreToolUse', answer: { decision: 'allow', reason: 'Approved in the IDE' },
    expect: { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: 'Approved in the IDE' } },
  },
  { event: 'PreToolUse', answer: { decision: 'deny', reason: 'Denied in the IDE' }, fixture: 'pretooluse-deny' },
  { event: 'PreToolUse', answer: { decision: 'ask', reason: 'Confirm in the terminal' }, fixture: 'pretooluse-ask' },
  {
    event: 'PreToolUse', label: 'rewrite',
    answer: { decision: 'allow', reason: 'Approved in the IDE', updated_input: { command: 'make -j8' } },
    fixture: 'pretooluse-allow-rewrite',
  },
  { event: 'PreToolUse', answer: { decision: 'halt', reason: 'Stopped from the IDE' }, fixture: 'halt' },
  { event: 'PreToolUse', answer: { decision: 'passthrough' }, expect: null },
  { event: 'PermissionRequest', answer: { decision: 'allow' }, fixture: 'permissionrequest-allow' },
  {
    event: 'PermissionRequest', answer: { decision: 'deny', reason: 'Not from the IDE' },
    expect: { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'deny', message: 'Not from the IDE' } } },
  },
  {
    event: 'PermissionRequest', label: 'rewrite (reason not shown with allow)',
    answer: { decision: 'allow', reason: 'ok', updated_input: { command: 'git push' } },
    expect: { hookSpecificOutput: { hookEventName: 'PermissionRequest', decision: { behavior: 'allow', updatedInput: { command: 'git push' } } } },
  },
  { event: 'PermissionRequest', answer: { decision: 'halt', reason: 'Stopped from the IDE' }, fixture: 'halt' },
  { event: 'PermissionRequest', answer: { decision: 'passthrough' }, expect: null },
  { event: 'PostToolUse', answer: { decision: 'block', reason: 'Lint failed on notes.txt' }, expect: { decision: 'block', reason: 'Lint failed on notes.txt' } },
  { event: 'PostToolUse', answer: { decision: 'halt', reason: 'Stopped from the IDE' }, fixture: 'halt' },
  { event: 'PostToolUse', answer: { decision: 'passthrough' }, expect: null },
  { event: 'UserPromptSubmit', answer: { decision: 'block', reason: 'Prompt refused' }, expect: { decision: 'block', reason: 'Prompt refused' } },
  { event: 'UserPromptSubmit', answer: { decision: 'halt', reason: 'Stopped from the IDE' }, fixture: 'halt' },
  { event: 'Stop', answer: { decision: 'block', reason: 'Tests are failing: run them before stopping' }, fixture: 'stop-block' },
  { event: 'Stop', answer: { decision: 'halt', reason: 'Stopped from the IDE' }, fixture: 'halt' },
  { event: 'Stop', answer: { decision: 'passthrough' }, expect: null },
];

for (const c of CASES) {
  const expected = c.fixture ? OUT(c.fixture) : c.expect;
  const name =
    `in/${c.event}.json, IDE answers ${c.label ?? c.answer.decision}: ` +
    (c.fixture ? `stdout is out/${c.fixture}.json` : expected === null ? 'no stdout' : 'stdout per docs/hooks.md') + ', exit 0';
  test(name, T, async (t) => {
    const d = await daemonFor(t);
    const sub = await connectSubscriber(d, t);
    const text = IN(c.event);
    const fixture = JSON.parse(text);
    const hook = runHook(d.rt, d.home, [], text);
    const req = await nextHookRequest(sub);
    checkRequest(sub, req, { event: c.event, text, wait: true, toolName: fixture.tool_name, timeoutMs: 30000 });
    await respondOk(sub, req, c.answer);
    const r = await hook;
    assert.equal(r.code, 0, describe(r));
    const out = parseStdout(r);
    assert.deepEqual(out, expected, `stdout for ${c.event} ${JSON.stringify(c.answer)}: ${describe(r)}`);
    // the hook is decided: a second answer is refused
    await respondError(sub, req, { decision: c.answer.decision }, 'hook_resolved');
  });
}

test('notifications (Notification, SessionStart, SessionEnd) return at once; the subscriber still gets them with wait:false', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  for (const ev of NOTIFICATIONS) {
    const text = IN(ev);
    // the default --timeout (30 s) and a subscriber that never answers: only not waiting is fast
    const r = await runHook(d.rt, d.home, [], text);
    assert.equal(r.code, 0, `${ev}: ${describe(r)}`);
    assert.equal(r.stdout, '', `${ev}: nothing on stdout (passthrough): ${describe(r)}`);
    assert.ok(r.ms < 1500, `${ev}: returns at once, took ${Math.round(r.ms)} ms`);
    const req = await nextHookRequest(sub, (m) => m.event === ev);
    checkRequest(sub, req, { event: ev, text, wait: false });
    // no answer is expected: one gets hook_resolved
    await respondError(sub, req, { decision: 'passthrough' }, 'hook_resolved');
  }
});

test('--wait makes a Notification wait for the IDE; --no-wait makes PreToolUse return at once', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const n = runHook(d.rt, d.home, ['--wait', '--timeout', '10'], IN('Notification'));
  const nReq = await nextHookRequest(sub);
  assert.equal(nReq.wait, true, JSON.stringify(nReq));
  await sleep(200);
  await respondOk(sub, nReq, { decision: 'halt', reason: 'Stopped from the IDE' });
  const nr = await n;
  assert.equal(nr.code, 0, describe(nr));
  assert.deepEqual(parseStdout(nr), OUT('halt'), describe(nr));
  assert.ok(nr.ms >= 200, `it waited for the answer (${Math.round(nr.ms)} ms)`);

  const p = await runHook(d.rt, d.home, ['--no-wait', '--default', 'deny'], IN('PreToolUse'));
  assert.ok(p.ms < 1500, `--no-wait returns at once: ${describe(p)}`);
  // not waited for: the default applies (deny: exit 2)
  assert.equal(p.code, 2, describe(p));
  const pReq = await nextHookRequest(sub);
  assert.equal(pReq.event, 'PreToolUse');
  assert.equal(pReq.wait, false, JSON.stringify(pReq));
});

// ---------------------------------------------------------------------------------------------
// No decision: timeout, no subscriber, subscriber gone, daemon down

const TIMEOUT_CASES = [
  { event: 'PreToolUse', args: [], code: 0, stdout: null },
  { event: 'PreToolUse', args: ['--default', 'passthrough'], code: 0, stdout: null },
  { event: 'PreToolUse', args: ['--default', 'deny'], code: 2, stdout: null },
  { event: 'PreToolUse', args: ['--default', 'allow'], code: 0, decision: 'allow' },
  { event: 'PreToolUse', args: ['--default', 'ask'], code: 0, decision: 'ask' },
  { event: 'PermissionRequest', args: ['--default', 'allow'], code: 0, behavior: 'allow' },
  { event: 'Stop', args: ['--default', 'allow'], code: 0, stdout: null }, // Stop takes no allow: passthrough
];

/** Checks a hook result against a TIMEOUT_CASES-like expectation. */
function checkDefault(r, c, label) {
  const ctx = `${label}: ${describe(r)}`;
  assert.ok(!r.timedOut, `exits by itself: ${ctx}`);
  assert.equal(r.code, c.code, ctx);
  const out = parseStdout(r);
  if (c.decision) {
    assert.equal(out?.hookSpecificOutput?.hookEventName, 'PreToolUse', ctx);
    assert.equal(out?.hookSpecificOutput?.permissionDecision, c.decision, ctx);
  } else if (c.behavior) {
    assert.equal(out?.hookSpecificOutput?.hookEventName, 'PermissionRequest', ctx);
    assert.equal(out?.hookSpecificOutput?.decision?.behavior, c.behavior, ctx);
  } else {
    assert.equal(out, null, `nothing on stdout: ${ctx}`);
  }
  if (c.code === 2) assert.ok(r.stderr.trim().length > 0, `exit 2 carries the reason on stderr: ${ctx}`);
}

for (const c of TIMEOUT_CASES) {
  test(`timeout: nobody answers, --timeout 0.5 ${c.args.join(' ') || '(default passthrough)'} on ${c.event}: ~0.5 s, stderr says timeout, exit ${c.code}`, T, async (t) => {
    const d = await daemonFor(t);
    const sub = await connectSubscriber(d, t);
    const hook = runHook(d.rt, d.home, ['--timeout', '0.5', ...c.args], IN(c.event));
    const req = await nextHookRequest(sub);
    assert.equal(req.timeout_ms, 500, `hooks.request.timeout_ms is --timeout: ${JSON.stringify(req).slice(0, 200)}`);
    const r = await hook;
    assert.ok(r.ms >= 450, `waited for the timeout: ${describe(r)}`);
    assert.ok(r.ms < 1500, `returned soon after the 0.5 s timeout: ${describe(r)}`);
    assert.match(r.stderr, /time(d)?[ -]?out/i, `stderr says timeout: ${describe(r)}`);
    checkDefault(r, c, 'timeout');
    const resolved = await sub.waitEvent((m) => m.type === 'hooks.resolved' && m.hook === req.hook, { what: 'hooks.resolved' });
    assert.equal(resolved.by, 'timeout', JSON.stringify(resolved));
    await respondError(sub, req, { decision: c.event === 'Stop' ? 'block' : 'deny' }, 'hook_resolved');
  });
}

test('no subscriber: returns at once (--timeout 5) with the default applied; stderr says no subscriber', T, async (t) => {
  const d = await daemonFor(t);
  // a connection that never subscribed, and one subscribed to another event, do not count
  await connectSubscriber(d, t, null);
  const other = await connectSubscriber(d, t, { events: ['Stop'] });
  for (const c of [
    { event: 'PreToolUse', args: [], code: 0, stdout: null },
    { event: 'PreToolUse', args: ['--default', 'deny'], code: 2, stdout: null },
    { event: 'PreToolUse', args: ['--default', 'allow'], code: 0, decision: 'allow' },
    { event: 'PermissionRequest', args: ['--default', 'allow'], code: 0, behavior: 'allow' },
    { event: 'UserPromptSubmit', args: ['--default', 'ask'], code: 0, stdout: null },
  ]) {
    const label = `${c.event} ${c.args.join(' ')}`;
    const r = await runHook(d.rt, d.home, ['--timeout', '5', ...c.args], IN(c.event));
    assert.ok(r.ms < 1500, `${label}: at once, well under the 5 s timeout: ${describe(r)}`);
    assert.match(r.stderr, /no subscriber/i, `${label}: stderr says no subscriber: ${describe(r)}`);
    checkDefault(r, c, label);
  }
  await sleep(100);
  assert.equal(other.events.filter((e) => e.msg.type === 'hooks.request').length, 0, 'the Stop subscriber got none of them');
});

test('the subscriber disconnects while hooks wait: the default applies at once, stderr says so', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const deny = runHook(d.rt, d.home, ['--timeout', '20', '--default', 'deny'], IN('PreToolUse'));
  const pass = runHook(d.rt, d.home, ['--timeout', '20'], IN('Stop'));
  await nextHookRequest(sub, (m) => m.event === 'PreToolUse');
  await nextHookRequest(sub, (m) => m.event === 'Stop');
  await sleep(100);
  const t0 = performance.now();
  await sub.terminate();
  const [rd, rp] = await Promise.all([deny, pass]);
  const since = performance.now() - t0;
  assert.ok(since < 1500, `both returned at once after the disconnect (${Math.round(since)} ms)`);
  assert.match(rd.stderr, /disconnect/i, `stderr says the subscriber disconnected: ${describe(rd)}`);
  assert.match(rp.stderr, /disconnect/i, `stderr says the subscriber disconnected: ${describe(rp)}`);
  checkDefault(rd, { code: 2, stdout: null }, 'deny');
  checkDefault(rp, { code: 0, stdout: null }, 'passthrough');
});

test('one of two subscribers disconnects: the hook waits for the other, whose answer decides', T, async (t) => {
  const d = await daemonFor(t);
  const a = await connectSubscriber(d, t);
  const b = await connectSubscriber(d, t);
  const hook = runHook(d.rt, d.home, ['--timeout', '20', '--default', 'deny'], IN('PreToolUse'));
  const st = track(hook);
  const ra = await nextHookRequest(a);
  const rb = await nextHookRequest(b);
  assert.equal(ra.hook, rb.hook, 'both subscribers get the same hook');
  await a.terminate();
  await sleep(400);
  assert.equal(st.done, false, 'the hook still waits: one subscriber it went to is still there');
  await respondOk(b, rb, { decision: 'deny', reason: 'Denied in the IDE' });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), OUT('pretooluse-deny'), describe(r));
});

test('daemon down: clear stderr message, exit 1 so the agent proceeds (2 only with --default deny)', T, async (t) => {
  const { tmp, rt, home } = await makeTempLayout('tether-hook-down-');
  t.after(() => fs.promises.rm(tmp, { recursive: true, force: true }));
  const cases = [
    { rt, args: [], code: 1, stdout: null },
    { rt, args: ['--default', 'passthrough'], code: 1, stdout: null },
    { rt, args: ['--default', 'deny'], code: 2, stdout: null },
    { rt, args: ['--default', 'allow'], code: 0, decision: 'allow' },
    { rt: path.join(tmp, 'no-such-dir'), args: [], code: 1, stdout: null },
  ];
  for (const c of cases) {
    const label = `runtime dir ${c.rt} ${c.args.join(' ')}`;
    const r = await runHook(c.rt, home, ['--timeout', '5', ...c.args], IN('PreToolUse'), { timeoutMs: 8000 });
    assert.ok(r.ms < 2000, `${label}: no hang: ${describe(r)}`);
    assert.match(r.stderr, /tetherd/i, `${label}: stderr names tetherd: ${describe(r)}`);
    assert.match(r.stderr, /not running|cannot|can't|could not|unreachable|no such|refused|connect/i, `${label}: stderr says it cannot be reached: ${describe(r)}`);
    checkDefault(r, c, label);
  }

  // a daemon that was killed: the socket file is still there, nobody listens
  const d = await startDaemon();
  t.after(() => d.cleanup());
  await d.stop('SIGKILL');
  const r = await runHook(d.rt, d.home, ['--timeout', '5'], IN('PreToolUse'), { timeoutMs: 8000 });
  assert.ok(r.ms < 2000, `killed daemon: no hang: ${describe(r)}`);
  assert.match(r.stderr, /tetherd/i, describe(r));
  checkDefault(r, { code: 1, stdout: null }, 'killed daemon');
});

test('the daemon stops while a hook waits: the hook returns (no hang), no exit 2 unless --default deny', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const pass = runHook(d.rt, d.home, ['--timeout', '30'], IN('PreToolUse'));
  const deny = runHook(d.rt, d.home, ['--timeout', '30', '--default', 'deny'], IN('Stop'));
  await nextHookRequest(sub);
  await nextHookRequest(sub);
  const t0 = performance.now();
  await d.stop('SIGTERM');
  const [rp, rd] = await Promise.all([pass, deny]);
  assert.ok(performance.now() - t0 < 4000, `returned within the daemon's stop: ${describe(rp)} / ${describe(rd)}`);
  assert.ok(rp.code === 0 || rp.code === 1, `passthrough: exit 0 or 1: ${describe(rp)}`);
  assert.equal(rp.stdout, '', describe(rp));
  assert.equal(rd.code, 2, describe(rd));
});

// ---------------------------------------------------------------------------------------------
// Bad input

test('bad input (not JSON, truncated, not an object, empty, no event, 10 MB): stderr message, exit 1, no hang; the daemon is unaffected', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const pre = IN('PreToolUse');
  const big = Buffer.from(`{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"${'x'.repeat(10 * 1024 * 1024)}"}}`);
  const cases = [
    { label: 'not JSON', input: 'hello, this is not JSON\n', err: /json/i },
    { label: 'truncated JSON', input: pre.trimEnd().slice(0, -25), err: /json/i },
    { label: 'a JSON array', input: '[1,2,3]', err: /object/i },
    { label: 'a JSON string', input: '"PreToolUse"', err: /object/i },
    { label: 'empty stdin', input: '', err: /./ },
    { label: 'an object naming no event', input: '{"session_id":"x","tool_name":"Bash"}', err: /event/i },
    { label: '10 MB object', input: big, err: /large|limit|size|bytes|1000000|1,000,000|1 ?MB/i },
    { label: '10 MB of non-JSON', input: Buffer.alloc(10 * 1024 * 1024, 0x61), err: /large|limit|size|bytes|1000000|1,000,000|1 ?MB|json/i },
  ];
  for (const c of cases) {
    const r = await runHook(d.rt, d.home, ['--timeout', '5'], c.input, { timeoutMs: 8000 });
    assert.ok(!r.timedOut && r.ms < 4000, `${c.label}: no hang: ${describe(r)}`);
    assert.equal(r.code, 1, `${c.label}: exit 1 (tether hook failed, the agent proceeds): ${describe(r)}`);
    assert.equal(r.stdout, '', `${c.label}: nothing on stdout: ${describe(r)}`);
    assert.ok(r.stderr.trim().length > 0, `${c.label}: a message on stderr: ${describe(r)}`);
    assert.match(r.stderr, c.err, `${c.label}: the message says what is wrong: ${describe(r)}`);
  }
  // with --default deny the failure blocks
  const rd = await runHook(d.rt, d.home, ['--default', 'deny'], 'not json', { timeoutMs: 8000 });
  assert.equal(rd.code, 2, `not JSON with --default deny: ${describe(rd)}`);
  assert.ok(rd.stderr.trim().length > 0, describe(rd));

  await sleep(100);
  assert.deepEqual(sub.events.filter((e) => e.msg.type === 'hooks.request').map((e) => e.msg), [], 'none reached the IDE');
  // the daemon is unaffected: status answers, and a good hook still works
  const s = await sub.request({ type: 'status' });
  assert.equal(s.type, 'status', JSON.stringify(s));
  assert.equal(s.pid, d.pid);
  const hook = runHook(d.rt, d.home, [], pre);
  const req = await nextHookRequest(sub);
  await respondOk(sub, req, { decision: 'deny', reason: 'Denied in the IDE' });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), OUT('pretooluse-deny'));
});

test('size limit: an input of exactly 1,000,000 bytes reaches the IDE; 1,000,001 bytes is refused (exit 1)', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const make = (n) => {
    const head = inputText('PreToolUse', BASH('')).slice(0, -3); // ...,"tool_input":{"command":"
    const tail = '"}}';
    const s = head + 'x'.repeat(n - Buffer.byteLength(head) - tail.length) + tail;
    assert.equal(Buffer.byteLength(s), n);
    JSON.parse(s);
    return s;
  };
  const over = await runHook(d.rt, d.home, ['--timeout', '5'], make(1000001));
  assert.equal(over.code, 1, `1,000,001 bytes: ${describe(over)}`);
  assert.ok(over.stderr.trim().length > 0, describe(over));

  const text = make(1000000);
  const hook = runHook(d.rt, d.home, ['--timeout', '10'], text);
  const req = await nextHookRequest(sub, () => true, 8000);
  assert.deepEqual(req.input, JSON.parse(text), 'the 1,000,000-byte input arrives whole');
  await respondOk(sub, req, { decision: 'allow', reason: 'big but fine' });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.equal(parseStdout(r)?.hookSpecificOutput?.permissionDecision, 'allow', describe(r));
});

test('usage errors exit 2 with one line: unknown flag, --timeout out of range, bad --default, bad --agent', T, async (t) => {
  const d = await daemonFor(t);
  for (const [args, needle] of [
    [['--bogus'], '--bogus'],
    [['--timeout', '0.05'], 'timeout'],
    [['--timeout', '3601'], 'timeout'],
    [['--timeout', 'abc'], 'timeout'],
    [['--default', 'maybe'], 'default'],
    [['--agent', 'nope'], 'agent'],
  ]) {
    const r = await runHook(d.rt, d.home, args, IN('PreToolUse'), { timeoutMs: 5000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${describe(r)}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line on stderr: ${describe(r)}`);
    assert.ok(lines[0].includes(needle), `${args.join(' ')}: names ${needle}: ${describe(r)}`);
  }
});

test('--event overrides the input; an input without hook_event_name works with --event', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const text = JSON.stringify({ session_id: 's', tool_name: 'Bash', tool_input: { command: 'ls' } });
  const hook = runHook(d.rt, d.home, ['--event', 'PreToolUse'], text);
  const req = await nextHookRequest(sub);
  assert.equal(req.event, 'PreToolUse');
  assert.deepEqual(req.input, JSON.parse(text));
  await respondOk(sub, req, { decision: 'ask', reason: 'Confirm in the terminal' });
  const r = await hook;
  assert.deepEqual(parseStdout(r), OUT('pretooluse-ask'), describe(r));
});

// ---------------------------------------------------------------------------------------------
// The IDE's answers

test('invalid answers (bad decision, "ask"/"allow" for Stop, reason > 4096 bytes, missing/unknown members) are refused and the hook stays open; a later valid answer decides it', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const hook = runHook(d.rt, d.home, ['--timeout', '15'], IN('Stop'));
  const st = track(hook);
  const req = await nextHookRequest(sub);
  await respondError(sub, req, { decision: 'maybe' }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 'ask' }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 'allow' }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 'deny' }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 7 }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 'block', reason: 'r'.repeat(4097) }, 'invalid_field', 'reason');
  await respondError(sub, req, {}, 'missing_field', 'decision');
  await respondError(sub, null, { decision: 'block' }, 'missing_field', 'hook');
  await respondError(sub, req, { decision: 'block', bogus: 1 }, 'unknown_field', 'bogus');
  await sleep(150);
  assert.equal(st.done, false, 'the hook is still open after the invalid answers');
  await respondOk(sub, req, { decision: 'block', reason: 'Tests are failing: run them before stopping' });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), OUT('stop-block'), describe(r));
  await respondError(sub, req, { decision: 'block', reason: 'again' }, 'hook_resolved');
  await respondError(sub, 'h-999999', { decision: 'block' }, 'unknown_hook');
  await respondError(sub, 'nope', { decision: 'halt' }, 'unknown_hook');
});

test('PreToolUse: "block" and "maybe" refused, then deny with a 4096-byte reason reaches the agent whole', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const hook = runHook(d.rt, d.home, ['--timeout', '15'], IN('PreToolUse'));
  const st = track(hook);
  const req = await nextHookRequest(sub);
  await respondError(sub, req, { decision: 'block', reason: 'x' }, 'invalid_field', 'decision');
  await respondError(sub, req, { decision: 'maybe' }, 'invalid_field', 'decision');
  await sleep(100);
  assert.equal(st.done, false, 'still open');
  const reason = 'é'.repeat(2048); // 4096 bytes: the maximum
  await respondOk(sub, req, { decision: 'deny', reason });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), {
    hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: reason },
  });
});

test('two subscribers: the first answer wins, the other gets hooks.resolved by subscriber, its late answer gets hook_resolved', T, async (t) => {
  const d = await daemonFor(t);
  const a = await connectSubscriber(d, t);
  const b = await connectSubscriber(d, t, { events: ['PreToolUse'] });
  const hook = runHook(d.rt, d.home, ['--timeout', '15'], IN('PreToolUse'));
  const ra = await nextHookRequest(a);
  const rb = await nextHookRequest(b);
  assert.equal(ra.hook, rb.hook);
  assert.deepEqual(rb.input, ra.input);
  await respondOk(b, rb, { decision: 'deny', reason: 'Denied in the IDE' });
  const resolved = await a.waitEvent((m) => m.type === 'hooks.resolved', { what: 'hooks.resolved on the other subscriber' });
  assert.equal(resolved.hook, ra.hook, JSON.stringify(resolved));
  assert.equal(resolved.by, 'subscriber', JSON.stringify(resolved));
  await respondError(a, ra, { decision: 'allow', reason: 'too late' }, 'hook_resolved');
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), OUT('pretooluse-deny'), 'the first answer decided');
  await sleep(100);
  assert.equal(b.events.filter((e) => e.msg.type === 'hooks.resolved').length, 0, 'the winner gets no hooks.resolved');
});

test('subscriptions: tools ["Edit"] gets no Bash hooks; events filter; resubscribe replaces; unsubscribe; bad members refused', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t, { events: ['PreToolUse', 'PostToolUse'], tools: ['Edit'] });
  assert.deepEqual(sub.subscribeReply.events, ['PreToolUse', 'PostToolUse'], JSON.stringify(sub.subscribeReply));
  assert.deepEqual(sub.subscribeReply.tools, ['Edit'], JSON.stringify(sub.subscribeReply));

  // Bash: not for this subscription, so nobody subscribed
  const bash = await runHook(d.rt, d.home, ['--timeout', '5'], IN('PreToolUse'));
  assert.ok(bash.ms < 1500, `Bash hook not waited for: ${describe(bash)}`);
  assert.match(bash.stderr, /no subscriber/i, describe(bash));
  // an event the subscription does not name
  const stop = await runHook(d.rt, d.home, ['--timeout', '5'], IN('Stop'));
  assert.match(stop.stderr, /no subscriber/i, describe(stop));
  await sleep(100);
  assert.equal(sub.events.filter((e) => e.msg.type === 'hooks.request').length, 0, 'no Bash or Stop hook reached it');

  // Edit: delivered
  const editText = inputText('PreToolUse', { tool_name: 'Edit', tool_input: { file_path: '/tmp/a', old_string: 'a', new_string: 'b' } });
  const edit = runHook(d.rt, d.home, ['--timeout', '5'], editText);
  const req = await nextHookRequest(sub);
  assert.equal(req.tool_name, 'Edit');
  await respondOk(sub, req, { decision: 'allow', reason: 'Approved in the IDE' });
  assert.equal(parseStdout(await edit)?.hookSpecificOutput?.permissionDecision, 'allow');

  // with tools, a hook without tool_name never matches, even with events "*"
  const r2 = await sub.request({ type: 'hooks.subscribe', events: ['*'], tools: ['Edit', 'Bash'] });
  assert.equal(r2.type, 'hooks.subscribe', JSON.stringify(r2));
  const ups = await runHook(d.rt, d.home, ['--timeout', '5'], IN('UserPromptSubmit'));
  assert.match(ups.stderr, /no subscriber/i, `no tool_name, subscription with tools: ${describe(ups)}`);

  // resubscribing replaces: now Bash arrives
  const bash2 = runHook(d.rt, d.home, ['--timeout', '5'], IN('PreToolUse'));
  const breq = await nextHookRequest(sub);
  assert.equal(breq.tool_name, 'Bash');
  await respondOk(sub, breq, { decision: 'deny', reason: 'Denied in the IDE' });
  assert.deepEqual(parseStdout(await bash2), OUT('pretooluse-deny'));

  // unsubscribe: nobody again
  const u = await sub.request({ type: 'hooks.unsubscribe' });
  assert.equal(u.type, 'hooks.unsubscribe', JSON.stringify(u));
  const after = await runHook(d.rt, d.home, ['--timeout', '5'], IN('PreToolUse'));
  assert.match(after.stderr, /no subscriber/i, describe(after));
  assert.ok(after.ms < 1500, describe(after));

  // validation
  const bad = async (fields, code, field) => {
    const id = `s${++rid}`;
    const m = await sub.request({ type: 'hooks.subscribe', id, ...fields });
    assertError(assert, m, { code, id, field }, JSON.stringify(fields).slice(0, 100));
  };
  await bad({}, 'missing_field', 'events');
  await bad({ events: [] }, 'invalid_field', 'events');
  await bad({ events: 'PreToolUse' }, 'invalid_field', 'events');
  await bad({ events: Array.from({ length: 65 }, (_, i) => `E${i}`) }, 'invalid_field', 'events');
  await bad({ events: ['x'.repeat(65)] }, 'invalid_field', 'events');
  await bad({ events: ['*'], tools: [] }, 'invalid_field', 'tools');
  await bad({ events: ['*'], bogus: true }, 'unknown_field', 'bogus');
});

test('Unicode (emoji, CJK, combining marks, RTL, escaped pairs) and escaped NUL reach the IDE exactly; a Unicode answer reaches the agent exactly', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  // Written by hand so that escapes stay escapes: \\u0000 is the 6 characters \u0000 in the text.
  const text =
    '{"session_id":"uni-1","hook_event_name":"PreToolUse","tool_name":"Bash",' +
    '"tool_input":{"command":"echo 🚀 👩‍👩‍👧 漢字 かな 한국어 𠀋 e\u0301 n\u0303 שלום",' +
    '"description":"nul:\\u0000: escaped é:\\u00e9: pair:\\ud83d\\ude80: ctl:\\u0001\\t\\n: bs:\\\\u0000:",' +
    '"nul_only":"\\u0000","tail":"\u2028\u2029 ok"}}';
  const parsed = JSON.parse(text);
  assert.equal(parsed.tool_input.nul_only, '\u0000'); // the test's own premise
  const hook = runHook(d.rt, d.home, [], text);
  const req = await nextHookRequest(sub);
  checkRequest(sub, req, { event: 'PreToolUse', text, wait: true, toolName: 'Bash' });
  assert.equal(req.input.tool_input.nul_only, '\u0000', 'the escaped NUL arrives as U+0000 after parsing');
  assert.ok(req.input.tool_input.description.includes('nul:\u0000:'));

  const reason = 'Refusé ✋ 拒否 🚫 e\u0301';
  const updated = { command: 'echo 漢字 🚀 e\u0301', note: 'ok ✓' };
  await respondOk(sub, req, { decision: 'allow', reason, updated_input: updated });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  assert.deepEqual(parseStdout(r), {
    hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: reason, updatedInput: updated },
  });

  // the PostToolUse fixture has an escaped NUL too
  const post = IN('PostToolUse');
  const hook2 = runHook(d.rt, d.home, [], post);
  const req2 = await nextHookRequest(sub);
  checkRequest(sub, req2, { event: 'PostToolUse', text: post, wait: true, toolName: 'Write' });
  assert.equal(req2.input.tool_input.content, 'héllo ✓ \u0000 end');
  await respondOk(sub, req2, { decision: 'passthrough' });
  assert.equal((await hook2).code, 0);

  // and history keeps it exactly
  const h = await sub.request({ type: 'hooks.history' });
  assert.equal(h.type, 'hooks.history', JSON.stringify(h).slice(0, 300));
  assert.deepEqual(h.hooks.map((e) => e.input), [parsed, JSON.parse(post)]);
});

test('lone escaped surrogates: refused as documented (docs/hooks.md), the default applies, nothing reaches the IDE', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const text = '{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"hi \\ud800 end"}}';
  const r = await runHook(d.rt, d.home, ['--timeout', '5'], text);
  assert.equal(r.code, 1, `non-blocking error with the passthrough default: ${describe(r)}`);
  assert.match(r.stderr, /surrogate/, 'stderr names the cause');
  const denied = await runHook(d.rt, d.home, ['--timeout', '5', '--default', 'deny'], text);
  assert.equal(denied.code, 2, `default deny blocks: ${describe(denied)}`);
  await sleep(200);
  assert.equal(sub.events.filter((e) => e.msg.type === 'hooks.request').length, 0, 'nothing reached the IDE');
  // a paired surrogate escape is ordinary JSON and goes through exactly
  const ok = '{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"hi \\ud83d\\ude00 end"}}';
  const hook = runHook(d.rt, d.home, ['--timeout', '5'], ok);
  const req = await nextHookRequest(sub, () => true, 3000);
  checkRequest(sub, req, { event: 'PreToolUse', text: ok, wait: true, toolName: 'Bash' });
  assert.equal(req.input.tool_input.command, 'hi \u{1F600} end');
  await respondOk(sub, req, { decision: 'deny', reason: 'Denied in the IDE' });
  assert.deepEqual(parseStdout(await hook), OUT('pretooluse-deny'));
});

test('200 concurrent tether hook processes, one subscriber answering each (allow/deny by tool_input): no cross-talk', { timeout: 45000 }, async (t) => {
  // 200 hooks wait at once, so 200 unix connections: within the default max_connections (256
  // per transport).
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t, { events: ['PreToolUse'] });
  const N = 200;
  const t0 = performance.now();
  const hooks = [];
  for (let i = 0; i < N; i++) {
    const text = inputText('PreToolUse', { ...BASH(`echo job-${i}`), tool_use_id: `toolu_${i}` });
    hooks.push(runHook(d.rt, d.home, ['--timeout', '60'], text, { timeoutMs: 40000 }));
  }
  // hold every answer until all 200 wait at once, then answer in a scrambled order
  await sub.waitFor(() => sub.events.filter((e) => e.msg.type === 'hooks.request').length >= N, {
    timeoutMs: 25000,
    what: `${N} hooks.request`,
    describe: () => `${sub.events.filter((e) => e.msg.type === 'hooks.request').length} arrived`,
  });
  const reqs = sub.events.filter((e) => e.msg.type === 'hooks.request').map((e) => e.msg);
  assert.equal(new Set(reqs.map((m) => m.hook)).size, N, 'every hook has its own id');
  const order = reqs.map((m, k) => [((k * 7919) % N + N) % N, m]).sort((x, y) => x[0] - y[0]).map((x) => x[1]);
  await Promise.all(
    order.map((m) => {
      const i = Number(/^echo job-(\d+)$/.exec(m.input.tool_input.command)[1]);
      assert.equal(m.input.tool_use_id, `toolu_${i}`, 'input intact');
      return respondOk(sub, m, i % 2 ? { decision: 'deny', reason: `no ${i}` } : { decision: 'allow', reason: `yes ${i}` });
    }),
  );
  const results = await Promise.all(hooks);
  const elapsed = performance.now() - t0;
  const wrong = [];
  results.forEach((r, i) => {
    let out = null;
    try {
      out = JSON.parse(r.stdout);
    } catch {}
    const want = i % 2 ? ['deny', `no ${i}`] : ['allow', `yes ${i}`];
    const got = [out?.hookSpecificOutput?.permissionDecision, out?.hookSpecificOutput?.permissionDecisionReason];
    if (r.code !== 0 || got[0] !== want[0] || got[1] !== want[1]) wrong.push({ i, want, ...r, ms: Math.round(r.ms) });
  });
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${N} processes did not get their own answer`);
  assert.ok(elapsed < 30000, `all ${N} finished in ${Math.round(elapsed)} ms`);
});

test('hooks.history: a new connection lists past hooks oldest first, with decision, why and input; limit', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  // 1: decided by the IDE
  const h1 = runHook(d.rt, d.home, [], IN('PreToolUse'));
  const r1 = await nextHookRequest(sub);
  await sleep(30);
  await respondOk(sub, r1, { decision: 'deny', reason: 'Denied in the IDE' });
  await h1;
  // 2: timed out
  const h2 = await runHook(d.rt, d.home, ['--timeout', '0.3'], IN('Stop'));
  assert.equal(h2.code, 0, describe(h2));
  const r2 = await nextHookRequest(sub);
  // 3: a notification
  await runHook(d.rt, d.home, [], IN('Notification'));
  const r3 = await nextHookRequest(sub);
  // 4: nobody subscribed to it
  await sub.request({ type: 'hooks.unsubscribe' });
  await runHook(d.rt, d.home, [], IN('UserPromptSubmit'));

  const other = await connectSubscriber(d, t, null);
  const h = await other.request({ type: 'hooks.history' });
  assert.equal(h.type, 'hooks.history', JSON.stringify(h).slice(0, 300));
  assert.equal(h.hooks.length, 4, JSON.stringify(h).slice(0, 2000));
  const [e1, e2, e3, e4] = h.hooks;
  assert.deepEqual(
    h.hooks.map((e) => [e.event, e.decision, e.why]),
    [
      ['PreToolUse', 'deny', null],
      ['Stop', null, 'timeout'],
      ['Notification', null, 'not waited'],
      ['UserPromptSubmit', null, 'no subscriber'],
    ],
  );
  assert.deepEqual([e1.hook, e2.hook, e3.hook], [r1.hook, r2.hook, r3.hook]);
  assert.deepEqual(h.hooks.map((e) => e.input), ['PreToolUse', 'Stop', 'Notification', 'UserPromptSubmit'].map((n) => JSON.parse(IN(n))));
  assert.equal(e1.tool_name, 'Bash');
  for (const e of h.hooks) {
    assert.equal(e.agent, 'claude-code', JSON.stringify(e));
    assert.ok(typeof e.at === 'string' && !Number.isNaN(Date.parse(e.at)), `at: ${e.at}`);
    assert.ok(Number.isInteger(e.latency_ms) && e.latency_ms >= 0, `latency_ms: ${e.latency_ms}`);
  }
  assert.ok(e1.latency_ms >= 20, `decided after ~30 ms: ${e1.latency_ms}`);
  assert.ok(e2.latency_ms >= 250, `timed out after 0.3 s: ${e2.latency_ms}`);
  assert.ok(Date.parse(e1.at) <= Date.parse(e2.at) && Date.parse(e2.at) <= Date.parse(e4.at), 'oldest first');

  const l2 = await other.request({ type: 'hooks.history', limit: 2 });
  assert.deepEqual(l2.hooks?.map((e) => e.hook), [e3.hook, e4.hook], `limit 2: the two most recent, oldest first: ${JSON.stringify(l2).slice(0, 300)}`);
  for (const limit of [0, 201, 'x']) {
    const id = `l${++rid}`;
    const m = await other.request({ type: 'hooks.history', id, limit });
    assertError(assert, m, { code: 'invalid_field', id, field: 'limit' }, `limit ${limit}`);
  }
});

test('--agent generic prints {decision, reason, updated_input, why}', T, async (t) => {
  const d = await daemonFor(t);
  const sub = await connectSubscriber(d, t);
  const hook = runHook(d.rt, d.home, ['--agent', 'generic'], IN('PreToolUse'));
  const req = await nextHookRequest(sub);
  assert.equal(req.agent, 'generic', JSON.stringify(req).slice(0, 200));
  await respondOk(sub, req, { decision: 'allow', reason: 'fine', updated_input: { command: 'make' } });
  const r = await hook;
  assert.equal(r.code, 0, describe(r));
  const o = parseStdout(r);
  assert.equal(o.decision, 'allow', describe(r));
  assert.equal(o.reason, 'fine', describe(r));
  assert.deepEqual(o.updated_input, { command: 'make' }, describe(r));

  const to = await runHook(d.rt, d.home, ['--agent', 'generic', '--timeout', '0.2'], IN('Stop'));
  assert.equal(to.code, 0, describe(to));
  const o2 = parseStdout(to);
  assert.equal(o2.decision, null, describe(to));
  assert.equal(o2.why, 'timeout', describe(to));
  const den = await runHook(d.rt, d.home, ['--agent', 'generic', '--timeout', '0.2', '--default', 'deny'], IN('Stop'));
  assert.equal(den.code, 2, describe(den));
});

// ---------------------------------------------------------------------------------------------
// hook.call directly (what tether hook sends), over the unix socket

test('hook.call over the unix socket: delivered count, why values, input_json validation', T, async (t) => {
  const d = await daemonFor(t);
  const u = await connectUnix(path.join(d.rt, 'tetherd.sock'));
  t.after(() => u.sock.destroy());
  await u.hello();
  const text = IN('PreToolUse');
  const call = (id, fields) =>
    u.request({ type: 'hook.call', id, event: 'PreToolUse', agent: 'claude-code', input_json: text, wait: true, timeout_ms: 5000, ...fields });

  const none = await call(1, {});
  assert.equal(none.type, 'hook.call', JSON.stringify(none));
  assert.equal(none.decision, null, JSON.stringify(none));
  assert.equal(none.why, 'no subscriber', JSON.stringify(none));

  const a = await connectSubscriber(d, t);
  const b = await connectSubscriber(d, t);
  const pending = call(2, {});
  const ra = await nextHookRequest(a);
  await nextHookRequest(b);
  assert.deepEqual(ra.input, JSON.parse(text));
  await respondOk(a, ra, { decision: 'deny', reason: 'Denied in the IDE' });
  const got = await pending;
  assert.equal(got.type, 'hook.call', JSON.stringify(got));
  assert.equal(got.hook, ra.hook);
  assert.equal(got.decision, 'deny');
  assert.equal(got.reason, 'Denied in the IDE');
  assert.equal(got.delivered, 2, JSON.stringify(got));

  const nw = await call(3, { wait: false });
  assert.equal(nw.decision, null, JSON.stringify(nw));
  assert.equal(nw.why, 'not waited', JSON.stringify(nw));

  for (const [id, fields, code, field] of [
    [10, { input_json: '[1,2]' }, 'invalid_field', 'input_json'],
    [11, { input_json: '{"a":' }, 'invalid_field', 'input_json'],
    [12, { input_json: { a: 1 } }, 'invalid_field', 'input_json'],
    [13, { timeout_ms: 0 }, 'invalid_field', 'timeout_ms'],
    [14, { timeout_ms: 3600001 }, 'invalid_field', 'timeout_ms'],
    [15, { event: '' }, 'invalid_field', 'event'],
    [16, { event: 'E'.repeat(65) }, 'invalid_field', 'event'],
    [17, { bogus: 1 }, 'unknown_field', 'bogus'],
  ]) {
    const m = await call(id, fields);
    assertError(assert, m, { code, id, field }, JSON.stringify(fields).slice(0, 80));
  }
  await sleep(100);
  const stray = [a, b].flatMap((c) => c.events.filter((e) => e.msg.type === 'hooks.request' && e.msg.hook !== ra.hook && !e.taken));
  // only the wait:false call (id 3) reached them
  assert.ok(stray.every((e) => e.msg.wait === false), JSON.stringify(stray.map((e) => e.msg)).slice(0, 500));
});

test('hooks.history keeps the most recent 200 hooks and at most 4 MiB of input', { timeout: 30000 }, async (t) => {
  const d = await daemonFor(t);
  const u = await connectUnix(path.join(d.rt, 'tetherd.sock'));
  t.after(() => u.sock.destroy());
  await u.hello();
  const call = (id, text) =>
    u.request({ type: 'hook.call', id, event: 'Notification', agent: 'claude-code', input_json: text, wait: false, timeout_ms: 1000 });
  for (let i = 0; i < 205; i++) {
    const r = await call(i, JSON.stringify({ hook_event_name: 'Notification', n: i }));
    assert.equal(r.type, 'hook.call', JSON.stringify(r));
    assert.equal(r.decision, null, JSON.stringify(r));
  }
  const c = await connectSubscriber(d, t, null);
  const h = await c.request({ type: 'hooks.history' });
  assert.equal(h.hooks?.length, 200, `200 entries: ${JSON.stringify(h).slice(0, 200)}`);
  assert.deepEqual(h.hooks.map((e) => e.input.n), Array.from({ length: 200 }, (_, i) => i + 5), 'the most recent 200, oldest first');

  // five inputs of ~1,000,000 bytes: 5 MB do not fit in 4 MiB
  for (let i = 0; i < 5; i++) {
    const r = await call(`big${i}`, JSON.stringify({ hook_event_name: 'Notification', big: i, pad: 'p'.repeat(999900) }));
    assert.equal(r.type, 'hook.call', JSON.stringify(r).slice(0, 200));
  }
  const h2 = await c.request({ type: 'hooks.history' }, 10000);
  const bigs = h2.hooks.filter((e) => 'big' in e.input).map((e) => e.input.big);
  const inputBytes = h2.hooks.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.input)), 0);
  assert.ok(inputBytes <= 4 * 1024 * 1024, `at most 4 MiB of input in all: ${inputBytes}`);
  assert.ok(bigs.length >= 1 && bigs.length <= 4, `some big inputs dropped, the latest kept: ${bigs}`);
  assert.deepEqual(bigs, Array.from({ length: bigs.length }, (_, i) => 5 - bigs.length + i), `the most recent ones, oldest first: ${bigs}`);
});
