// k6 run -e SCENARIO=<name> load-tests/k6/run.js  (env: SCENARIO, TARGET, API_KEYS, PERSONA, OUT_DIR); see
// load-tests/README.md. One script for every scenario: open() runs in the init context, where __ENV is set.
import { makeScript } from './lib/script.js';

if (!__ENV.SCENARIO) throw new Error('-e SCENARIO=<name> picks a file of load-tests/scenarios');
const script = makeScript(JSON.parse(open(`../scenarios/${__ENV.SCENARIO}.json`)));
export const options = script.options;
export const setup = script.setup;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
export default script.run;
