/**
 * Runs one `tandem` subcommand: loads its module, lets it define itself on the program, parses, and
 * turns what it throws into one line with a stable code and an exit status. A user's mistake (a missing
 * file, a bad flag, invalid JSON) gets a user-facing code, never `internal`.
 */
import { CommanderError, type Command } from 'commander';
import { TandemError, toTandemError, type ErrorCode } from '../../protocol/errors.ts';
import { createProgram, findCommand } from './commands.mjs';

export interface CommandModule {
  register(program: Command): void;
}

export async function runCommand(program: Command, modulePath: string, argv: string[]): Promise<number> {
  const module = (await import(modulePath)) as CommandModule;
  module.register(program);
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const error = userFacingError(err);
    process.stderr.write(`tandem: ${error.code}: ${error.message}\n`);
    return error.code === 'internal' ? 70 : 1;
  }
}

/** `tandem ...argv` in process (argv without node and script): what the bin does, for tests. */
export async function tandem(args: string[]): Promise<number> {
  const argv = ['node', 'tandem', ...args];
  const command = findCommand(args[0]);
  if (command === undefined) {
    try {
      await createProgram().parseAsync(argv);
      return 0;
    } catch (err) {
      return err instanceof CommanderError ? err.exitCode : 1;
    }
  }
  return runCommand(createProgram(), command.module, argv);
}

/** File-system errors of the user's paths, as codes a user can act on. */
const FILE_ERRORS: Record<string, [ErrorCode, string]> = {
  ENOENT: ['not_found', 'no such file or directory'],
  ENOTDIR: ['bad_request', 'not a directory'],
  EISDIR: ['bad_request', 'is a directory, not a file'],
  EACCES: ['forbidden', 'permission denied'],
  EPERM: ['forbidden', 'permission denied'],
  EEXIST: ['bad_request', 'already exists'],
};

export function userFacingError(err: unknown): TandemError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const path = (err as NodeJS.ErrnoException | undefined)?.path;
  const known = typeof code === 'string' ? FILE_ERRORS[code] : undefined;
  if (known && !(err instanceof TandemError)) return new TandemError(known[0], `${path ?? ''}: ${known[1]}`.replace(/^: /, ''), { cause: err });
  if (err instanceof SyntaxError) return new TandemError('bad_request', `invalid JSON: ${err.message}`, { cause: err });
  return toTandemError(err);
}
