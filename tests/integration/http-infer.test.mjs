// The HTTP dialects' model lists (docs/http.md) with the real clients, unchanged: the `openai`
// package's models.list() on /v1/models and the `ollama` package's list() on /api/tags, both
// agreeing with infer.models; the token guards both (the typed 401 errors), a foreign Origin is
// refused even with the token, and a route answers GET only (405, the daemon lives on).
// Models: tests/infer/infer_models.c (INFER_MODELS_BIN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { daemonFor, connectHello, run, httpGet } from './lib.mjs';

const T = { timeout: 60000 };
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-http-models-'));

before(async () => {
  const r = await run(process.env.INFER_MODELS_BIN, [DIR], { timeoutMs: 60000 });
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(path.join(DIR, 'not-gguf.gguf'), 'not a model\n');
});
after(() => fs.rmSync(DIR, { recursive: true, force: true }));

async function daemon(t) {
  const d = await daemonFor(t, { args: ['--models-dir', DIR, '--infer-threads', '1'] });
  return { d, base: `http://127.0.0.1:${d.endpoint.port}` };
}

/** The loadable ids infer.models lists, sorted. */
async function protocolIds(d, t) {
  const c = await connectHello(d, t);
  c.send({ type: 'infer.models', id: 1 });
  const r = await c.next();
  assert.equal(r.type, 'infer.models', JSON.stringify(r));
  return r.models.filter((m) => m.loadable).map((m) => m.id).sort();
}

test('the openai package lists the models, as infer.models does; a wrong key is its AuthenticationError', T, async (t) => {
  const { d, base } = await daemon(t);
  const want = await protocolIds(d, t);
  assert.ok(want.length >= 4 && !want.includes('not-gguf'), want.join());
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: d.endpoint.token, maxRetries: 0 });
  const page = await client.models.list();
  const got = page.data.map((m) => m.id).sort();
  assert.deepEqual(got, want);
  const m = page.data.find((x) => x.id === 'llama-f32');
  assert.equal(m.object, 'model');
  assert.equal(m.owned_by, 'tether');
  assert.equal(typeof m.created, 'number');
  assert.equal(m.meta.n_ctx_train, 512);
  const wrong = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'f'.repeat(64), maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('the ollama package lists the models on /api/tags, with their details', T, async (t) => {
  const { d, base } = await daemon(t);
  const want = await protocolIds(d, t);
  const ollama = new Ollama({ host: base, headers: { Authorization: `Bearer ${d.endpoint.token}` } });
  const r = await ollama.list();
  assert.deepEqual(r.models.map((m) => m.name).sort(), want);
  const q8 = r.models.find((m) => m.name === 'llama-q8_0');
  assert.equal(q8.model, 'llama-q8_0');
  assert.equal(q8.details.format, 'gguf');
  assert.equal(q8.details.family, 'llama');
  assert.equal(q8.details.quantization_level, 'Q8_0');
  assert.match(q8.details.parameter_size, /^\d+(\.\d)?[MB]$/);
  assert.ok(!Number.isNaN(Date.parse(q8.modified_at)));
  assert.equal(q8.size, fs.statSync(path.join(DIR, 'llama-q8_0.gguf')).size);
  // no key: refused (and a copied-in file shows up on the next list)
  const anon = new Ollama({ host: base });
  await assert.rejects(anon.list(), (e) => /401|unauthorized|Bearer/i.test(`${e.status_code ?? ''} ${e.message}`));
  fs.copyFileSync(path.join(DIR, 'llama-f32.gguf'), path.join(DIR, 'late.gguf'));
  t.after(() => fs.rmSync(path.join(DIR, 'late.gguf'), { force: true }));
  let seen = false;
  for (let i = 0; i < 50 && !seen; i++) {
    seen = (await ollama.list()).models.some((m) => m.name === 'late');
    if (!seen) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(seen, 'late.gguf is listed without a restart');
});

test('the list routes: a foreign Origin is 403 even with the token; other methods are 405', T, async (t) => {
  const { d } = await daemon(t);
  const auth = { Authorization: `Bearer ${d.endpoint.token}` };
  for (const p of ['/v1/models', '/api/tags']) {
    const ok = await httpGet(d.endpoint.port, p, auth);
    assert.equal(ok.status, 200, p);
    const evil = await httpGet(d.endpoint.port, p, { ...auth, Origin: 'https://evil.example' });
    assert.equal(evil.status, 403, `${p} with a foreign Origin`);
    assert.ok(!evil.body.includes('llama'), 'nothing of the list leaks');
    const nul = await httpGet(d.endpoint.port, p, { ...auth, Origin: 'null' });
    assert.equal(nul.status, 403, `${p} with Origin null`);
    const none = await httpGet(d.endpoint.port, p);
    assert.equal(none.status, 401, `${p} without the token`);
    const post = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: d.endpoint.port, path: p, method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end('{"x":1}');
    });
    assert.equal(post.status, 405, `POST ${p}: ${post.body}`);
    assert.equal(post.headers.allow, 'GET');
  }
  const h = await httpGet(d.endpoint.port, '/healthz');
  assert.equal(h.status, 200, 'the daemon lives on');
});
