// WebSocket handshake and security (docs/protocol.md, "WebSocket handshake and security").
//
// Every rejection is paired with a positive control: the same request with the check satisfied
// succeeds, so a test cannot pass because the daemon refuses everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  daemonFor,
  tryWs,
  expectRejection,
  authHeaders,
  httpGet,
  rawHttp,
  upgradeLines,
  sleep,
} from './lib.mjs';

const T = { timeout: 20000 };

/** The same token with one hex digit changed. */
function corrupt(token) {
  const i = 17;
  const ch = token[i] === '0' ? '1' : '0';
  return token.slice(0, i) + ch + token.slice(i + 1);
}

async function mustSucceed(url, opts, label) {
  const r = await tryWs(url, opts);
  assert.equal(r.ok, true, `${label}: expected HTTP 101, got ${r.status} ${r.body ?? ''}`);
  // prove it is a working tether connection, not just an upgrade
  const h = await r.client.hello();
  assert.equal(h.type, 'hello');
  await r.client.terminate();
  return r;
}

test('token: none -> 401, wrong (one digit changed) -> 401, right -> 101', T, async (t) => {
  const d = await daemonFor(t);
  const { url, token } = d.endpoint;
  assert.match(token, /^[0-9a-f]{64}$/);

  const none = await expectRejection(url, {});
  assert.equal(none.status, 401, 'no token');

  const bad = corrupt(token);
  assert.equal(bad.length, token.length);
  assert.notEqual(bad, token);
  const wrong = await expectRejection(url, { headers: authHeaders(bad) });
  assert.equal(wrong.status, 401, 'wrong token');

  // wrong scheme / malformed header
  const basic = await expectRejection(url, { headers: { Authorization: `Basic ${token}` } });
  assert.equal(basic.status, 401, 'Authorization with a scheme other than Bearer');
  const prefix = await expectRejection(url, { headers: authHeaders(token.slice(0, 63)) });
  assert.equal(prefix.status, 401, 'a 63-digit prefix of the token');

  await mustSucceed(url, { headers: authHeaders(token) }, 'valid token');
  // and the refusals did not poison the body of a good response
  assert.ok(!none.body.includes(token) && !wrong.body.includes(token), 'token not in 401 bodies');
});

test('Host: evil.example:PORT -> 403, wrong port -> 403, odd Hosts -> 403; allowed Hosts -> 101', T, async (t) => {
  const d = await daemonFor(t);
  const { url, token, port } = d.endpoint;
  const auth = authHeaders(token);

  const evil = await expectRejection(url, { headers: { ...auth, Host: `evil.example:${port}` } });
  assert.equal(evil.status, 403, 'Host evil.example:PORT');

  const wrongPort = await expectRejection(url, { headers: { ...auth, Host: `127.0.0.1:${port === 65535 ? 1 : port + 1}` } });
  assert.equal(wrongPort.status, 403, 'Host with the wrong port');

  const tok = `Authorization: Bearer ${token}`;
  // Raw requests for Host values node:http would not send.
  const cases = [
    ['no Host header', []],
    ['Host without a port', ['Host: 127.0.0.1']],
    ['empty Host', ['Host: ']],
    ['Host 0.0.0.0:PORT', [`Host: 0.0.0.0:${port}`]],
    ['Host 127.0.0.2:PORT', [`Host: 127.0.0.2:${port}`]],
    ['Host with a suffix', [`Host: 127.0.0.1:${port}.evil.example`]],
    ['Host localhost.evil.example:PORT', [`Host: localhost.evil.example:${port}`]],
    ['Host with userinfo', [`Host: evil@127.0.0.1:${port}`]],
    ['Host ::1 without brackets', [`Host: ::1:${port}`]],
  ];
  for (const [label, hostLines] of cases) {
    const r = await rawHttp(port, upgradeLines([...hostLines, tok]));
    assert.equal(r.status, 403, `${label}: ${r.head}`);
  }

  // Positive controls: the documented Host forms, same raw request shape.
  const good = [
    ['127.0.0.1:PORT', `Host: 127.0.0.1:${port}`],
    ['localhost:PORT', `Host: localhost:${port}`],
    ['LocalHost:PORT (any case)', `Host: LocalHost:${port}`],
    ['[::1]:PORT', `Host: [::1]:${port}`],
  ];
  for (const [label, hostLine] of good) {
    const r = await rawHttp(port, upgradeLines([hostLine, tok]));
    assert.equal(r.status, 101, `${label}: ${r.head}`);
  }
  await mustSucceed(url, { headers: { ...auth, Host: `localhost:${port}` } }, 'ws with Host localhost:PORT');
});

