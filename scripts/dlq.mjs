#!/usr/bin/env node
// npm run dlq -- list|show|replay|purge <service> [id|--all]
// Talks to the service's admin API: <SERVICE>_URL (default http://127.0.0.1:<default port>)
// with ADMIN_TOKEN from the environment, or from .data/admin-token as `npm start` writes it.
import { existsSync, readFileSync } from 'node:fs';

const ports = { order: 3000, payment: 3001, inventory: 3002, analytics: 3003, notification: 3005 };
const [command, service, target] = process.argv.slice(2);
const usage = 'usage: npm run dlq -- list|show|replay|purge <order|payment|inventory|notification|analytics> [id|--all]';

function die(message) {
  console.error(message);
  process.exit(2);
}

if (!['list', 'show', 'replay', 'purge'].includes(command) || !(service in ports)) die(usage);
if (['show', 'replay', 'purge'].includes(command) && !target) die(`${command} needs an id${command === 'show' ? '' : ' or --all'}\n${usage}`);
if (command === 'show' && target === '--all') die('show takes one id');

const base = process.env[`${service.toUpperCase()}_URL`] ?? `http://127.0.0.1:${process.env[`${service.toUpperCase()}_PORT`] ?? ports[service]}`;
const token = process.env.ADMIN_TOKEN || (existsSync('.data/admin-token') ? readFileSync('.data/admin-token', 'utf8').trim() : '');
if (!token) die('set ADMIN_TOKEN (or run from the directory where npm start keeps .data/admin-token)');

const all = target === '--all';
const path = '/api/admin/dead-letters' + (target && !all ? `/${encodeURIComponent(target)}` : '');
const request = {
  list: ['GET', path],
  show: ['GET', path],
  replay: ['POST', `${path}/replay`],
  purge: ['DELETE', path],
}[command];

async function call(method, url) {
  const res = await fetch(base + url, { method, headers: { authorization: `Bearer ${token}` } }).catch((e) =>
    die(`cannot reach ${service} at ${base}: ${e.message}`),
  );
  const body = await res.json().catch(() => ({}));
  if (!res.ok) die(`${res.status} ${body.title ?? ''}: ${body.detail ?? JSON.stringify(body)}`);
  return body;
}

if (command === 'list') {
  // The list is paged: follow the cursors to the end.
  let cursor = null;
  let count = 0;
  let queue;
  do {
    const body = await call('GET', `${path}?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    queue = body.queue;
    count += body.count;
    for (const d of body.items) {
      // Analytics' dead letters are Kafka records, perhaps unreadable: their headers name them.
      const m = typeof d.message === 'object' && d.message ? d.message : {};
      const type = m.type ?? d.headers['message-type'] ?? '?';
      console.log(`${d.id}  ${d.deadLetteredAt}  ${type}  key=${m.key ?? d.headers['kafka-key'] ?? '?'}  attempts=${d.failure.attempts}  ${d.failure.error}`);
    }
    cursor = body.nextCursor;
  } while (cursor);
  console.log(`${queue}: ${count} dead-lettered message(s)`);
  process.exit(0);
}
const body = await call(request[0], request[1]);
if (command === 'show') {
  console.log(JSON.stringify(body, null, 2));
} else {
  console.log(JSON.stringify(body));
}
