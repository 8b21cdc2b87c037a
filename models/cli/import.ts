/** `tandem import`: a user's .onnx file into a signed model version (the work is in models/import/). */
import type { Command } from 'commander';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { InvalidArgumentError } from 'commander';
import type { DeviceMakers } from '../import/device-variants.ts';
import { ALL_MAKERS } from '../import/quantized-makers.ts';
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
  tolerance?: number;
  minTop1?: number;
  keepOutOfTolerance?: boolean;
}

/** A fraction in [0, 1], checked while the flags are parsed (before any long step). */
function fraction(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) throw new InvalidArgumentError(`${text}: a fraction between 0 and 1, e.g. 0.05`);
  return value;
}

/** Registers `import`; `makers` are the device variants it can make (fp32 unless more are wired in). */
export function register(program: Command, makers: DeviceMakers = ALL_MAKERS): void {
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
    .option(
      '--device <variants>',
      `device variants in order of preference: a comma list of ${Object.keys(makers).join(', ')}, or none (default: fp32 up to 200 MiB of weights)`,
    )
    .option('--repository <dir>', 'model repository', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--key <file>', 'signing key (default: the dev key, made on first use)')
    .option('--force', 'replace the version if it exists')
    .option('--tolerance <fraction>', "an int8/fp16 variant's largest error as a fraction of each output's range (default int8 0.1, fp16 0.01)", fraction)
    .option('--min-top1 <fraction>', "for classifiers, an int8/fp16 variant's least top-1 agreement (default int8 0.95, fp16 0.99)", fraction)
    .option('--keep-out-of-tolerance', 'keep a variant asked for by --device even past its tolerance, with a warning')
    .action(async (model: string, options: ImportOptions) => {
      const result = await importModel(
        {
          model,
          id: options.id,
          version: options.version,
          repository: options.repository,
          examples: options.example,
          ...pick(options, ['task', 'description', 'labels', 'device', 'key', 'force', 'tolerance', 'minTop1', 'keepOutOfTolerance']),
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
