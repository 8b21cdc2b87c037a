/**
 * `tandem`: the developer CLI. Each subcommand lives in its own module; this file only wires them to
 * commander and turns thrown errors into one readable line and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { toTandemError } from '../../protocol/errors.ts';
import { registerBuildModels } from './build-models.ts';
import { registerImport } from './import.ts';
import { registerPublish } from './publish.ts';
import { registerKeygen } from './keygen.ts';
import { registerSign } from './sign.ts';
import { registerStart } from './start.ts';
import { registerVerify } from './verify.ts';

export function createProgram(): Command {
  const program = new Command('tandem')
    .description('Tandem: edge and in-browser inference with origin fallback')
    .showHelpAfterError()
    .exitOverride();
  registerKeygen(program);
  registerSign(program);
  registerVerify(program);
  registerBuildModels(program);
  registerImport(program);
  registerPublish(program);
  registerStart(program);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const error = toTandemError(err);
    process.stderr.write(`tandem: ${error.code}: ${error.message}\n`);
    return 1;
  }
}
