/**
 * `wrangler dev` without the DevTools inspector, for the benchmark: the same dev engine (wrangler's
 * `unstable_startWorker`: its local proxy worker in front of workerd running `worker/main.ts` with the
 * bindings of wrangler.toml), minus the inspector server that the `wrangler dev` command always starts.
 * With the inspector on, workerd reports every subrequest and console line to it, which costs about 3 ms
 * per proxied inference on loopback; the deployed Worker has no inspector. `startEdge({ inspector: false })` (edge-process.ts)
 * runs this file as its child; it takes the subset of `wrangler dev`'s flags that startEdge passes.
 *
 *   tsx stack/edge-runtime.ts --config wrangler.toml --ip 127.0.0.1 --port N --persist-to DIR --env-file FILE [--log-level warn]
 */
import { parseArgs } from 'node:util';
import { unstable_startWorker } from 'wrangler';

type LogLevel = 'debug' | 'info' | 'log' | 'warn' | 'error' | 'none';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      ip: { type: 'string' },
      port: { type: 'string' },
      'persist-to': { type: 'string' },
      'env-file': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const port = Number(values.port);
  if (!values.config || !values.ip || !Number.isInteger(port) || port <= 0 || !values['persist-to'] || !values['env-file']) {
    throw new Error('--config, --ip, --port, --persist-to and --env-file are required');
  }
  const worker = await unstable_startWorker({
    config: values.config,
    envFiles: [values['env-file']],
    dev: {
      server: { hostname: values.ip, port },
      inspector: false,
      persist: values['persist-to'],
      logLevel: (values['log-level'] ?? 'log') as LogLevel,
      watch: false,
      remote: false,
    },
  });
  await worker.ready;
  process.stderr.write(`wrangler dev engine (no inspector) ready on http://${values.ip}:${port}\n`);
  const stop = () => void worker.dispose().finally(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`dev-runtime: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
