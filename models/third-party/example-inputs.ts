/**
 * Deterministic, realistic-looking inputs for third-party models: rendered text images, voiced audio,
 * log-mel frames and speech embeddings, drawn from a seeded generator so a failing comparison reproduces.
 *
 * Zeros or uniform noise are what a synthetic warm-up feeds, and they miss what real inputs exercise:
 * PaddleOCR's detector only produces a meaningful probability map on dark strokes over a light page, and
 * Silero's VAD needs a full frame of audio at a sample rate it knows. These generators give each model
 * inputs in the value ranges its own pre-processing produces, without shipping any data.
 */
import { createRng, type Rng } from '../math/prng.ts';

/** A tensor as onnxruntime (web and node) takes it: `new ort.Tensor(t.type, t.data, t.dims)`. */
export type OrtLikeTensor = { type: 'float32'; dims: readonly number[]; data: Float32Array } | { type: 'int64'; dims: readonly number[]; data: BigInt64Array };

/** ImageNet channel statistics, PaddleOCR's detector normalisation. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** PaddleOCR's recognizer and orientation classifier map [0, 1] to [-1, 1]. */
export const HALF_MEAN = [0.5, 0.5, 0.5] as const;
export const HALF_STD = [0.5, 0.5, 0.5] as const;

export interface TextImageOptions {
  height: number;
  width: number;
  /** Lines of text to draw, evenly spaced; 1 for a cropped text line. */
  lines: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Images in the batch, each drawn from its own stream. Default 1. */
  batch?: number;
}

/**
 * A page (or a cropped line) of dark glyph-like strokes on a lightly shaded, slightly noisy background,
 * as a normalised NCHW float32 tensor.
 * @example
 * const x = textImage(createRng('det'), { height: 96, width: 128, lines: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD });
 */
export function textImage(rng: Rng, options: TextImageOptions): OrtLikeTensor {
  const { height: h, width: w, lines, mean, std } = options;
  const batch = options.batch ?? 1;
  const plane = h * w;
  const data = new Float32Array(batch * 3 * plane);
  for (let n = 0; n < batch; n++) {
    const pixels = renderPage(rng.fork(`image-${n}`), h, w, lines);
    for (let c = 0; c < 3; c++) {
      const offset = (n * 3 + c) * plane;
      for (let i = 0; i < plane; i++) data[offset + i] = (pixels[i * 3 + c]! - mean[c]!) / std[c]!;
    }
  }
  return { type: 'float32', dims: [batch, 3, h, w], data };
}

/** RGB in [0, 1], row-major HWC. */
function renderPage(rng: Rng, h: number, w: number, lines: number): Float32Array {
  const rgb = new Float32Array(h * w * 3);
  const paper = [rng.range(0.85, 0.97), rng.range(0.85, 0.97), rng.range(0.8, 0.95)];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const shade = 0.04 * (x / w) - 0.03 * (y / h); // Uneven lighting.
      for (let c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = clamp01(paper[c]! + shade + rng.range(-0.02, 0.02));
    }
  }
  const ink = [rng.range(0.05, 0.2), rng.range(0.05, 0.2), rng.range(0.05, 0.25)];
  const band = h / lines;
  for (let line = 0; line < lines; line++) {
    const glyphHeight = Math.max(4, Math.round(band * rng.range(0.35, 0.55)));
    const top = Math.round(line * band + (band - glyphHeight) / 2);
    let x = Math.round(rng.range(0.03, 0.1) * w);
    const end = Math.round(w * rng.range(0.75, 0.97));
    while (x < end) {
      const glyphWidth = Math.max(2, Math.round(glyphHeight * rng.range(0.4, 0.9)));
      drawGlyph(rng, rgb, w, h, x, top, glyphWidth, glyphHeight, ink);
      x += glyphWidth + Math.max(1, Math.round(glyphHeight * rng.range(0.1, 0.25)));
      if (rng.uniform() < 0.15) x += Math.round(glyphHeight * 0.6); // A space between words.
    }
  }
  return rgb;
}

