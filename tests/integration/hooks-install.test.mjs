// `tether hook install` / `uninstall` for Claude Code (docs/hooks.md, "tether hook install"):
// HOME is a temp dir, so ~/.claude/settings.json is the test's own file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, childEnv, until, TETHER_BIN } from './lib.mjs';

const T = { timeout: 20000 };
const TOOL_EVENTS = ['PreToolUse', 'PermissionRequest', 'PostToolUse'];
const OTHER_EVENTS = ['UserPromptSubmit', 'Stop', 'Notification', 'SessionStart', 'SessionEnd'];
const EVENTS = [...TOOL_EVENTS, ...OTHER_EVENTS];

/** A temp dir with home/ and proj/ (the cwd of the commands), removed after the test. */
async function layout(t) {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tether-hook-install-'));
  t.after(() => fsp.rm(tmp, { recursive: true, force: true }));
  const home = path.join(tmp, 'home');
  const proj = path.join(tmp, 'proj');
  await fsp.mkdir(home, { mode: 0o700 });
  await fsp.mkdir(proj);
  return { tmp, home, proj, userFile: path.join(home, '.claude', 'settings.json'), projFile: path.join(proj, '.claude', 'settings.json') };
}

/** tether hook <install|uninstall> --agent claude-code ...args, HOME=home, cwd=proj. */
function hookCmd(l, verb, args = []) {
  return run(TETHER_BIN(), ['hook', verb, '--agent', 'claude-code', ...args], { env: childEnv(l.home), cwd: l.proj, timeoutMs: 10000 });
}

function describe(r) {
  return `exit ${r.code}; stdout ${JSON.stringify(r.stdout.slice(0, 400))}; stderr ${JSON.stringify(r.stderr)}`;
}

/** The commands tether may write for itself: "<absolute tether> hook". */
function tetherCommands() {
  return new Set([`${TETHER_BIN()} hook`, `${fs.realpathSync(TETHER_BIN())} hook`]);
}
const isTether = (h) => h && typeof h === 'object' && tetherCommands().has(h.command);

/** The settings with tether's entries taken out, groups and event lists left empty removed
 *  (what uninstall must produce). */
function withoutTether(settings) {
  const s = structuredClone(settings);
  if (!s.hooks) return s;
  for (const ev of Object.keys(s.hooks)) {
    s.hooks[ev] = s.hooks[ev]
      .map((g) => ({ ...g, hooks: g.hooks.filter((h) => !isTether(h)) }))
      .filter((g, i) => g.hooks.length > 0 || settings.hooks[ev][i].hooks.length === 0);
    if (s.hooks[ev].length === 0 && settings.hooks[ev].length > 0) delete s.hooks[ev];
  }
  return s;
}

/** Checks that settings has exactly one tether entry per event, shaped as docs/hooks.md says. */
function checkTetherEntries(settings, label) {
  assert.equal(typeof settings.hooks, 'object', `${label}: hooks: ${JSON.stringify(settings)}`);
  for (const ev of EVENTS) {
    const groups = settings.hooks[ev];
    assert.ok(Array.isArray(groups), `${label}: hooks.${ev} is a list: ${JSON.stringify(settings.hooks)}`);
    const mine = groups.filter((g) => Array.isArray(g.hooks) && g.hooks.some(isTether));
    assert.equal(mine.length, 1, `${label}: exactly one group with tether's command for ${ev}: ${JSON.stringify(groups)}\n(expected command one of ${[...tetherCommands()].join(' | ')})`);
    const entries = mine[0].hooks.filter(isTether);
    assert.equal(entries.length, 1, `${label}: one tether entry for ${ev}`);
    const e = entries[0];
    assert.equal(e.type, 'command', `${label}: ${ev}: ${JSON.stringify(e)}`);
    assert.ok(path.isAbsolute(e.command.split(' ')[0]), `${label}: the command is an absolute path: ${e.command}`);
    assert.ok(typeof e.timeout === 'number' && e.timeout > 0, `${label}: ${ev}: timeout ${e.timeout}`);
    if (TOOL_EVENTS.includes(ev)) assert.equal(mine[0].matcher, '*', `${label}: ${ev} matcher "*": ${JSON.stringify(mine[0])}`);
    else assert.ok(!('matcher' in mine[0]), `${label}: ${ev} (no tools) has no matcher: ${JSON.stringify(mine[0])}`);
  }
}

/** Waits until the unix time (seconds) is past `stamp`. */
async function nextSecond(stamp) {
  while (Math.floor(Date.now() / 1000) <= stamp) await new Promise((r) => setTimeout(r, 50));
}

