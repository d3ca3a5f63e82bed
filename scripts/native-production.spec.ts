import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The native production install (native/production/): every systemd unit passes
// `systemd-analyze verify` with no finding at all (verify-units.sh installs Debian's systemd
// package when systemd-analyze is missing; systemd need not run), the services' units carry the
// supervision and hardening settings, and install.sh / uninstall.sh are idempotent (run into a
// scratch root with --root, as systemctl --root and systemd-sysusers --root allow).
const root = join(__dirname, '..');
const prod = join(root, 'native/production');
const unitDir = join(prod, 'systemd');
const SERVICE_UNITS = [
  'trading-api-gateway.service',
  'trading-order-router.service',
  'trading-market-data.service',
  'trading-matching-worker@.service',
];

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** key -> every value it is given in the unit (comments and section headers skipped). */
function parseUnit(file: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!m) continue;
    keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2]]);
  }
  return keys;
}

function one(unit: Map<string, string[]>, key: string): string | undefined {
  const v = unit.get(key);
  return v?.[v.length - 1];
}

/** Files and symlinks under dir, each with its content or link target. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else
        out[p.slice(dir.length)] = lstatSync(p).isSymbolicLink()
          ? `-> ${readlinkSync(p)}`
          : readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe('native production units (native/production)', () => {
  jest.setTimeout(180_000);

  it('passes systemd-analyze verify on every unit with no finding', () => {
    const units = readdirSync(unitDir);
    expect(units.length).toBeGreaterThanOrEqual(8);
    const r = run('bash', [join(prod, 'verify-units.sh')]);
    if (r.code !== 0) throw new Error(r.out);
    expect(r.out).toContain(`${units.length} units clean`);
  });

  it('fails the verification of a malformed unit (unknown key, bad value, missing ExecStart binary)', () => {
    for (const [file, from, to] of [
      ['trading-api-gateway.service', 'Restart=always', 'Restart=always\nRestartSteps=5'],
      ['trading-matching-worker@.service', 'NoNewPrivileges=yes', 'NoNewPrivileges=perhaps'],
      ['trading-kafka.service', 'ExecStart=/usr/bin/java', 'ExecStart=/usr/bin/no-such-java'],
    ]) {
      const dir = mkdtempSync(join(tmpdir(), 'units-'));
      try {
        cpSync(unitDir, dir, { recursive: true });
        const text = readFileSync(join(dir, file), 'utf8');
        expect(text).toContain(from);
        writeFileSync(join(dir, file), text.replace(from, to));
        const r = run('bash', [join(prod, 'verify-units.sh'), dir]);
        expect(r.code).not.toBe(0);
        expect(r.out).toContain(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it.each(SERVICE_UNITS)('%s: supervision, an unprivileged user, hardening, limits', (name) => {
    const u = parseUnit(join(unitDir, name));
    // Supervision: always restarted, after a pause; a crash loop is revived later, never given up.
    expect(one(u, 'Restart')).toBe('always');
    expect(one(u, 'RestartSec')).toMatch(/^\d+s$/);
    expect(Number(one(u, 'StartLimitIntervalSec'))).toBeGreaterThan(0);
    expect(Number(one(u, 'StartLimitBurst'))).toBeGreaterThan(1);
    expect(one(u, 'OnFailure')).toBe('trading-revive@%n.service');
    // Identity and hardening.
    expect(one(u, 'User')).toBe('trading');
    expect(one(u, 'Group')).toBe('trading');
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['ProtectKernelTunables', 'yes'],
      ['ProtectKernelModules', 'yes'],
      ['ProtectControlGroups', 'yes'],
      ['RestrictSUIDSGID', 'yes'],
      ['RestrictNamespaces', 'yes'],
      ['LockPersonality', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['SystemCallFilter', '@system-service'],
      ['UMask', '0077'],
    ]) {
      expect([key, one(u, key)]).toEqual([key, value]);
    }
    // The services write nothing on disk: no exception to ProtectSystem=strict.
    expect(u.has('ReadWritePaths')).toBe(false);
    expect(Number(one(u, 'LimitNOFILE'))).toBeGreaterThanOrEqual(16384);
    expect(one(u, 'MemoryMax')).toMatch(/^\d+[MG]$/);
    // Configuration from files; bind address and port from the per-service file.
    expect(u.get('EnvironmentFile')).toEqual(
      expect.arrayContaining([
        '/etc/trading/trading.env',
        expect.stringMatching(/^\/etc\/trading\/[a-z-]+\.env$/),
      ]),
    );
  });

  it.each(SERVICE_UNITS)('%s: the Dockerfile CMD node flags, secrets as credentials only', (name) => {
    const u = parseUnit(join(unitDir, name));
    const cmd = /^CMD \[(.*)\]$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1] ?? '';
    const flags = [...cmd.matchAll(/"(--[^"]+)"/g)].map((m) => m[1]);
    expect(flags).toContain('--max-semi-space-size=32');
    const exec = one(u, 'ExecStart') ?? '';
    // The release's own runtime (install.sh copies the pinned Node.js into each release).
    expect(exec.startsWith(`/opt/trading/current/node/bin/node ${flags.join(' ')} dist/services/`)).toBe(
      true,
    );
    // Every *_FILE points into the credentials directory, loaded from the root-only secrets dir.
    const creds = new Map(
      (u.get('LoadCredential') ?? []).map((c) => [c.slice(0, c.indexOf(':')), c.slice(c.indexOf(':') + 1)]),
    );
    const fileVars = (u.get('Environment') ?? []).filter((e) => /^[A-Z_]+_FILE=/.test(e));
    expect(fileVars).toContain('DATABASE_PASSWORD_FILE=%d/pg_password');
    for (const e of fileVars) {
      const cred = /=%d\/([a-z_]+)$/.exec(e)?.[1];
      expect(cred).toBeDefined();
      expect(creds.get(cred!)).toBe(`/etc/trading/secrets/${cred}`);
    }
    expect(readFileSync(join(unitDir, name), 'utf8')).not.toMatch(/PASSWORD=|TOKEN=|KEY=/);
  });

  it('sysctl and journald files set what docs/operations.md promises', () => {
    const sysctl = readFileSync(join(prod, 'config/sysctl.conf'), 'utf8');
    const value = (k: string) => new RegExp(`^${k.replace(/\./g, '\\.')} = (.+)$`, 'm').exec(sysctl)?.[1];
    expect(Number(value('net.core.somaxconn'))).toBeGreaterThanOrEqual(4096);
    expect(Number(value('net.ipv4.tcp_max_syn_backlog'))).toBeGreaterThanOrEqual(4096);
    expect(value('net.ipv4.ip_local_port_range')).toBe('10240 65535');
    // Below the shortest idle timeout of a common balancer (Azure's 4 min).
    expect(Number(value('net.ipv4.tcp_keepalive_time'))).toBeLessThan(240);
    const journald = readFileSync(join(prod, 'config/journald.conf'), 'utf8');
    expect(journald).toMatch(/^MaxRetentionSec=14day$/m);
    expect(journald).toMatch(/^SystemMaxUse=\d+G$/m);
  });

  it('install.sh --root is idempotent, follows --workers, and uninstall.sh removes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trading-root-'));
    try {
      const install = (...args: string[]) => {
        const r = run('bash', [join(prod, 'install.sh'), '--root', dir, ...args]);
        if (r.code !== 0) throw new Error(r.out);
        return r.out;
      };
      install();
      const first = snapshot(dir);
      const wants = join(dir, 'etc/systemd/system/trading.target.wants');
      expect(readdirSync(wants).sort()).toEqual([
        'trading-api-gateway.service',
        'trading-kafka.service',
        'trading-market-data.service',
        'trading-matching-worker@0.service',
        'trading-matching-worker@1.service',
        'trading-matching-worker@2.service',
        'trading-order-router.service',
      ]);
      expect(readlinkSync(join(dir, 'etc/systemd/system/multi-user.target.wants/trading.target'))).toBe(
        '/etc/systemd/system/trading.target',
      );
      expect(lstatSync(join(dir, 'etc/trading/secrets')).mode & 0o777).toBe(0o700);
      expect(lstatSync(join(dir, 'etc/trading/secrets/pg_password')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'etc/passwd'), 'utf8')).toMatch(
        /^trading:x:\d+:\d+:.*:\/usr\/sbin\/nologin$/m,
      );

      install(); // a second run changes nothing
      expect(snapshot(dir)).toEqual(first);

      install('--workers', '1');
      expect(readdirSync(wants).filter((f) => f.startsWith('trading-matching-worker@'))).toEqual([
        'trading-matching-worker@0.service',
      ]);

      for (let i = 0; i < 2; i++) {
        const r = run('bash', [join(prod, 'uninstall.sh'), '--root', dir]);
        if (r.code !== 0) throw new Error(r.out);
      }
      expect(readdirSync(join(dir, 'etc/systemd/system')).filter((f) => f.includes('trading'))).toEqual([]);
      expect(existsSync(join(dir, 'etc/sysctl.d/60-trading.conf'))).toBe(false);
      expect(existsSync(join(dir, 'etc/trading/secrets/pg_password'))).toBe(true); // kept without --purge
      const purge = run('bash', [join(prod, 'uninstall.sh'), '--root', dir, '--purge']);
      if (purge.code !== 0) throw new Error(purge.out);
      expect(existsSync(join(dir, 'etc/trading'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
