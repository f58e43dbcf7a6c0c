// Bare baseline for `npm run bench` (c): the cheapest possible liveness answer, node:http and a constant.
const http = require('node:http');

const body = JSON.stringify({ status: 'ok' });
const server = http.createServer((req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
server.keepAliveTimeout = 65000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(Number(process.env.PORT), '127.0.0.1');
