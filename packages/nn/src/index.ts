/**
 * `@gradfolio/nn`: modules, layers, losses, init and PyTorch weight interop (state dicts with
 * PyTorch's keys, safetensors) for gradfolio.
 *
 * ```ts
 * import { Linear, Sequential, Sigmoid, MSELoss } from '@gradfolio/nn';
 * const N = new Sequential(new Linear(1, 10), new Sigmoid(), new Linear(10, 1, { bias: false }));
 * console.log(N.toString()); // Sequential(\n  (0): Linear(in_features=1, out_features=10, bias=True) ...
 * const loss = new MSELoss().call(N.call(x), y);
 * ```
 *
 * @packageDocumentation
 */

export {
  ELU,
  GELU,
  type InplaceOptions,
  LeakyReLU,
  LogSoftmax,
  ReLU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Tanh,
} from './activation.js';
export { ModuleDict, ModuleList, Sequential } from './containers.js';
export {
  Conv1d,
  type Conv1dFunctionalOptions,
  type Conv1dOptions,
  type ConvPadding,
  type ConvPaddingMode,
  conv1d,
} from './conv.js';
export {
  Embedding,
  type EmbeddingFunctionalOptions,
  type EmbeddingOptions,
  embedding,
  embeddingRenorm_,
} from './embedding.js';
export * as init from './init.js';
export {
  calculateFanInAndFanOut,
  calculateGain,
  constant_,
  eye_,
  type FanMode,
  type InitOptions,
  type KaimingOptions,
  kaimingNormal_,
  kaimingUniform_,
  type Nonlinearity,
  normal_,
  ones_,
  orthogonal_,
  truncNormal_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
  zeros_,
} from './init.js';
export { Dropout, Flatten, Identity, type LayerFactoryOptions, Linear, Unflatten } from './linear.js';
export {
  BCELoss,
  type BCELossOptions,
  BCEWithLogitsLoss,
  type BCEWithLogitsLossOptions,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  CrossEntropyLoss,
  type CrossEntropyLossOptions,
  crossEntropy,
  GaussianNLLLoss,
  type GaussianNLLLossOptions,
  gaussianNllLoss,
  HuberLoss,
  type HuberLossOptions,
  huberLoss,
  KLDivLoss,
  type KLDivLossOptions,
  klDiv,
  L1Loss,
  Loss,
  type LossOptions,
  l1Loss,
  MSELoss,
  mseLoss,
  NLLLoss,
  type NLLLossOptions,
  nllLoss,
  type Reduction,
  SmoothL1Loss,
  type SmoothL1LossOptions,
  smoothL1Loss,
} from './loss.js';
export {
  type AnyModule,
  isParameter,
  type LoadStateDictResult,
  Module,
  type ModuleToTarget,
  type Parameter,
  parameter,
  type RemovableHandle,
} from './module.js';
export {
  BatchNorm1d,
  type BatchNormFunctionalOptions,
  type BatchNormOptions,
  batchNorm,
  LayerNorm,
  type LayerNormFunctionalOptions,
  type LayerNormOptions,
  layerNorm,
} from './normalization.js';
export {
  applyPermutation,
  type IntList,
  invertPermutation,
  PackedSequence,
  type PackedStep,
  type PackPaddedSequenceOptions,
  type PackSequenceOptions,
  type PadPackedSequenceOptions,
  type PadSequenceOptions,
  packPaddedSequence,
  packSequence,
  padPackedSequence,
  padSequence,
  type UnpadSequenceOptions,
  unpackSequence,
  unpadSequence,
} from './packing.js';
export {
  GRU,
  GRUCell,
  LSTM,
  LSTMCell,
  type LSTMOptions,
  RNN,
  RNNBase,
  type RNNBaseOptions,
  RNNCell,
  RNNCellBase,
  type RNNCellOptions,
  type RNNMode,
  type RNNNonlinearity,
  type RNNOptions,
} from './rnn.js';
export {
  type LoadSafetensorsOptions,
  loadSafetensors,
  loadSafetensorsMetadata,
  parseSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SaveSafetensorsOptions,
  saveSafetensors,
  saveSafetensorsSync,
} from './safetensors.js';
export {
  type ClipGradNormOptions,
  clipGradNorm_,
  clipGradValue_,
  type ParametersInput,
  parametersToVector,
  vectorToParameters,
} from './utils.js';
