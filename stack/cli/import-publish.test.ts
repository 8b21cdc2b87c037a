/** `tandem import` and `tandem publish` through the CLI: flags reach the modules, output and exit codes. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSigningKey, generateSigningKey } from '../../protocol/keys.ts';
import { tandemCli } from './test-support.ts';
import * as graphs from '../../models/import/test-graphs.ts';

const tandem = tandemCli;

let dir: string;
let keyFile: string;
let trustedFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-import-cli-'));
  const key = await generateSigningKey();
  keyFile = join(dir, 'release.json');
  trustedFile = join(dir, 'trusted.json');
  await writeFile(keyFile, JSON.stringify(await exportSigningKey(key)));
  await writeFile(trustedFile, JSON.stringify([key.publicKey]));
  await writeFile(join(dir, 'tiny.onnx'), graphs.tinyClassifier());
  await writeFile(join(dir, 'labels.json'), '["a", "b", "c"]');
  await writeFile(join(dir, 'one.json'), JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tandem import / publish', () => {
  it('imports with every flag, prints the summary on stdout and progress on stderr', async () => {
    const staging = join(dir, 'staging');
    const run = await tandem(
      'import',
      join(dir, 'tiny.onnx'),
      '--id',
      'tiny',
      '--version',
      '1.2.3',
      '--labels',
      join(dir, 'labels.json'),
      '--example',
      join(dir, 'one.json'),
      '--example',
      join(dir, 'one.json'),
      '--device',
      'fp32',
      '--repository',
      staging,
      '--key',
      keyFile,
      '--task',
      'classification',
      '--description',
      'a tiny classifier',
    );
    expect(run.err).toMatch(/^tandem import: reading .*tiny\.onnx/m);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/^imported tiny@1\.2\.3 into .*staging\/tiny\/1\.2\.3$/m);
    expect(run.out).toMatch(/^ {2}fp32 +origin fp32\.onnx/m);
    expect(run.out).toMatch(/^ {2}fp32-device +device fp32\.onnx .* webgpu\/wasm$/m);
    expect(run.out).toContain('on 2 example(s)');
    expect(run.out).not.toContain('dev key');

    const verify = await tandem('verify', staging, '--trusted', trustedFile);
    expect(verify.out).toMatch(/^ok +tiny@1\.2\.3/m);

    const origin = join(dir, 'origin');
    const publish = await tandem('publish', 'tiny', '1.2.3', '--from', staging, '--repository', origin, '--trusted', trustedFile, '--no-edge');
    expect(publish.code, publish.err).toBe(0);
    expect(publish.out).toContain('verified tiny@1.2.3: signed by');
    expect(publish.out).toMatch(/origin: copied into the origin's repository .*origin/);
    expect(publish.out).toContain('edge: skipped (--no-edge)');

    const dry = await tandem('publish', 'tiny', '1.2.3', '--repository', origin, '--trusted', trustedFile, '--env', 'staging', '--dry-run');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(
      /edge: 2 object\(s\) would go to R2 bucket tandem-models-staging \(--env staging\)\n {2}npx wrangler r2 object put tandem-models-staging\/artifacts\//,
    );
  });

  it('refuses with the code and a non-zero exit', async () => {
    const refused = await tandem('import', join(dir, 'labels.json'), '--id', 'x', '--version', '1.0.0', '--repository', join(dir, 'r'), '--key', keyFile);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^tandem: onnx_invalid: not an ONNX model/m);
    const missing = await tandem('import', join(dir, 'tiny.onnx'), '--version', '1.0.0');
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("required option '--id <id>' not specified");
    const device = await tandem('import', join(dir, 'tiny.onnx'), '--id', 'x', '--version', '1.0.0', '--device', 'int4', '--repository', join(dir, 'r'));
    expect(device.err).toMatch(/bad_request: --device: unknown variant "int4"/);
    const tolerance = await tandem('import', join(dir, 'tiny.onnx'), '--id', 'x', '--version', '1.0.0', '--tolerance', 'lots', '--repository', join(dir, 'r'));
    expect(tolerance.code).not.toBe(0);
    expect(tolerance.err).toMatch(/--tolerance.*a fraction between 0 and 1/);
    expect(tolerance.err).not.toMatch(/reading/);
  });
});
