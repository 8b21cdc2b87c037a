// The table of `tandem` commands, in plain JavaScript so that listing them loads nothing but commander.
// Each module path holds a TypeScript module whose `register(program)` defines the command in full.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

/** @type {readonly { name: string, summary: string, module: string }[]} */
export const COMMANDS = [
  { name: 'start', summary: 'build what is missing and start origin, edge and demo page on 127.0.0.1', module: './start.ts' },
  { name: 'origin', summary: 'start the origin alone (Open Inference Protocol on /v2)', module: './origin.ts' },
  { name: 'edge', summary: 'start the edge alone under wrangler dev, in front of given origins', module: './edge.ts' },
  { name: 'keygen', summary: 'generate a signing key pair', module: '../../models/cli/keygen.ts' },
  { name: 'sign', summary: 'sign a manifest into a DSSE envelope', module: '../../models/cli/sign.ts' },
  { name: 'verify', summary: "verify a model repository's signatures and artifact hashes", module: '../../models/cli/verify.ts' },
  { name: 'build-models', summary: 'build the built-in ONNX models and sign their manifests', module: '../../models/cli/build-models.ts' },
  { name: 'root', summary: "the root of trust: init, or rotate any role's keys through a new root version", module: '../../models/cli/root.ts' },
  { name: 'release', summary: 'add a signed model version to the timestamp record of what is current', module: '../../models/cli/release.ts' },
  { name: 'revoke', summary: 'withdraw a model version: devices evict it and never run it again', module: '../../models/cli/revoke.ts' },
  { name: 'timestamp', summary: 'refresh the short-lived timestamp record, or --show it', module: '../../models/cli/timestamp.ts' },
  { name: 'rollout', summary: "a model's signed rollout record: set weights, status, promote a canary, roll back", module: './rollout.ts' },
  { name: 'import', summary: 'turn an ONNX file into a signed model version with device variants', module: '../../models/cli/import.ts' },
  { name: 'publish', summary: "put a verified model version where every tier reads it: the origin's repository and the edge's R2", module: './publish.ts' },
  { name: 'deploy', summary: 'check, bundle and deploy the edge to a wrangler environment', module: './deploy.ts' },
  { name: 'validate-k8s', summary: 'validate the Kubernetes manifests against their schemas, offline', module: './validate-k8s.ts' },
].map((c) => ({ ...c, module: new URL(c.module, import.meta.url).href }));

export const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** The program with its global options; commands are added by the caller. */
export function createProgram() {
  return (
    new Command('tandem')
      .description('Tandem: edge and in-browser inference with origin fallback')
      .version(VERSION, '-V, --version')
      // Global options only before the command: `tandem import --version 1.2.0` is the model's version.
      .enablePositionalOptions()
      .showHelpAfterError()
      .exitOverride()
  );
}

/** @param {string | undefined} name */
export function findCommand(name) {
  return COMMANDS.find((c) => c.name === name);
}
