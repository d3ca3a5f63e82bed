import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The fixture is ignored by the normal lint run; here it is linted on purpose and must fail.
// ESLint runs as its own process: its flat config is ESM, which Jest's VM does not load.
describe('module boundaries', () => {
  jest.setTimeout(120_000);

  it('refuse kafka, db and NestJS imports from the matching engine', () => {
    const root = join(__dirname, '..');
    const run = spawnSync(
      join(root, 'node_modules/.bin/eslint'),
      ['--no-ignore', '--format', 'json', 'libs/matching-engine/lint-fixtures/forbidden-imports.ts'],
      { cwd: root, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    const [result] = JSON.parse(run.stdout) as {
      messages: { ruleId: string; line: number; message: string }[];
    }[];
    const boundaryErrors = result.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries');
    expect(boundaryErrors.map((m) => m.line).sort()).toEqual([3, 4, 5, 6]);
    expect(boundaryErrors.map((m) => m.message).join('\n')).toMatch(/type:domain.*kafkajs/);
  });
});
