// The load-test runner's e2e suite; e2eConfig assumes apps/<name>/test, this folder is one level higher.
module.exports = { ...require('../../test/jest.shared').e2eConfig('load-tests'), rootDir: '../..' };
