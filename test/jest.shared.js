// Shared by every jest config: SWC compiles TypeScript (with decorator metadata, which Nest's DI,
// class-validator and TypeORM need); the @app/* aliases mirror tsconfig paths.
const swcTransform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
      sourceMaps: 'inline',
    },
  ],
};

const moduleNameMapper = {
  '^@app/db(|/.*)$': '<rootDir>/libs/db/src$1',
  '^@app/platform(|/.*)$': '<rootDir>/libs/platform/src$1',
  '^@agent-platform/client$': '<rootDir>/clients/typescript/src',
};

/** Config for one app's (or library's) e2e suite: real Postgres and Redis, migrations applied once per run. */
function e2eConfig(dir) {
  return {
    displayName: `${dir} e2e`,
    rootDir: '../../..',
    roots: [`<rootDir>/${dir}/test`],
    testRegex: '.*\\.e2e-spec\\.ts$',
    transform: swcTransform,
    moduleNameMapper,
    testEnvironment: 'node',
    globalSetup: '<rootDir>/test/support/global-setup.ts',
    testTimeout: 30000,
  };
}

module.exports = { swcTransform, moduleNameMapper, e2eConfig };
