module.exports = require('../../../test/jest.shared').e2eConfig('clients/typescript');
