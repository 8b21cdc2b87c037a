#!/usr/bin/env node
// The `tandem` command: one entry for every command (stack/cli/commands.mjs). Listing them, `--help` and
// `--version` load nothing but commander, so they answer at once; a subcommand's TypeScript module
// (compiled on the fly by tsx) is loaded only when that subcommand runs.
import { CommanderError } from 'commander';
import { COMMANDS, createProgram, findCommand } from '../cli/commands.mjs';

/** @param {string[]} argv */
async function main(argv) {
  const program = createProgram();
  const command = findCommand(argv[2]);
  if (command === undefined) {
    for (const { name, summary } of COMMANDS) program.command(name).description(summary);
    await program.parseAsync(argv);
    return 0;
  }
  const { register } = await import('tsx/esm/api');
  register();
  const { runCommand } = await import('../cli/run.ts');
  return runCommand(program, command.module, argv);
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.exitCode = err instanceof CommanderError ? err.exitCode : 1;
    if (!(err instanceof CommanderError)) process.stderr.write(`tandem: ${err instanceof Error ? err.message : String(err)}\n`);
  },
);