test('Origin: evil -> 403 even with the token; no Origin -> 101', T, async (t) => {
  const d = await daemonFor(t);
  const { url, token } = d.endpoint;
  const auth = authHeaders(token);

  const evil = await expectRejection(url, { headers: { ...auth, Origin: 'https://evil.example' } });
  assert.equal(evil.status, 403, 'Origin https://evil.example with a valid token');
  const nul = await expectRejection(url, { headers: { ...auth, Origin: 'null' } });
  assert.equal(nul.status, 403, 'Origin null (sandboxed frame) with a valid token');
  const local = await expectRejection(url, { headers: { ...auth, Origin: `http://127.0.0.1:${d.endpoint.port}` } });
  assert.equal(local.status, 403, 'the allow-list is empty by default: even a loopback Origin is refused');

  await mustSucceed(url, { headers: auth }, 'same request without Origin');
});

test('--allow-origin: the listed Origin is accepted (exact match), others are refused', T, async (t) => {
  const d = await daemonFor(t, { args: ['--allow-origin', 'https://ok.example'] });
  const { url, token } = d.endpoint;
  const auth = authHeaders(token);

  await mustSucceed(url, { headers: { ...auth, Origin: 'https://ok.example' } }, 'allowed Origin');

  for (const origin of ['https://evil.example', 'https://ok.example.evil', 'https://ok.example/', 'http://ok.example', 'https://ok.example:443']) {
    const r = await expectRejection(url, { headers: { ...auth, Origin: origin } });
    assert.equal(r.status, 403, `Origin ${origin}`);
  }
  // The allowed Origin still needs the token.
  const noTok = await expectRejection(url, { headers: { Origin: 'https://ok.example' } });
  assert.equal(noTok.status, 401, 'allowed Origin without a token');
});

test('browser subprotocol auth: tether.v1 selected, token never echoed; wrong token -> 401', T, async (t) => {
  const d = await daemonFor(t);
  const { url, token } = d.endpoint;

  const r = await tryWs(url, { protocols: ['tether.v1', `tether.token.${token}`] });
  assert.equal(r.ok, true, `subprotocol auth: got HTTP ${r.status}`);
  t.after(() => r.client.terminate());
  assert.equal(r.client.ws.protocol, 'tether.v1');
  assert.equal(r.headers['sec-websocket-protocol'], 'tether.v1');
  const raw = r.rawHeaders.join('\n');
  assert.ok(raw.length > 0, 'raw upgrade headers were captured');
  assert.ok(!raw.includes(token), `token not in the upgrade response headers:\n${raw}`);
  assert.ok(!raw.includes('tether.token'), `no tether.token entry echoed:\n${raw}`);
  const h = await r.client.hello();
  assert.equal(h.transport, 'websocket');

  const bad = await expectRejection(url, { protocols: ['tether.v1', `tether.token.${corrupt(token)}`] });
  assert.equal(bad.status, 401, 'subprotocol with a wrong token');
  const only = await expectRejection(url, { protocols: ['tether.v1'] });
  assert.equal(only.status, 401, 'tether.v1 without a token entry');

  // positive control again after the failures
  const again = await tryWs(url, { protocols: ['tether.v1', `tether.token.${token}`] });
  assert.equal(again.ok, true, `subprotocol auth after failures: HTTP ${again.status}`);
  again.client.terminate();
});

test('/healthz: 200 {status, version} without a token; bad Host -> 403; bad Origin -> 403', T, async (t) => {
  const d = await daemonFor(t);
  const { port, token, version } = d.endpoint;

  const ok = await httpGet(port, '/healthz', { Host: `127.0.0.1:${port}` });
  assert.equal(ok.status, 200, ok.body);
  const body = JSON.parse(ok.body);
  assert.deepEqual(Object.keys(body).sort(), ['status', 'version'], `exactly status and version: ${ok.body}`);
  assert.equal(body.status, 'ok');
  assert.equal(body.version, version);
  assert.ok(!ok.body.includes(token));

  const badHost = await httpGet(port, '/healthz', { Host: `evil.example:${port}` });
  assert.equal(badHost.status, 403, 'healthz with Host evil.example');
  const badOrigin = await httpGet(port, '/healthz', { Host: `127.0.0.1:${port}`, Origin: 'https://evil.example' });
  assert.equal(badOrigin.status, 403, 'healthz with a foreign Origin');
  const noHost = await rawHttp(port, ['GET /healthz HTTP/1.1']);
  assert.equal(noHost.status, 403, 'healthz with no Host');

  // positive control after the refusals
  const again = await httpGet(port, '/healthz', {});
  assert.equal(again.status, 200);
});

