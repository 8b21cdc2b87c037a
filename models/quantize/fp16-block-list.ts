/**
 * Operators the fp16 conversion leaves in float32 (with Casts around them), and why. The first group is
 * onnxconverter-common's `DEFAULT_OP_BLOCK_LIST` (the list `convert_float_to_float16` uses); the second is
 * Tandem's, found by converting every model of ONNX's backend test data (Debian's libonnx-testdata) and
 * running it in onnxruntime 1.30: operators whose float inputs are quantization scales, operators whose
 * schema has no float16 (at the opsets exporters use), and operators onnxruntime cannot run in float16.
 * `conditionalBlockReason` adds the cases that depend on a node's attributes.
 */
import { ATTRIBUTE_TYPE, DATA_TYPE, type OnnxNode } from '../onnx/onnx-proto.ts';
import { findAttribute } from './node-attributes.ts';

/** onnxconverter-common's default block list. */
export const ONNXCONVERTER_BLOCK_LIST: Readonly<Record<string, string>> = {
  // Classic ML (ai.onnx.ml): no float16 kernels at all.
  ArrayFeatureExtractor: 'classic ML operator, float32 only',
  Binarizer: 'classic ML operator, float32 only',
  CastMap: 'classic ML operator, float32 only',
  CategoryMapper: 'classic ML operator, float32 only',
  DictVectorizer: 'classic ML operator, float32 only',
  FeatureVectorizer: 'classic ML operator, float32 only',
  Imputer: 'classic ML operator, float32 only',
  LabelEncoder: 'classic ML operator, float32 only',
  LinearClassifier: 'classic ML operator, float32 only',
  LinearRegressor: 'classic ML operator, float32 only',
  Normalizer: 'classic ML operator, float32 only',
  OneHotEncoder: 'classic ML operator, float32 only',
  SVMClassifier: 'classic ML operator, float32 only',
  SVMRegressor: 'classic ML operator, float32 only',
  Scaler: 'classic ML operator, float32 only',
  TreeEnsembleClassifier: 'classic ML operator, float32 only',
  TreeEnsembleRegressor: 'classic ML operator, float32 only',
  ZipMap: 'classic ML operator, float32 only',
  RandomUniformLike: 'no float16 kernel in onnxruntime',
  // Index and coordinate arithmetic that float16's 11-bit mantissa breaks (box coordinates, sizes, ranges).
  NonMaxSuppression: 'box coordinates and IoU thresholds lose precision in float16',
  TopK: 'ties and ordering change in float16; no float16 kernel on some backends',
  RoiAlign: 'box coordinates lose precision in float16',
  Resize: 'its scales and output-size arithmetic must stay float32',
  Upsample: 'its scales must stay float32',
  Range: 'start/limit/delta as float16 give the wrong element count',
  CumSum: 'running sums overflow or lose precision in float16',
  Min: 'no float16 kernel in onnxruntime CPU when it was listed',
  Max: 'no float16 kernel in onnxruntime CPU when it was listed',
};

/** Tandem's additions. */
export const TANDEM_BLOCK_LIST: Readonly<Record<string, string>> = {
  QuantizeLinear: 'quantization scales are float32 in onnxruntime kernels',
  DequantizeLinear: 'quantization scales are float32 in onnxruntime kernels',
  DynamicQuantizeLinear: 'float32 input only',
  MatMulInteger: 'integer operator whose rescale is float32',
  ConvInteger: 'integer operator whose rescale is float32',
  QLinearMatMul: 'quantization scales are float32',
  QLinearConv: 'quantization scales are float32',
  Celu: 'its schema takes float32 only',
  IsInf: 'float16 only from opset 20',
  EyeLike: 'no float16 kernel in onnxruntime CPU',
  MelWeightMatrix: 'onnxruntime CPU cannot produce it in float16',
  MeanVarianceNormalization: "onnxruntime expands it with float32 constants, which float16 inputs don't match",
};

/** Why a node stays float32 because of its attributes (not its op type alone), if it does. */
export function conditionalBlockReason(node: OnnxNode): string | undefined {
  switch (node.op_type) {
    case 'Cast': {
      const to = findAttribute(node, 'to');
      const isString =
        to?.type === ATTRIBUTE_TYPE.STRING ? new TextDecoder().decode(to.s ?? new Uint8Array()) === 'STRING' : Number(to?.i) === DATA_TYPE.STRING;
      return isString ? 'float16 values format as different strings' : undefined;
    }
    case 'ScatterElements':
    case 'ScatterND': {
      const reduction = findAttribute(node, 'reduction')?.s;
      const kind = reduction ? new TextDecoder().decode(reduction) : 'none';
      return kind === 'none' ? undefined : `reduction "${kind}" has no float16 kernel in onnxruntime CPU and accumulates in float16`;
    }
    default:
      return undefined;
  }
}

/** The default block list: both groups. */
export const DEFAULT_FP16_BLOCK_LIST: Readonly<Record<string, string>> = { ...ONNXCONVERTER_BLOCK_LIST, ...TANDEM_BLOCK_LIST };

/**
 * Inputs that stay float32 even when their operator runs in float16, by input position (the scales and
 * region of interest of Resize and Upsample, which are typed float32 whatever the data's type).
 */
export const FLOAT32_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Resize: [1, 2],
  Upsample: [1],
};
