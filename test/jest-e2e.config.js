// Every e2e suite in one run (`npm run test:e2e`), in band: they share one test database.
module.exports = {
  rootDir: '..',
  // Project configs cannot set this (jest reads it from the top-level config only).
  testTimeout: 30000,
  projects: [
    '<rootDir>/libs/db/test/jest-e2e.config.js',
    '<rootDir>/apps/orchestrator/test/jest-e2e.config.js',
    '<rootDir>/apps/agent-worker/test/jest-e2e.config.js',
    '<rootDir>/apps/llm-sim/test/jest-e2e.config.js',
    '<rootDir>/clients/typescript/test/jest-e2e.config.js',
    '<rootDir>/load-tests/test/jest-e2e.config.js',
    '<rootDir>/deploy/test/jest-e2e.config.js',
  ],
};
