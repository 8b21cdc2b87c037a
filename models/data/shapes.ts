/**
 * The synthetic image data set the shapes CNN learns: 28×28 grey images of one simple shape each (lines at
 * four orientations, square outline, filled square, plus, cross, ring, disk) at a random position, size,
 * stroke width and brightness, with pixel noise. Rendering uses distances only (sqrt, no trigonometry),
 * anti-aliased over one pixel, so every machine draws the same pixels from the same seed.
 */
import type { Rng } from '../math/prng.ts';

export const IMAGE_SIZE = 28;

export const SHAPE_CLASSES = [
  'horizontal-line',
  'vertical-line',
  'rising-diagonal',
  'falling-diagonal',
  'square',
  'filled-square',
  'plus',
  'cross',
  'ring',
  'disk',
] as const;

export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapesOptions {
  /** Standard deviation of the additive pixel noise. */
  noise: number;
  /** Largest offset of a shape's centre from the image centre, in pixels. */
  jitter: number;
}

/** Images [n, 1, 28, 28] and their class indices. */
export interface ImageSet {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** A point-to-shape distance in pixels; 0 inside filled shapes. */
type Distance = (px: number, py: number) => number;

/**
 * Draws `count` labelled images; classes are drawn uniformly.
 * @example
 * const train = generateShapes(createRng('shapes/train'), 4000, { noise: 0.2 });
 */
export function generateShapes(rng: Rng, count: number, options: ShapesOptions): ImageSet {
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const images = new Float32Array(count * pixels);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = rng.int(SHAPE_CLASSES.length);
    labels[n] = label;
    const distance = shapeDistance(SHAPE_CLASSES[label]!, rng, options.jitter);
    const halfWidth = rng.range(0.5, 1.3);
    const brightness = rng.range(0.5, 1);
    for (let y = 0; y < IMAGE_SIZE; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const d = distance(x + 0.5, y + 0.5) - halfWidth;
        const coverage = d <= 0 ? 1 : d >= 1 ? 0 : 1 - d;
        images[n * pixels + y * IMAGE_SIZE + x] = brightness * coverage + options.noise * rng.normal();
      }
    }
  }
  return { images, labels, count };
}

function shapeDistance(shape: ShapeClass, rng: Rng, jitter: number): Distance {
  const size = rng.range(4, 9);
  const cx = IMAGE_SIZE / 2 + rng.range(-jitter, jitter);
  const cy = IMAGE_SIZE / 2 + rng.range(-jitter, jitter);
  const tilt = rng.range(-0.2, 0.2);
  const line = (dx: number, dy: number): Distance => {
    const norm = hypot(dx, dy);
    const ux = (dx / norm) * size;
    const uy = (dy / norm) * size;
    return segment(cx - ux, cy - uy, cx + ux, cy + uy);
  };
  switch (shape) {
    case 'horizontal-line':
      return line(1, tilt);
    case 'vertical-line':
      return line(tilt, 1);
    case 'rising-diagonal':
      return line(1, -1 + tilt);
    case 'falling-diagonal':
      return line(1, 1 + tilt);
    case 'square':
      return (px, py) => Math.abs(boxDistance(px - cx, py - cy, size));
    case 'filled-square':
      return (px, py) => Math.max(0, boxDistance(px - cx, py - cy, size));
    case 'plus':
      return union(line(1, tilt), line(-tilt, 1));
    case 'cross':
      return union(line(1, 1 + tilt), line(1, -1 - tilt));
    case 'ring':
      return (px, py) => Math.abs(hypot(px - cx, py - cy) - size);
    case 'disk':
      return (px, py) => Math.max(0, hypot(px - cx, py - cy) - size);
  }
}

function segment(x0: number, y0: number, x1: number, y1: number): Distance {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const lengthSquared = dx * dx + dy * dy;
  return (px, py) => {
    const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / lengthSquared));
    return hypot(px - (x0 + t * dx), py - (y0 + t * dy));
  };
}

/** Signed distance to an axis-aligned square of half-side `half` centred at the origin (negative inside). */
function boxDistance(x: number, y: number, half: number): number {
  const qx = Math.abs(x) - half;
  const qy = Math.abs(y) - half;
  const outside = hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0);
}

/** √(x² + y²) by multiplication and sqrt only (both exactly rounded; `**` and Math.hypot need not be). */
function hypot(x: number, y: number): number {
  return Math.sqrt(x * x + y * y);
}

function union(a: Distance, b: Distance): Distance {
  return (px, py) => Math.min(a(px, py), b(px, py));
}