async function backups(dir) {
  return (await fsp.readdir(dir)).filter((f) => /^settings\.json\.tether-backup-\d+$/.test(f));
}

const EXISTING = {
  model: 'opus',
  permissions: { allow: ['Bash(npm run lint)', 'Read(~/.zshrc)'], deny: ['Bash(curl:*)'] },
  env: { FOO: 'bär ✓', EMPTY: '' },
  hooks: {
    PreToolUse: [
      { matcher: 'Bash', hooks: [{ type: 'command', command: '/usr/local/bin/check-bash.sh', timeout: 10 }] },
      { matcher: 'Edit|Write', hooks: [{ type: 'command', command: 'npx prettier --check' }] },
    ],
    Stop: [{ hooks: [{ type: 'command', command: 'echo stopped >> /tmp/log' }] }],
    SubagentStop: [{ hooks: [{ type: 'command', command: '/opt/notify' }] }],
  },
  statusLine: { type: 'command', command: '~/.claude/statusline.sh', padding: 0 },
  includeCoAuthoredBy: false,
  cleanupPeriodDays: 30,
  nested: { list: [1, 2.5, null, true, 'x', { deep: [] }], empty: {} },
};

// ---------------------------------------------------------------------------------------------

test('install --scope user with no settings file writes ~/.claude/settings.json with tether\'s entries', T, async (t) => {
  const l = await layout(t);
  const r = await hookCmd(l, 'install', ['--scope', 'user']);
  assert.equal(r.code, 0, describe(r));
  const s = JSON.parse(await fsp.readFile(l.userFile, 'utf8'));
  checkTetherEntries(s, 'fresh install');
  assert.deepEqual(Object.keys(s), ['hooks'], `nothing but hooks in a new file: ${JSON.stringify(s)}`);
  assert.deepEqual(Object.keys(s.hooks).sort(), [...EVENTS].sort());
  for (const ev of EVENTS) assert.equal(s.hooks[ev].length, 1, `${ev}: one group`);
  assert.ok(!fs.existsSync(path.join(l.proj, '.claude')), 'nothing written in the cwd');
});

test('install into an existing settings file keeps everything else exactly, writes a backup; twice does not duplicate; uninstall restores it exactly', T, async (t) => {
  const l = await layout(t);
  await fsp.mkdir(path.dirname(l.userFile), { recursive: true });
  const originalText = JSON.stringify(EXISTING, null, 2) + '\n';
  await fsp.writeFile(l.userFile, originalText);
  const before = Math.floor(Date.now() / 1000);

  const r1 = await hookCmd(l, 'install', ['--scope', 'user']);
  assert.equal(r1.code, 0, describe(r1));
  const s1 = JSON.parse(await fsp.readFile(l.userFile, 'utf8'));
  checkTetherEntries(s1, 'install over existing');
  // everything else kept exactly (values and key order), the existing hooks included
  assert.deepEqual(withoutTether(s1), EXISTING, 'with tether\'s entries taken out, the file is the original');
  assert.deepEqual(Object.keys(s1).filter((k) => k in EXISTING), Object.keys(EXISTING), 'top-level key order kept');
  for (const ev of Object.keys(EXISTING.hooks)) {
    const others = s1.hooks[ev].filter((g) => !g.hooks.some(isTether));
    assert.deepEqual(others, EXISTING.hooks[ev], `${ev}: the existing groups are untouched`);
  }
  // the backup is a copy of the original
  const bk = await backups(path.dirname(l.userFile));
  assert.equal(bk.length, 1, `one backup file: ${await fsp.readdir(path.dirname(l.userFile))}`);
  assert.equal(await fsp.readFile(path.join(path.dirname(l.userFile), bk[0]), 'utf8'), originalText, 'backup = original bytes');
  const stamp = Number(bk[0].split('-').pop());
  assert.ok(stamp >= before - 5 && stamp <= Math.floor(Date.now() / 1000) + 5, `backup named with the unix time: ${bk[0]}`);

  // twice: no duplicates, same content
  const r2 = await hookCmd(l, 'install', ['--scope', 'user']);
  assert.equal(r2.code, 0, describe(r2));
  const s2 = JSON.parse(await fsp.readFile(l.userFile, 'utf8'));
  checkTetherEntries(s2, 'second install');
  assert.deepEqual(s2, s1, 'a second install changes nothing');

  // uninstall: only tether's entries go (in a later second than the install's backup: the
  // same-second case is a test of its own below)
  await nextSecond(stamp);
  const u = await hookCmd(l, 'uninstall', ['--scope', 'user']);
  assert.equal(u.code, 0, describe(u));
  const s3 = JSON.parse(await fsp.readFile(l.userFile, 'utf8'));
  assert.deepEqual(s3, EXISTING, 'after uninstall the settings are the original again');
  assert.deepEqual(Object.keys(s3), Object.keys(EXISTING), 'top-level key order kept');
  assert.deepEqual(Object.keys(s3.hooks), Object.keys(EXISTING.hooks), 'no empty event lists left behind');
});

