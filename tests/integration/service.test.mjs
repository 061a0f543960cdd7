// tether service install|uninstall|status [--dry-run] [--init systemd|none] (issue 6;
// relay/cli_service.c), with fake `systemctl` and `loginctl` first on PATH that record their argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeTempLayout, run, childEnv, TETHER_BIN } from './lib.mjs';
import { writeFakeTools, readOr } from './lifelib.mjs';

const MARKER = '# Installed by `tether service install`; `tether service uninstall` removes it.\n';
const USER = os.userInfo().username;
const SOURCE = () => {
  const v = process.env.TETHER_SOURCE_DIR;
  if (!v) throw new Error('TETHER_SOURCE_DIR is not set');
  return v;
};

async function setup(t, { linger = '' } = {}) {
  const l = await makeTempLayout('tether-service-');
  t.after(() => fsp.rm(l.tmp, { recursive: true, force: true }));
  l.fake = writeFakeTools(path.join(l.tmp, 'fake'));
  l.config = path.join(l.tmp, 'config');
  l.unitDir = path.join(l.config, 'systemd', 'user');
  l.service = path.join(l.unitDir, 'tetherd.service');
  l.socket = path.join(l.unitDir, 'tetherd.socket');
  l.linger = linger;
  return l;
}

function service(l, args, env = {}) {
  return run(TETHER_BIN(), ['service', ...args], {
    env: childEnv(l.home, {
      XDG_CONFIG_HOME: l.config,
      PATH: `${l.fake.bin}:${process.env.PATH}`,
      FAKE_LINGER: l.linger,
      ...env,
    }),
  });
}

/** The units as install must write them: the marker line, then systemd/ with the tetherd path. */
function expectedUnits() {
  const tetherd = path.join(path.dirname(TETHER_BIN()), 'tetherd');
  const src = path.join(SOURCE(), 'systemd');
  return {
    tetherd,
    service: MARKER + fs.readFileSync(path.join(src, 'tetherd.service.in'), 'utf8').replace('@TETHERD@', `"${tetherd}"`),
    socket: MARKER + fs.readFileSync(path.join(src, 'tetherd.socket.in'), 'utf8').replace('@PORT@', '7420'),
  };
}

function listing(dir) {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return null;
  }
}

const RELOAD = 'systemctl --user daemon-reload';
const ENABLE = 'systemctl --user enable --now tetherd.socket tetherd.service';
const DISABLE = 'systemctl --user disable --now tetherd.socket tetherd.service';
const LINGER_Q = `loginctl show-user ${USER} --property=Linger --value`;
const LINGER_ON = `loginctl enable-linger ${USER}`;