test('other paths: with token -> 404, without -> 401', T, async (t) => {
  const d = await daemonFor(t);
  const { port, token, url } = d.endpoint;

  const withTok = await httpGet(port, '/nope', authHeaders(token));
  assert.equal(withTok.status, 404, 'unknown path with the token');
  const withoutTok = await httpGet(port, '/nope', {});
  assert.equal(withoutTok.status, 401, 'unknown path without the token');
  const wrongPathUpgrade = await expectRejection(url.replace(/\/ws$/, '/other'), { headers: authHeaders(token) });
  assert.equal(wrongPathUpgrade.status, 404, 'WebSocket upgrade on a path other than /ws, with the token');
  const healthzPrefix = await httpGet(port, '/healthzz', {});
  assert.equal(healthzPrefix.status, 401, '/healthzz is not /healthz');

  // positive control: the token is valid on /ws
  await mustSucceed(url, { headers: authHeaders(token) }, '/ws with the token');
});

test('back-off: 5 wrong tokens -> 429 with Retry-After even for the valid token, then recovers', { timeout: 90000 }, async (t) => {
  const d = await daemonFor(t);
  const { url, token, port } = d.endpoint;
  const bad = authHeaders(corrupt(token));

  // Control: 4 failures do not trigger it, and a success resets the count.
  for (let i = 0; i < 4; i++) {
    const r = await expectRejection(url, { headers: bad });
    assert.equal(r.status, 401, `warm-up failure ${i + 1}`);
  }
  await mustSucceed(url, { headers: authHeaders(token) }, 'valid token after 4 failures');

  // 5 consecutive failures (missing tokens count as failures too).
  for (let i = 0; i < 5; i++) {
    const r = i === 2 ? await expectRejection(url, {}) : await expectRejection(url, { headers: bad });
    assert.equal(r.status, 401, `failure ${i + 1}`);
  }
  const t0 = Date.now();
  const locked = await expectRejection(url, { headers: authHeaders(token) });
  assert.equal(locked.status, 429, 'the 6th request, with the VALID token, is refused with 429');
  const ra = locked.headers['retry-after'];
  assert.ok(ra !== undefined, `429 carries Retry-After: ${JSON.stringify(locked.headers)}`);
  assert.match(String(ra), /^\d+$/, 'Retry-After is delta-seconds');
  const secs = Number(ra);
  assert.ok(secs >= 1 && secs <= 60, `Retry-After in [1, 60]: ${secs}`);

  // Other token-requiring requests are refused too; /healthz needs no token and still answers.
  const other = await httpGet(port, '/nope', authHeaders(token));
  assert.equal(other.status, 429, 'a token-requiring plain request during the back-off');
  const hz = await httpGet(port, '/healthz', {});
  assert.equal(hz.status, 200, '/healthz is not subject to the back-off');

  const wait = secs * 1000 + 400 - (Date.now() - t0);
  if (wait > 0) await sleep(wait);
  await mustSucceed(url, { headers: authHeaders(token) }, `valid token after Retry-After (${secs} s)`);
  // the success reset the count: a single failure is a plain 401 again
  const after = await expectRejection(url, { headers: bad });
  assert.equal(after.status, 401, 'one failure after the reset is a 401, not 429');
  await mustSucceed(url, { headers: authHeaders(token) }, 'valid token after a single failure');
});

test('back-off: requests refused for Origin or Host do not count', T, async (t) => {
  const d = await daemonFor(t);
  const { url, token, port } = d.endpoint;
  const bad = authHeaders(corrupt(token));

  for (let i = 0; i < 10; i++) {
    // A browser tab: foreign Origin, no or a wrong token.
    const r = await expectRejection(url, { headers: i % 2 ? { Origin: 'https://evil.example', ...bad } : { Origin: 'https://evil.example' } });
    assert.equal(r.status, 403, `bad-origin request ${i + 1} is refused at the Origin step`);
  }
  for (let i = 0; i < 10; i++) {
    const r = await expectRejection(url, { headers: { Host: `evil.example:${port}`, ...bad } });
    assert.equal(r.status, 403, `bad-host request ${i + 1} is refused at the Host step`);
  }
  await mustSucceed(url, { headers: authHeaders(token) }, 'valid token after 20 Origin/Host refusals');

  // Control: the same number of plain wrong-token requests does lock out (so the above would
  // have detected counting).
  for (let i = 0; i < 5; i++) {
    const r = await expectRejection(url, { headers: bad });
    assert.equal(r.status, 401);
  }
  const locked = await expectRejection(url, { headers: authHeaders(token) });
  assert.equal(locked.status, 429, 'control: 5 wrong tokens do lock out');
});
