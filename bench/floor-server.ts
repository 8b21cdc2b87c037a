/**
 * `node --import tsx bench/floor-server.ts --port 0`: serves the HTTP floor (`lib/floor-app.ts`) on
 * 127.0.0.1 and announces itself as the origin does, with a JSON line `{"event":"listening","url":...}` on
 * stdout, so the benchmark starts both the same way. Exits on SIGTERM or SIGINT.
 */
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createFloorApp } from './lib/floor-app.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const app = createFloorApp();
const server = serve({ fetch: app.fetch, hostname: values.host, port: Number(values.port) }, (info: AddressInfo) => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: `http://${values.host}:${info.port}` })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
