// llm-sim needs neither Postgres nor Redis: no global setup.
const { e2eConfig } = require('../../../test/jest.shared');

const config = e2eConfig('apps/llm-sim');
delete config.globalSetup;
module.exports = config;
