// The deployment e2e suite: builds, then runs the Dockerfile CMDs against the test Postgres and Redis.
const { e2eConfig } = require('../../test/jest.shared');

module.exports = { ...e2eConfig('deploy'), rootDir: '../..' };
