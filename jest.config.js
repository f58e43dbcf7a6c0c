// Unit tests: *.spec.ts beside the code. E2E suites have their own configs in apps/*/test and libs/*/test.
const { swcTransform, moduleNameMapper } = require('./test/jest.shared');

module.exports = {
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/scripts', '<rootDir>/load-tests', '<rootDir>/bench', '<rootDir>/deploy', '<rootDir>/tools', '<rootDir>/clients'],
  testRegex: '.*\\.spec\\.ts$',
  transform: {
    ...swcTransform,
    // The k6 scripts are ES modules for k6; SWC turns them into CommonJS so their pure logic can be tested.
    '^.+/load-tests/k6/.+\\.js$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleNameMapper: {
    ...moduleNameMapper,
    // k6's built-in modules do not exist in Node: the k6 script tests run against a recording stub.
    '^k6(/.*)?$': '<rootDir>/load-tests/test/k6-stub.ts',
  },
  testEnvironment: 'node',
};
