/**
 * The synthetic data set the MLP classifier learns: each class is a mixture of a few Gaussian blobs in a
 * low-dimensional latent space, mapped linearly into the input space with extra isotropic noise. Classes
 * made of several blobs are not linearly separable, and the blobs overlap enough that no model reaches
 * 100%, so accuracy and int8 agreement mean something.
 */
import { fillNormal, type Rng } from '../math/prng.ts';

export interface ClusterSpec {
  classes: number;
  /** Blobs per class. */
  blobsPerClass: number;
  latentDim: number;
  /** Input dimension. */
  dim: number;
  /** Standard deviation of a sample around its blob centre, in latent units (centres are N(0, 1)). */
  latentNoise: number;
  /** Standard deviation of the noise added to every input value. */
  inputNoise: number;
}

/** Labelled samples: inputs [count, dim] and class indices. */
export interface LabelledSet {
  x: Float32Array;
  labels: Int32Array;
  count: number;
}

/** A fixed distribution to draw training and held-out sets from. */
export interface ClusterDistribution {
  spec: ClusterSpec;
  sample(rng: Rng, count: number): LabelledSet;
}

/**
 * @example
 * const data = clusterDistribution(rng.fork('distribution'), spec);
 * const train = data.sample(rng.fork('train'), 5000);
 */
export function clusterDistribution(rng: Rng, spec: ClusterSpec): ClusterDistribution {
  const { classes, blobsPerClass, latentDim, dim, latentNoise, inputNoise } = spec;
  const centres = fillNormal(rng.fork('centres'), new Float32Array(classes * blobsPerClass * latentDim), 1);
  const projection = fillNormal(rng.fork('projection'), new Float32Array(dim * latentDim), 1 / Math.sqrt(latentDim));
  return {
    spec,
    sample(sampleRng, count) {
      const x = new Float32Array(count * dim);
      const labels = new Int32Array(count);
      const z = new Float64Array(latentDim);
      for (let n = 0; n < count; n++) {
        const label = sampleRng.int(classes);
        const blob = label * blobsPerClass + sampleRng.int(blobsPerClass);
        labels[n] = label;
        for (let l = 0; l < latentDim; l++) z[l] = centres[blob * latentDim + l]! + latentNoise * sampleRng.normal();
        for (let d = 0; d < dim; d++) {
          let v = 0;
          for (let l = 0; l < latentDim; l++) v += projection[d * latentDim + l]! * z[l]!;
          x[n * dim + d] = v + inputNoise * sampleRng.normal();
        }
      }
      return { x, labels, count };
    },
  };
}
