import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// Which projects may import what (tags in each project.json).
const depConstraints = [
  // The engines (matching, risk) are pure state machines: no framework, no I/O, no other project
  // but the contracts (the one vocabulary: statuses, reject codes, order-type predicates, market
  // rules), which are plain data and functions themselves.
  {
    sourceTag: 'type:domain',
    onlyDependOnLibsWithTags: ['type:contracts'],
    bannedExternalImports: [
      '@nestjs/*',
      'kafkajs',
      'ioredis',
      'pg',
      'typeorm',
      'prom-client',
      'pino',
      'fastify',
      'fs',
      'node:*',
      'net',
      'http',
      'child_process',
    ],
  },
  {
    sourceTag: 'type:contracts',
    onlyDependOnLibsWithTags: [],
    bannedExternalImports: ['@nestjs/*', 'kafkajs', 'ioredis', 'pg', 'typeorm', 'prom-client'],
  },
  { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:contracts', 'type:infra'] },
  {
    sourceTag: 'type:service',
    onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:infra'],
  },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  // The load driver observes the platform from outside (HTTP, Kafka, SQL, the built dist/ for the
  // reconciliation); of the libraries it shares only the vocabulary (statuses, topics).
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:contracts'] },
];

// A domain lib's specs may bring the other domain libs in: the risk engine's property suite runs
// the real matching engine. Its sources still may not (libs/risk-engine/lint-fixtures).
const specDepConstraints = depConstraints.map((c) =>
  c.sourceTag === 'type:domain' ? { ...c, onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'] } : c,
);
const boundaries = (constraints) => [
  'error',
  { enforceBuildableLibDependency: false, allow: [], depConstraints: constraints },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/tmp/**',
      'native/.run/**',
      'native/.cache/**',
      'loadtest/reports/**',
      '**/lint-fixtures/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@nx/enforce-module-boundaries': boundaries(depConstraints),
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['libs/*/src/**/*.spec.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(specDepConstraints) },
  },
  prettier,
);
