// A target that does no work: GET answers {"status":"ok"}, POST answers 202 with a fresh task id.
// `npm run bench` (c) measures GET /health/live on it (the cheapest possible liveness answer), and
// the load-test runner plays each scenario against it to measure the load generator's own floor.
const http = require('node:http');
const { randomUUID } = require('node:crypto');

const ok = JSON.stringify({ status: 'ok' });
const server = http.createServer((req, res) => {
  req.resume();
  const body = req.method === 'POST' ? JSON.stringify({ id: randomUUID(), status: 'queued' }) : ok;
  res.writeHead(req.method === 'POST' ? 202 : 200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
server.keepAliveTimeout = 65000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(Number(process.env.PORT), '127.0.0.1');