/** A glyph: a few vertical and horizontal strokes inside its box. */
function drawGlyph(rng: Rng, rgb: Float32Array, w: number, h: number, left: number, top: number, gw: number, gh: number, ink: number[]): void {
  const stroke = Math.max(1, Math.round(gh / 6));
  const fill = (x0: number, y0: number, x1: number, y1: number) => {
    for (let y = Math.max(0, y0); y < Math.min(h, y1); y++) {
      for (let x = Math.max(0, x0); x < Math.min(w, x1); x++) {
        for (let c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = ink[c]!;
      }
    }
  };
  const strokes = 2 + rng.int(3);
  for (let s = 0; s < strokes; s++) {
    if (rng.uniform() < 0.5) {
      const x = left + rng.int(Math.max(1, gw - stroke));
      fill(x, top, x + stroke, top + gh);
    } else {
      const y = top + rng.int(Math.max(1, gh - stroke));
      fill(left, y, left + gw, y + stroke);
    }
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : Math.min(v, 1);
}

export interface VoicedAudioOptions {
  samples: number;
  sampleRate: number;
  /** Peak amplitude: 0.5 for [-1, 1] audio, about 8000 for int16-scaled audio. */
  amplitude: number;
  /** Rows (channels of independent audio). Default 1. */
  batch?: number;
}

/**
 * Voice-like audio: a gliding fundamental between 100 and 250 Hz with decaying harmonics, a syllable-rate
 * amplitude envelope and a little noise, as float32 `[batch, samples]`.
 */
export function voicedAudio(rng: Rng, options: VoicedAudioOptions): OrtLikeTensor {
  const { samples, sampleRate, amplitude } = options;
  const batch = options.batch ?? 1;
  const data = new Float32Array(batch * samples);
  for (let n = 0; n < batch; n++) {
    const stream = rng.fork(`audio-${n}`);
    const f0 = stream.range(100, 250);
    const glide = stream.range(-40, 40);
    const syllableHz = stream.range(3, 6);
    const phase = stream.range(0, 2 * Math.PI);
    let angle = 0;
    for (let i = 0; i < samples; i++) {
      const t = i / sampleRate;
      angle += (2 * Math.PI * (f0 + glide * Math.sin(2 * Math.PI * 1.5 * t))) / sampleRate;
      let voiced = 0;
      for (let k = 1; k <= 10; k++) voiced += Math.sin(k * angle) / k;
      const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * syllableHz * t + phase);
      data[n * samples + i] = amplitude * (0.45 * envelope * voiced + 0.02 * stream.range(-1, 1));
    }
  }
  return { type: 'float32', dims: [batch, samples], data };
}

/**
 * Log-mel frames as openWakeWord's feature pipeline hands them to its embedding model (melspectrogram
 * output `/ 10 + 2`, from int16-scaled audio: values about 4 to 11), as float32 `[batch, frames, bands, 1]`.
 * A smooth spectral envelope over the bands, modulated over time, plus noise.
 */
export function melFrames(rng: Rng, frames: number, bands: number, batch = 1): OrtLikeTensor {
  const data = new Float32Array(batch * frames * bands);
  for (let n = 0; n < batch; n++) {
    const stream = rng.fork(`mel-${n}`);
    const formants = [stream.range(3, 8), stream.range(10, 18), stream.range(20, 28)];
    for (let t = 0; t < frames; t++) {
      const loudness = 0.5 + 0.5 * Math.sin((2 * Math.PI * t) / stream.range(12, 20));
      for (let b = 0; b < bands; b++) {
        let energy = 0;
        for (const f of formants) energy += Math.exp(-((b - f) ** 2) / 8);
        data[(n * frames + t) * bands + b] = 5 + 4 * loudness * energy + 0.3 * stream.range(-1, 1);
      }
    }
  }
  return { type: 'float32', dims: [batch, frames, bands, 1], data };
}

/**
 * A window of speech embeddings as openWakeWord's embedding model produces them (96 values per 80 ms
 * step, spread about ±40, each dimension with its own offset), as float32 `[1, steps, 96]`.
 */
export function speechEmbeddings(rng: Rng, steps: number, width = 96): OrtLikeTensor {
  const offsets = Array.from({ length: width }, () => rng.normal() * 12);
  const data = new Float32Array(steps * width);
  for (let s = 0; s < steps; s++) {
    for (let d = 0; d < width; d++) data[s * width + d] = offsets[d]! + rng.normal() * 8;
  }
  return { type: 'float32', dims: [1, steps, width], data };
}

/** An all-zero float32 tensor (a recurrent model's initial state). */
export function zeros(dims: readonly number[]): OrtLikeTensor {
  return { type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
}

/** An int64 scalar (shape `[]`), such as Silero's sample rate. */
export function int64Scalar(value: number): OrtLikeTensor {
  return { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(value)) };
}

/** A named stream for one model's examples. */
export function exampleRng(modelKey: string, seed: number): Rng {
  return createRng(`third-party/${modelKey}/${seed}`);
}
