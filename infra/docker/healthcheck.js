// The image's HEALTHCHECK: GET /health/live on this service's own port. The slim Node image
// has no curl or wget, and node is already there. Exit 0 = healthy, 1 = unhealthy.
'use strict';
const http = require('node:http');

// The same defaults as each service's config.ts; <SERVICE>_PORT overrides, as it does there.
const DEFAULT_PORTS = { order: 3000, payment: 3001, inventory: 3002, analytics: 3003, console: 3004, notification: 3005 };
const service = process.env.SERVICE || '';
const port = Number(process.env[`${service.toUpperCase()}_PORT`] || DEFAULT_PORTS[service]);

if (!Number.isInteger(port) || port <= 0) {
  console.error(`healthcheck: no port for SERVICE="${service}"`);
  process.exit(1);
}

const request = http.get({ host: '127.0.0.1', port, path: '/health/live', timeout: 3000 }, (response) => {
  response.resume();
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out after 3 s')));
request.on('error', (error) => {
  console.error(`healthcheck: ${error.message}`);
  process.exit(1);
});
