import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The fixtures are ignored by the normal lint run; here they are linted on purpose and must fail.
// ESLint runs as its own process (once, for every fixture): its flat config is ESM, which Jest's
// VM does not load.
const FIXTURES = {
  matching: 'libs/matching-engine/lint-fixtures/forbidden-imports.ts',
  risk: 'libs/risk-engine/lint-fixtures/forbidden-imports.ts',
};

type Message = { ruleId: string; line: number; message: string };

describe('module boundaries', () => {
  jest.setTimeout(120_000);
  const boundaryErrors = new Map<string, Message[]>();

  beforeAll(() => {
    const root = join(__dirname, '..');
    const run = spawnSync(
      join(root, 'node_modules/.bin/eslint'),
      ['--no-ignore', '--format', 'json', ...Object.values(FIXTURES)],
      { cwd: root, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    for (const r of JSON.parse(run.stdout) as { filePath: string; messages: Message[] }[])
      boundaryErrors.set(
        r.filePath.slice(root.length + 1),
        r.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries'),
      );
  });

  it('refuse kafka, db and NestJS imports from the matching engine', () => {
    const errors = boundaryErrors.get(FIXTURES.matching)!;
    expect(errors.map((m) => m.line).sort()).toEqual([3, 4, 5, 6]);
    expect(errors.map((m) => m.message).join('\n')).toMatch(/type:domain.*kafkajs/);
  });

  it('refuse kafkajs, ioredis, SQL clients, NestJS and other projects from the risk engine', () => {
    const errors = boundaryErrors.get(FIXTURES.risk)!;
    expect(errors.map((m) => m.line).sort()).toEqual([3, 4, 5, 6, 7, 8, 9]);
    const messages = errors.map((m) => m.message).join('\n');
    for (const banned of ['kafkajs', 'ioredis', 'pg', 'typeorm', '@nestjs/common'])
      expect(messages).toContain(`type:domain" is not allowed to import "${banned}"`);
  });
});
