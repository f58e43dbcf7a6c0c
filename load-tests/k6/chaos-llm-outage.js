// k6 run load-tests/k6/chaos-llm-outage.js  (env: TARGET, API_KEYS, PERSONA, OUT_DIR); see load-tests/README.md.
import { makeScript } from './lib/script.js';

const script = makeScript(JSON.parse(open('../scenarios/chaos-llm-outage.json')));
export const options = script.options;
export const setup = script.setup;
export const teardown = script.teardown;
export const handleSummary = script.handleSummary;
export default script.run;
