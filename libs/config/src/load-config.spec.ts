import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, loadConfig } from './load-config';
import { baseSchema, databaseSchema, kafkaSchema } from './schemas';

const schema = baseSchema.extend(databaseSchema.shape).extend(kafkaSchema.shape);
const goodEnv = {
  HTTP_PORT: '8080',
  DATABASE_HOST: '127.0.0.1',
  DATABASE_PORT: '16432',
  DATABASE_NAME: 'exchange',
  DATABASE_USER: 'exchange',
  DATABASE_PASSWORD: 's3cret',
  KAFKA_BROKERS: 'a:9092, b:9092',
};

describe('loadConfig', () => {
  it('parses a complete environment with defaults and coercion', () => {
    const cfg = loadConfig(schema, goodEnv);
    expect(cfg.HTTP_PORT).toBe(8080);
    expect(cfg.KAFKA_BROKERS).toEqual(['a:9092', 'b:9092']);
    expect(cfg.LOG_LEVEL).toBe('info');
    expect(cfg.KAFKA_PARTITIONS).toBe(12);
    // No replica unless named: every read on the primary.
    expect(cfg.DATABASE_REPLICA_NAME).toBeUndefined();
    expect(cfg.DATABASE_REPLICA_MAX_LAG_MS).toBe(2000);
  });

  it('refuses a replica lag bound that is not a positive integer', () => {
    expect(() => loadConfig(schema, { ...goodEnv, DATABASE_REPLICA_MAX_LAG_MS: '1.5s' })).toThrow(
      /DATABASE_REPLICA_MAX_LAG_MS/,
    );
  });

  it('names every bad key at once and never echoes a secret', () => {
    const env = { ...goodEnv, HTTP_PORT: 'eighty', DATABASE_NAME: undefined, KAFKA_BROKERS: '' };
    let error: unknown;
    try {
      loadConfig(schema, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join('\n');
    expect(issues).toContain('HTTP_PORT');
    expect(issues).toContain('DATABASE_NAME');
    expect(issues).toContain('KAFKA_BROKERS');
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('reads a secret from its *_FILE path, trimming the trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'db_password');
    writeFileSync(file, 'from-file\n');
    const cfg = loadConfig(schema, {
      ...goodEnv,
      DATABASE_PASSWORD: undefined,
      DATABASE_PASSWORD_FILE: file,
    });
    expect(cfg.DATABASE_PASSWORD).toBe('from-file');
  });

  it('reads any key from *_FILE, not only passwords', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'brokers');
    writeFileSync(file, 'k1:9092,k2:9092');
    const cfg = loadConfig(schema, { ...goodEnv, KAFKA_BROKERS: undefined, KAFKA_BROKERS_FILE: file });
    expect(cfg.KAFKA_BROKERS).toEqual(['k1:9092', 'k2:9092']);
  });

  it('rejects a key set both directly and through *_FILE', () => {
    expect(() => loadConfig(schema, { ...goodEnv, DATABASE_PASSWORD_FILE: '/run/secrets/x' })).toThrow(
      /DATABASE_PASSWORD: set either DATABASE_PASSWORD or DATABASE_PASSWORD_FILE/,
    );
  });

  it('reports an unreadable *_FILE by key and path', () => {
    expect(() => loadConfig(z.object({ TOKEN: z.string() }), { TOKEN_FILE: '/nonexistent/token' })).toThrow(
      /TOKEN_FILE: cannot read \/nonexistent\/token \(ENOENT\)/,
    );
  });
});
