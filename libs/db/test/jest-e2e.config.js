module.exports = require('../../../test/jest.shared').e2eConfig('libs/db');
