/** `tandem import`: a user's .onnx file into a signed model version (the work is in models/import/). */
import type { Command } from 'commander';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { BUILT_IN_MAKERS, type DeviceMakers } from '../import/device-variants.ts';
import { importModel } from '../import/import-model.ts';
import { importReport } from '../import/import-report.ts';

interface ImportOptions {
  id: string;
  version: string;
  task?: string;
  description?: string;
  labels?: string;
  example: string[];
  device?: string;
  repository: string;
  key?: string;
  force?: boolean;
}

/** Registers `import`; `makers` are the device variants it can make (fp32 unless more are wired in). */
export function register(program: Command, makers: DeviceMakers = BUILT_IN_MAKERS): void {
  program
    .command('import')
    .description('turn an ONNX file into a signed model version in the model repository')
    .argument('<model>', 'the .onnx file (weights inside it, not in external data files)')
    .requiredOption('--id <id>', 'model id: lowercase letters, digits, ".", "_", "-"')
    .requiredOption('--version <semver>', 'version to write, e.g. 1.0.0 (versions are immutable)')
    .option('--task <task>', 'task slug (default: classification with --labels, else generic)')
    .option('--description <text>', 'what the model is, for the catalog')
    .option('--labels <file>', 'class labels: one per line, or a JSON array of strings')
    .option('--example <file>', 'an OIP v2 JSON inference request to keep with the version (repeatable)', collect, [])
    .option('--device <variants>', `device variants in order of preference: a comma list of ${Object.keys(makers).join(', ')}, or none (default: fp32 up to 200 MiB of weights)`)
    .option('--repository <dir>', 'model repository', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--key <file>', 'signing key (default: the dev key, made on first use)')
    .option('--force', 'replace the version if it exists')
    .action(async (model: string, options: ImportOptions) => {
      const result = await importModel(
        {
          model,
          id: options.id,
          version: options.version,
          repository: options.repository,
          examples: options.example,
          ...pick(options, ['task', 'description', 'labels', 'device', 'key', 'force']),
        },
        { makers, progress: (line) => void process.stderr.write(`tandem import: ${line}\n`) },
      );
      process.stdout.write(`${importReport(result).join('\n')}\n`);
    });
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]])) as Partial<Pick<T, K>>;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
