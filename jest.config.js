// Unit tests (*.spec.ts) need nothing running; integration tests (*.int-spec.ts) talk to the
// real Kafka, PostgreSQL (through PgBouncer) and Redis started by `native/infra.sh up`; Swarm
// tests (*.swarm-spec.ts) talk to the stack `npm run swarm -- up` deployed, on its published ports.
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];
const moduleNameMapper = { '^@trading/(.*)$': '<rootDir>/libs/$1/src/index.ts' };
const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': swc },
  moduleNameMapper,
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/scripts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['**/*.int-spec.ts'],
      setupFiles: ['<rootDir>/scripts/jest/load-native-env.js'],
      // Every /v1 answer the suites receive is validated against the gateway's OpenAPI document.
      setupFilesAfterEnv: ['<rootDir>/scripts/jest/openapi-responses.ts'],
      slowTestThreshold: 30,
      // ccxt's CommonJS build requires @noble and @scure, which ship ES modules only: compiled
      // to CommonJS like the sources (Jest cannot require an ES module on Node 20).
      transformIgnorePatterns: ['/node_modules/(?!(@noble|@scure)/)'],
    },
    { ...common, displayName: 'swarm', testMatch: ['**/*.swarm-spec.ts'], slowTestThreshold: 120 },
  ],
};
