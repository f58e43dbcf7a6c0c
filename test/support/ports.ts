export { freePort } from '../../tools/stack';
