// Unit tests: *.spec.ts beside the code. E2E suites have their own configs in apps/*/test and libs/*/test.
const { swcTransform, moduleNameMapper } = require('./test/jest.shared');

module.exports = {
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/scripts', '<rootDir>/deploy'],
  testRegex: '.*\\.spec\\.ts$',
  transform: swcTransform,
  moduleNameMapper,
  testEnvironment: 'node',
};
