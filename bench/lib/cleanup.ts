/**
 * Cleanup that runs on every way out of a benchmark: normal end, a thrown error, Ctrl-C or SIGTERM. A run
 * leaves servers as child processes and a model repository in a temporary folder; neither may outlive it.
 * Handlers are synchronous (kill, rmSync) because `exit` handlers cannot wait.
 */

const handlers = new Set<() => void>();
let installed = false;

/** Registers `handler` to run once at exit; returns a function that unregisters it (after a normal cleanup). */
export function onExit(handler: () => void): () => void {
  install();
  handlers.add(handler);
  return () => void handlers.delete(handler);
}

function runAll(): void {
  for (const handler of [...handlers]) {
    handlers.delete(handler);
    try {
      handler();
    } catch {
      // Best effort: one failing cleanup must not keep the others from running.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping servers and cleaning up\n`);
      runAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}
