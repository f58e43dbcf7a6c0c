// Unit tests: *.spec.ts beside the code. E2E suites have their own configs in apps/*/test.
const { swcTransform, transformIgnorePatterns, moduleNameMapper } = require('./test/jest.shared');

module.exports = {
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/scripts'],
  testRegex: '.*\\.spec\\.ts$',
  transform: swcTransform,
  transformIgnorePatterns,
  moduleNameMapper,
  testEnvironment: 'node',
};