test('install --dry-run: shows every change, writes nothing, runs no mutating command', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  const r = await service(l, ['install', '--dry-run', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(listing(l.config), null, 'not even the config dir is created');
  assert.deepEqual(l.fake.read(), [LINGER_Q], 'only the read-only lingering query runs');
  const exp = expectedUnits();
  assert.match(r.stdout, new RegExp(`would create ${l.service}:`));
  assert.match(r.stdout, new RegExp(`would create ${l.socket}:`));
  assert.ok(r.stdout.includes(`    | ExecStart="${exp.tetherd}"\n`), r.stdout);
  assert.ok(r.stdout.includes(`    | ${MARKER}`), 'the marker is shown as part of the file');
  for (const c of [RELOAD, ENABLE, LINGER_ON]) assert.ok(r.stdout.includes(`would run: ${c}\n`), `${c} in\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, /^running:/m);
});

test('install: writes both units (ExecStart = absolute tetherd, marker), runs the exact commands; again: unchanged', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  const r = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  const exp = expectedUnits();
  assert.ok(path.isAbsolute(exp.tetherd));
  assert.equal(fs.readFileSync(l.service, 'utf8'), exp.service);
  assert.equal(fs.readFileSync(l.socket, 'utf8'), exp.socket);
  assert.match(fs.readFileSync(l.service, 'utf8'), new RegExp(`^ExecStart="${exp.tetherd}"$`, 'm'));
  assert.deepEqual(listing(l.unitDir), ['tetherd.service', 'tetherd.socket'], 'no temporary file left');
  assert.deepEqual(l.fake.read(), [RELOAD, ENABLE, LINGER_Q, LINGER_ON]);
  for (const c of [RELOAD, ENABLE, LINGER_ON]) assert.ok(r.stdout.includes(`running:   ${c}\n`), `${c} in\n${r.stdout}`);

  // a second install changes no file
  fs.writeFileSync(l.fake.calls, '');
  l.linger = 'yes';
  const r2 = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, new RegExp(`unchanged: +${l.service}\n`));
  assert.match(r2.stdout, new RegExp(`unchanged: +${l.socket}\n`));
  assert.doesNotMatch(r2.stdout, /will +(create|replace)/);
  assert.match(r2.stdout, new RegExp(`unchanged: +lingering is already on for ${USER}`));
  assert.deepEqual(l.fake.read(), [RELOAD, ENABLE, LINGER_Q], 'lingering on already: no enable-linger');
  assert.equal(fs.readFileSync(l.service, 'utf8'), exp.service);
});

test('install replaces a unit it wrote earlier that has changed', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  fs.mkdirSync(l.unitDir, { recursive: true });
  fs.writeFileSync(l.service, MARKER + '[Service]\nExecStart=/old/tetherd\n');
  const r = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`will +replace ${l.service}:`));
  assert.equal(fs.readFileSync(l.service, 'utf8'), expectedUnits().service);
});

test('install refuses a unit file it did not write: exit 1, the file untouched, nothing run', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  fs.mkdirSync(l.unitDir, { recursive: true });
  const mine = '[Service]\nExecStart=/usr/local/bin/my-own-tetherd\n';
  fs.writeFileSync(l.service, mine);
  for (const dry of [[], ['--dry-run']]) {
    const r = await service(l, ['install', '--init', 'systemd', ...dry]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${l.service} exists and was not written by tether; move it away first`));
    assert.equal(fs.readFileSync(l.service, 'utf8'), mine);
    assert.deepEqual(l.fake.read(), []);
  }
});

test('install: a failing systemctl fails the install (exit 1, naming it)', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  writeFakeTools(path.join(l.tmp, 'fake'), { systemctlBody: '[ "$2" = enable ] && exit 4' });
  const r = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /systemctl exited with 4/);
  assert.deepEqual(l.fake.read(), [RELOAD, ENABLE], 'stops at the failed step');
});

