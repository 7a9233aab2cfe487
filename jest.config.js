// One jest project per test suffix (see docs/testing in README): unit, int, e2e.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@app/(contracts|messaging|persistence|platform)$': '<rootDir>/libs/$1/src',
    '^@app/(contracts|messaging|persistence|platform)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'],
  setupFiles: ['<rootDir>/test/support/jest.setup.ts'],
};
module.exports = {
  // Once per run: a run id for every test resource, and the cleanup of what tests left behind.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  transform: { '^.+\\.ts$': swc },
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['**/*.unit.spec.ts'] },
    { ...shared, displayName: 'int', testMatch: ['**/*.int.spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/support/timeout-60s.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['**/test/**/*.e2e.spec.ts'], setupFilesAfterEnv: ['<rootDir>/test/support/timeout-120s.ts'] },
  ],
};
