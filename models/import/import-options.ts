/**
 * Everything `tandem import` is told, checked before any long work: names and version against the
 * manifest's rules, `--device` against the makers at hand, the model, labels, example and key files read
 * and parsed, and the target version absent (unless `--force`). A mistake in a flag costs milliseconds,
 * not a model load.
 */
import { stat } from 'node:fs/promises';
import { TandemError } from '../../protocol/errors.ts';
import type { SigningKey } from '../../protocol/keys.ts';
import { readSigningKey } from '../keys-store.ts';
import { parseDeviceFlag, type DeviceMakers, type DeviceVariantName } from './device-variants.ts';
import { MAX_EXAMPLES, readExample, type ExampleInput } from './examples.ts';
import { readLabels } from './labels.ts';
import { refuseExisting, versionExists } from './write-version.ts';

/** What the user asked for, as the CLI passes it. */
export interface ImportRequest {
  /** The .onnx file. */
  model: string;
  id: string;
  version: string;
  /** Default: `classification` with `labels`, else `generic`. */
  task?: string;
  description?: string;
  /** A labels file: one per line, or a JSON array. */
  labels?: string;
  /** OIP v2 JSON request bodies. */
  examples?: readonly string[];
  /** `int8,fp16,fp32` or `none`; default fp32 for weights up to 200 MiB, else none. */
  device?: string;
  repository: string;
  /** A private key file; default the dev key (`.tandem/keys/`). */
  key?: string;
  /** Replace an existing version. */
  force?: boolean;
  /** Largest error of an int8/fp16 variant, as a fraction of each output's range (default per variant, tolerance.ts). */
  tolerance?: number;
  /** For classifiers: the least top-1 agreement of an int8/fp16 variant (default per variant). */
  minTop1?: number;
  /** Keep a variant asked for by name even past its tolerance, with a warning. */
  keepOutOfTolerance?: boolean;
}

export interface CheckedRequest {
  request: ImportRequest;
  task: string;
  labels: string[] | undefined;
  examples: ExampleInput[];
  /** Undefined: decide from the weights. */
  devices: DeviceVariantName[] | undefined;
  /** The key from `--key`, or undefined for the dev key (loaded, or made, only when signing). */
  key: SigningKey | undefined;
  modelBytes: number;
}

const SLUG = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/**
 * @throws TandemError `bad_request` for a malformed flag or an unreadable file, the codes of
 * `examples.ts` and `labels.ts` for bad contents, `version_exists` for a version already there.
 */
export async function checkImportRequest(request: ImportRequest, makers: DeviceMakers): Promise<CheckedRequest> {
  const bad = (message: string) => new TandemError('bad_request', message);
  checkModelRef(request.id, request.version);
  const task = request.task ?? (request.labels ? 'classification' : 'generic');
  if (!SLUG.test(task)) throw bad(`--task "${task}": a slug such as classification, embedding or detection`);
  if (request.description !== undefined && request.description.length > 2000) throw bad('--description: at most 2000 characters');
  const devices = parseDeviceFlag(request.device, makers);
  const examplePaths = request.examples ?? [];
  if (examplePaths.length > MAX_EXAMPLES) throw bad(`--example: at most ${MAX_EXAMPLES} examples, got ${examplePaths.length}`);

  const modelBytes = await fileSize(request.model, 'the model');
  if (modelBytes === 0) throw new TandemError('onnx_invalid', `${request.model} is empty, not an ONNX model`);
  const labels = request.labels === undefined ? undefined : await readOrRefuse(request.labels, '--labels', readLabels);
  const examples: ExampleInput[] = [];
  for (const path of examplePaths) examples.push(await readOrRefuse(path, '--example', readExample));
  const key = request.key === undefined ? undefined : await readOrRefuse(request.key, '--key', readSigningKey);
  if (!request.force && (await versionExists(request.repository, request.id, request.version)))
    throw refuseExisting(request.repository, request.id, request.version);
  return { request, task, labels, examples, devices, key, modelBytes };
}

/**
 * Checks a model id and version against the manifest's rules.
 * @throws TandemError `bad_request` naming the flag.
 */
export function checkModelRef(id: string, version: string): void {
  if (!SLUG.test(id))
    throw new TandemError('bad_request', `model id "${id}": lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64`);
  if (!SEMVER.test(version)) throw new TandemError('bad_request', `version "${version}": a semantic version such as 1.0.0`);
}

async function fileSize(path: string, what: string): Promise<number> {
  const info = await stat(path).catch((cause: NodeJS.ErrnoException) => {
    throw new TandemError('bad_request', `${what} ${path}: ${cause.code === 'ENOENT' ? 'no such file' : cause.message}`, { cause });
  });
  if (!info.isFile()) throw new TandemError('bad_request', `${what} ${path} is not a file`);
  return info.size;
}

/** Reads a flag's file; a missing file is `bad_request` naming the flag, other failures keep their code. */
async function readOrRefuse<T>(path: string, flag: string, read: (path: string) => Promise<T>): Promise<T> {
  try {
    return await read(path);
  } catch (cause) {
    if (cause instanceof TandemError) {
      if (cause.message.startsWith(flag)) throw cause;
      throw new TandemError(cause.code, `${flag} ${path}: ${cause.message}`, { cause });
    }
    const code = (cause as NodeJS.ErrnoException).code;
    throw new TandemError('bad_request', `${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : (cause as Error).message}`, { cause });
  }
}