test('install then uninstall within the same second: both succeed and the original is still backed up', T, async (t) => {
  const l = await layout(t);
  await fsp.mkdir(path.dirname(l.userFile), { recursive: true });
  const originalText = JSON.stringify(EXISTING, null, 2) + '\n';
  await fsp.writeFile(l.userFile, originalText);
  // start early in a second so that both commands (a few ms each) run within it
  await until(() => Date.now() % 1000 < 300, { timeoutMs: 2000, intervalMs: 5, what: 'the start of a second' });
  const i = await hookCmd(l, 'install', ['--scope', 'user']);
  const u = await hookCmd(l, 'uninstall', ['--scope', 'user']);
  assert.equal(i.code, 0, `install: ${describe(i)}`);
  assert.equal(u.code, 0, `uninstall right after install: ${describe(u)}`);
  assert.deepEqual(JSON.parse(await fsp.readFile(l.userFile, 'utf8')), EXISTING, 'uninstalled');
  const dir = path.dirname(l.userFile);
  const texts = await Promise.all((await backups(dir)).map((f) => fsp.readFile(path.join(dir, f), 'utf8')));
  assert.ok(texts.includes(originalText), `a backup still holds the original file (backups: ${await backups(dir)})`);
});

test('uninstall removes exactly tether\'s entries: from a shared group, its own groups, and event lists it empties', T, async (t) => {
  const l = await layout(t);
  const tether = `${TETHER_BIN()} hook`;
  const other = { type: 'command', command: '/usr/bin/other-hook', timeout: 5 };
  const settings = {
    theme: 'dark',
    hooks: {
      PreToolUse: [
        { matcher: '*', hooks: [other, { type: 'command', command: tether, timeout: 30 }] },
        { matcher: 'Bash', hooks: [{ type: 'command', command: '/bin/true' }] },
      ],
      Stop: [{ hooks: [{ type: 'command', command: tether, timeout: 30 }] }],
      Notification: [
        { hooks: [{ type: 'command', command: tether, timeout: 30 }] },
        // look alike, but not tether's hook command
        { hooks: [{ type: 'command', command: '/usr/local/bin/not-tether hook' }, { type: 'command', command: '/opt/tether hooks-audit.sh' }] },
      ],
      PostToolUse: [{ matcher: 'Write', hooks: [{ type: 'command', command: '/usr/bin/tether-like hook' }] }],
    },
  };
  await fsp.mkdir(path.dirname(l.userFile), { recursive: true });
  await fsp.writeFile(l.userFile, JSON.stringify(settings));
  const u = await hookCmd(l, 'uninstall', ['--scope', 'user']);
  assert.equal(u.code, 0, describe(u));
  const s = JSON.parse(await fsp.readFile(l.userFile, 'utf8'));
  assert.deepEqual(s, {
    theme: 'dark',
    hooks: {
      PreToolUse: [
        { matcher: '*', hooks: [other] },
        { matcher: 'Bash', hooks: [{ type: 'command', command: '/bin/true' }] },
      ],
      Notification: [
        { hooks: [{ type: 'command', command: '/usr/local/bin/not-tether hook' }, { type: 'command', command: '/opt/tether hooks-audit.sh' }] },
      ],
      PostToolUse: [{ matcher: 'Write', hooks: [{ type: 'command', command: '/usr/bin/tether-like hook' }] }],
    },
  });
});

test('a settings file that is not valid JSON is refused (non-zero exit, message names the file) and left untouched', T, async (t) => {
  const l = await layout(t);
  await fsp.mkdir(path.dirname(l.userFile), { recursive: true });
  const bad = '{\n  "model": "opus",\n  "hooks": { "Stop": [ ] \n'; // truncated
  await fsp.writeFile(l.userFile, bad);
  const mtime = (await fsp.stat(l.userFile)).mtimeMs;
  for (const verb of ['install', 'uninstall']) {
    const r = await hookCmd(l, verb, ['--scope', 'user']);
    assert.notEqual(r.code, 0, `${verb}: ${describe(r)}`);
    assert.ok(!r.timedOut, describe(r));
    assert.ok(r.stderr.includes(l.userFile), `${verb}: the message names ${l.userFile}: ${describe(r)}`);
    assert.equal(await fsp.readFile(l.userFile, 'utf8'), bad, `${verb}: the file is untouched`);
    assert.equal((await fsp.stat(l.userFile)).mtimeMs, mtime, `${verb}: not rewritten`);
  }
  // also a file with comments / trailing commas (JSONC) is not JSON
  await fsp.writeFile(l.userFile, '{"model":"opus",}');
  const r = await hookCmd(l, 'install', ['--scope', 'user']);
  assert.notEqual(r.code, 0, describe(r));
  assert.equal(await fsp.readFile(l.userFile, 'utf8'), '{"model":"opus",}');
});

