/** Two projects: unit tests sit next to the code; integration and end-to-end suites live in tests/. */
const tsJest = ['ts-jest', { isolatedModules: true, diagnostics: false }];
// The workspace packages' `main` is their build (dist/); tests run the sources.
const moduleNameMapper = { '^@postbox/([a-z0-9-]+)$': '<rootDir>/libs/$1/src/index.ts' };

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: [
        '<rootDir>/libs/*/src/**/*.test.ts',
        '<rootDir>/services/*/src/**/*.test.ts',
        '<rootDir>/tools/**/*.test.ts',
      ],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testMatch: ['<rootDir>/tests/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/support/global-setup.ts',
      globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/tests/support/timeout.ts'],
    },
  ],
};
