/**
 * Device variants of an imported model, made by pluggable makers: `--device int8,fp16,fp32` names them in
 * order of preference (the client runs the first device variant whose requirements the device meets), and
 * `--device none` makes the version origin-only.
 *
 * The fp32 maker lives here (the model's own bytes, unquantized). int8 and fp16 makers come from
 * models/quantize/ and are registered by whoever wires the CLI (`DeviceMakers`); a name without a maker is
 * refused before any long work. A maker's `evaluate` compares its variant with the original on the import's
 * inputs, and each figure lands in the manifest's `evaluation` as `<name>.<figure>` (`int8.maxAbsError`).
 */
import { TandemError } from '../../protocol/errors.ts';
import type { Backend, Quantization } from '../../protocol/manifest.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';

export const DEVICE_VARIANT_NAMES = ['int8', 'fp16', 'fp32'] as const;
export type DeviceVariantName = (typeof DEVICE_VARIANT_NAMES)[number];

/** Makes one device variant from the original model's bytes. */
export interface DeviceVariantMaker {
  name: DeviceVariantName;
  make(bytes: Uint8Array): Promise<Uint8Array>;
  quantization: Quantization;
  /** Backends that can run the variant, best first. */
  backends: Backend[];
  /** Backend features the variant needs (`shader-f16` for fp16 on WebGPU). */
  features?: string[];
  /**
   * Figures comparing the variant with the original on the same inputs (e.g. `maxAbsError`,
   * `top1Agreement`), recorded in the manifest's `evaluation` under `<name>.`; undefined or non-finite
   * figures are left out.
   */
  evaluate?(reference: Uint8Array, variant: Uint8Array, inputs: readonly NamedTensors[]): Promise<Record<string, number | undefined>>;
}

export type DeviceMakers = Partial<Record<DeviceVariantName, DeviceVariantMaker>>;

/** The model as it is, for devices: float32 weights and compute, WebGPU first, WASM everywhere. */
export const fp32DeviceMaker: DeviceVariantMaker = {
  name: 'fp32',
  make: async (bytes) => bytes,
  quantization: { method: 'none' },
  backends: ['webgpu', 'wasm'],
};

/** Makers available without models/quantize/. */
export const BUILT_IN_MAKERS: DeviceMakers = { fp32: fp32DeviceMaker };

/** Weights above this stay on the origin unless `--device` asks otherwise: few devices would hold them. */
export const DEVICE_WEIGHT_LIMIT_BYTES = 200 * 1024 * 1024;

/**
 * The device variants `--device` asks for, in order; `undefined` (the flag not given) means the default,
 * decided by `defaultDevices` once the weights are known.
 * @throws TandemError `bad_request` for an unknown name, a repeated one, `none` beside others, or a name
 * with no maker.
 */
export function parseDeviceFlag(text: string | undefined, makers: DeviceMakers): DeviceVariantName[] | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return [];
  const chosen: DeviceVariantName[] = [];
  for (const name of names) {
    if (!(DEVICE_VARIANT_NAMES as readonly string[]).includes(name)) {
      throw new TandemError('bad_request', `--device: unknown variant "${name}"; use a comma list of ${DEVICE_VARIANT_NAMES.join(', ')}, or none`);
    }
    const known = name as DeviceVariantName;
    if (chosen.includes(known)) throw new TandemError('bad_request', `--device: "${name}" is listed twice`);
    if (!makers[known]) {
      const available = Object.keys(makers).join(', ') || 'none';
      throw new TandemError('bad_request', `--device: this build cannot make a "${name}" variant yet (available: ${available}, or none)`);
    }
    chosen.push(known);
  }
  if (chosen.length === 0) throw new TandemError('bad_request', '--device: give a comma list of variants (int8,fp16,fp32) or none');
  return chosen;
}

/**
 * The default device variants when the weights fit a device (≤ 200 MiB): int8 (a quarter of the download,
 * for WASM) when this build can make it, then fp32; else none. A default variant that misses its
 * tolerance is left out with a warning.
 */
export function defaultDevices(weightBytes: number, makers: DeviceMakers = BUILT_IN_MAKERS): DeviceVariantName[] {
  if (weightBytes > DEVICE_WEIGHT_LIMIT_BYTES) return [];
  return makers.int8 ? ['int8', 'fp32'] : ['fp32'];
}

/**
 * The manifest name of a device variant: the maker's, unless the origin variant has it already (the fp32
 * device variant is `fp32-device` beside the `fp32` origin variant).
 */
export function deviceVariantName(name: DeviceVariantName, originName: string): string {
  return name === originName ? `${name}-device` : name;
}