test('--scope project writes ./.claude/settings.json in the cwd (not ~), and uninstall --scope project removes it', T, async (t) => {
  const l = await layout(t);
  await fsp.mkdir(path.dirname(l.projFile), { recursive: true });
  const existing = { permissions: { allow: ['Read'] }, hooks: { Stop: [{ hooks: [{ type: 'command', command: 'make check' }] }] } };
  await fsp.writeFile(l.projFile, JSON.stringify(existing));
  const r = await hookCmd(l, 'install', ['--scope', 'project']);
  assert.equal(r.code, 0, describe(r));
  const s = JSON.parse(await fsp.readFile(l.projFile, 'utf8'));
  checkTetherEntries(s, 'project install');
  assert.deepEqual(withoutTether(s), existing);
  assert.ok(!fs.existsSync(l.userFile), `~/.claude/settings.json not written by --scope project`);
  const pbk = await backups(path.dirname(l.projFile));
  assert.equal(pbk.length, 1, 'a backup beside the project file');

  await nextSecond(Number(pbk[0].split('-').pop()));
  const u = await hookCmd(l, 'uninstall', ['--scope', 'project']);
  assert.equal(u.code, 0, describe(u));
  assert.deepEqual(JSON.parse(await fsp.readFile(l.projFile, 'utf8')), existing);

  // and with no .claude dir in the cwd at all
  const l2 = await layout(t);
  const r2 = await hookCmd(l2, 'install', ['--scope', 'project']);
  assert.equal(r2.code, 0, describe(r2));
  checkTetherEntries(JSON.parse(await fsp.readFile(l2.projFile, 'utf8')), 'project install, no .claude dir');
  assert.ok(!fs.existsSync(l2.userFile));
});

test('--dry-run prints the resulting file and writes nothing', T, async (t) => {
  const l = await layout(t);
  await fsp.mkdir(path.dirname(l.userFile), { recursive: true });
  const text = JSON.stringify(EXISTING);
  await fsp.writeFile(l.userFile, text);
  const r = await hookCmd(l, 'install', ['--scope', 'user', '--dry-run']);
  assert.equal(r.code, 0, describe(r));
  const printed = JSON.parse(r.stdout);
  checkTetherEntries(printed, 'dry-run output');
  assert.deepEqual(withoutTether(printed), EXISTING);
  assert.equal(await fsp.readFile(l.userFile, 'utf8'), text, 'the file is unchanged');
  assert.deepEqual(await backups(path.dirname(l.userFile)), [], 'no backup for a dry run');

  // uninstall --dry-run on an installed file prints it without tether, and writes nothing
  assert.equal((await hookCmd(l, 'install', ['--scope', 'user'])).code, 0);
  const installed = await fsp.readFile(l.userFile, 'utf8');
  const u = await hookCmd(l, 'uninstall', ['--scope', 'user', '--dry-run']);
  assert.equal(u.code, 0, describe(u));
  assert.deepEqual(JSON.parse(u.stdout), EXISTING);
  assert.equal(await fsp.readFile(l.userFile, 'utf8'), installed, 'the file is unchanged');
});

test('install usage errors exit 2: unknown agent, unknown scope, unknown flag', T, async (t) => {
  const l = await layout(t);
  // positive control: the same command line without the mistake is accepted
  const ok = await hookCmd(l, 'install', ['--scope', 'user', '--dry-run']);
  assert.equal(ok.code, 0, describe(ok));
  for (const args of [
    ['hook', 'install', '--agent', 'nope'],
    ['hook', 'install', '--agent', 'claude-code', '--scope', 'galaxy'],
    ['hook', 'install', '--agent', 'claude-code', '--bogus'],
    ['hook', 'uninstall', '--agent', 'claude-code', '--scope', 'galaxy'],
  ]) {
    const r = await run(TETHER_BIN(), args, { env: childEnv(l.home), cwd: l.proj, timeoutMs: 5000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${describe(r)}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${describe(r)}`);
  }
  assert.ok(!fs.existsSync(l.userFile), 'nothing written');
  assert.ok(!fs.existsSync(l.projFile), 'nothing written');
});
