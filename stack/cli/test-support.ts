/** Test support for the `tandem` commands: the CLI run in process, with what it prints captured. */
import { vi } from 'vitest';
import { tandem as runTandem } from './run.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `tandem ...args` in this process; stdout and stderr are captured (not printed) and process.exitCode restored. */
export async function tandemCli(...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    process.exitCode = undefined;
    return { code: await runTandem(args), out, err };
  } finally {
    process.exitCode = undefined;
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