test('uninstall: disables, removes only the files carrying the marker, reloads', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  assert.equal((await service(l, ['install', '--init', 'systemd'])).code, 0);
  const foreign = '[Socket]\nListenStream=127.0.0.1:9999\n';
  fs.writeFileSync(l.socket, foreign);
  fs.writeFileSync(l.fake.calls, '');

  const dry = await service(l, ['uninstall', '--init', 'systemd', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`would remove: ${l.service}`));
  assert.deepEqual(listing(l.unitDir), ['tetherd.service', 'tetherd.socket'], '--dry-run removes nothing');
  assert.deepEqual(l.fake.read(), [], '--dry-run runs nothing');

  const r = await service(l, ['uninstall', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(listing(l.unitDir), ['tetherd.socket']);
  assert.equal(fs.readFileSync(l.socket, 'utf8'), foreign);
  assert.match(r.stdout, new RegExp(`kept: +${l.socket} \\(not written by tether\\)`));
  assert.deepEqual(l.fake.read(), [DISABLE, RELOAD]);
  assert.doesNotMatch(l.fake.read().join('\n'), /disable-linger/, 'lingering is left as it is');

  const again = await service(l, ['uninstall', '--init', 'systemd']);
  assert.equal(again.code, 0);
  assert.match(again.stdout, new RegExp(`absent: +${l.service}`));
});

test('status --init systemd: files, systemctl state, lingering (read-only queries)', { timeout: 30000 }, async (t) => {
  const l = await setup(t, { linger: 'no' });
  assert.equal((await service(l, ['install', '--init', 'systemd'])).code, 0);
  fs.writeFileSync(l.fake.calls, '');
  const r = await service(l, ['status', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /init: +systemd is PID 1/);
  assert.match(r.stdout, new RegExp(`tetherd.service +${l.service}; `));
  assert.match(r.stdout, /lingering: +no/);
  for (const c of l.fake.read()) assert.match(c, /^(systemctl --user is-(enabled|active) tetherd\.(service|socket)|loginctl show-user .*)$/, c);
});

test('--init none: nothing to install; prints the Windows-side wsl.exe command', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  for (const distro of ['Debian', undefined]) {
    const env = distro ? { WSL_DISTRO_NAME: distro } : {};
    const r = await service(l, ['install', '--init', 'none'], env);
    assert.equal(r.code, 0, r.stderr);
    const d = distro ?? '<your distro>';
    assert.ok(r.stdout.includes(`wsl.exe -d ${d} --exec ${TETHER_BIN()} anchor\n`), r.stdout);
    assert.ok(r.stdout.includes(`tether-shim install --distro ${d}\n`), r.stdout);
    assert.match(r.stdout, /nothing to install in Linux/);
  }
  const s = await service(l, ['status', '--init', 'none']);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /mechanism: +tether anchor supervises tetherd/);
  const u = await service(l, ['uninstall', '--init', 'none']);
  assert.equal(u.code, 0);
  assert.equal(listing(l.config), null);
  assert.deepEqual(l.fake.read(), []);
});

test('bad arguments: exit 2 naming the problem', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  const cases = [
    [[], /needs install, uninstall or status/],
    [['restart'], /unknown subcommand 'restart'/],
    [['install', '--init', 'upstart'], /--init must be systemd or none, got 'upstart'/],
    [['install', '--init'], /--init must be systemd or none, got ''/],
    [['install', '--force'], /unknown argument '--force'/],
    [['install', 'uninstall'], /unknown argument 'uninstall'/],
  ];
  for (const [args, re] of cases) {
    const r = await service(l, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.equal(listing(l.config), null);
  assert.deepEqual(l.fake.read(), []);
});

test('install: the socket unit listens on tetherd\'s configured port; port 0 cannot be socket-activated', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  fs.mkdirSync(path.join(l.config, 'tether'), { recursive: true });
  const cfg = path.join(l.config, 'tether', 'tetherd.json');
  fs.writeFileSync(cfg, '{"port": 7555}\n');
  const r = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(fs.readFileSync(l.socket, 'utf8'), /^ListenStream=127\.0\.0\.1:7555$/m);
  assert.doesNotMatch(fs.readFileSync(l.socket, 'utf8'), /7420|@PORT@/);

  const l0 = await setup(t);
  fs.mkdirSync(path.join(l0.config, 'tether'), { recursive: true });
  fs.writeFileSync(path.join(l0.config, 'tether', 'tetherd.json'), '{"port": 0}\n');
  const r0 = await service(l0, ['install', '--init', 'systemd']);
  assert.equal(r0.code, 1);
  assert.match(r0.stderr, /port setting is 0/);
  assert.equal(listing(l0.unitDir), null, 'nothing written');
});

test('install: a foreign tetherd.socket stops the install before tetherd.service is written (no half install)', { timeout: 30000 }, async (t) => {
  const l = await setup(t);
  fs.mkdirSync(l.unitDir, { recursive: true });
  fs.writeFileSync(l.socket, '[Socket]\nListenStream=127.0.0.1:9\n');
  const r = await service(l, ['install', '--init', 'systemd']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tetherd\.socket exists and was not written by tether/);
  assert.deepEqual(listing(l.unitDir), ['tetherd.socket'], 'tetherd.service not written');
  assert.deepEqual(l.fake.read().filter((c) => !c.startsWith('loginctl show-user')), [], 'nothing run');
});
