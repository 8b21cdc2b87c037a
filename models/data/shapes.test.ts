import { describe, expect, it } from 'vitest';
import { createRng } from '../math/prng.ts';
import { generateShapes, IMAGE_SIZE, SHAPE_CLASSES } from './shapes.ts';

describe('generateShapes', () => {
  it('draws the same images from the same seed, every class, bright strokes on a dark ground', () => {
    const a = generateShapes(createRng('shapes-test'), 200, { noise: 0, jitter: 3 });
    const b = generateShapes(createRng('shapes-test'), 200, { noise: 0, jitter: 3 });
    expect(a.images).toEqual(b.images);
    expect(a.labels).toEqual(b.labels);
    expect(a.images.length).toBe(200 * IMAGE_SIZE * IMAGE_SIZE);
    expect(new Set(a.labels).size).toBe(SHAPE_CLASSES.length);
    for (let n = 0; n < a.count; n++) {
      const image = a.images.subarray(n * IMAGE_SIZE * IMAGE_SIZE, (n + 1) * IMAGE_SIZE * IMAGE_SIZE);
      const lit = image.filter((v) => v > 0.25).length;
      expect(Math.max(...image)).toBeLessThanOrEqual(1);
      expect(Math.min(...image)).toBeGreaterThanOrEqual(0);
      expect(lit).toBeGreaterThan(5);
      expect(lit).toBeLessThan(IMAGE_SIZE * IMAGE_SIZE * 0.6);
    }
  });

  it('draws a disk filled and a ring hollow at the centre', () => {
    const set = generateShapes(createRng('shapes-centre'), 400, { noise: 0, jitter: 0 });
    const centre = (IMAGE_SIZE / 2) * IMAGE_SIZE + IMAGE_SIZE / 2;
    for (let n = 0; n < set.count; n++) {
      const label = SHAPE_CLASSES[set.labels[n]!];
      const value = set.images[n * IMAGE_SIZE * IMAGE_SIZE + centre]!;
      if (label === 'disk' || label === 'filled-square' || label === 'plus' || label === 'cross') expect(value).toBeGreaterThan(0.4);
      if (label === 'ring' || label === 'square') expect(value).toBe(0);
    }
  });
});
