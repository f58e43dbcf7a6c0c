// Shared by every jest config: SWC compiles TypeScript (with decorator metadata, which Nest's DI,
// class-validator and TypeORM need); the @app/* aliases mirror tsconfig paths.
const swcTransform = {
  '^.+\\.(ts|js)$': [
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

// content-disposition 3 (pulled in by @fastify/static for Swagger UI) ships ESM only; Node 20.19
// requires it natively but jest cannot, so jest compiles that one package to CommonJS.
const transformIgnorePatterns = ['/node_modules/(?!content-disposition/)'];

const moduleNameMapper = {
  '^@app/db(|/.*)$': '<rootDir>/libs/db/src$1',
  '^@app/platform(|/.*)$': '<rootDir>/libs/platform/src$1',
};

/** Config for one app's (or library's) e2e suite: real Postgres and Redis, migrations applied once per run. */
function e2eConfig(dir) {
  return {
    displayName: `${dir} e2e`,
    rootDir: '../../..',
    roots: [`<rootDir>/${dir}/test`],
    testRegex: '.*\\.e2e-spec\\.ts$',
    transform: swcTransform,
    transformIgnorePatterns,
    moduleNameMapper,
    testEnvironment: 'node',
    globalSetup: '<rootDir>/test/support/global-setup.ts',
    testTimeout: 30000,
  };
}

module.exports = { swcTransform, transformIgnorePatterns, moduleNameMapper, e2eConfig };
