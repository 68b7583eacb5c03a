/**
 * `@gradfolio/data`: datasets and loaders with PyTorch's semantics, time-series windows, scalers,
 * CSV/TSV tables through arquero, and validated config files.
 *
 * ```ts
 * import { DataLoader, TensorDataset, MinMaxScaler, slidingWindows, readNumericCSVFile } from '@gradfolio/data';
 * const prices = await readNumericCSVFile('BTCUSDT.csv', { sep: '|', header: false, usecols: [1, 2, 3, 4, 5] });
 * const scaled = new MinMaxScaler({ featureRange: [-1, 1] }).fitTransform(prices);
 * const { X, y } = slidingWindows(scaled, { lookback: 7, horizon: 1, targetColumns: [3] });
 * for (const [xb, yb] of new DataLoader(new TensorDataset(X, y), { batchSize: 16, shuffle: true })) { ... }
 * ```
 *
 * @packageDocumentation
 */

export { type Collated, defaultCollate } from './collate.js';
export {
  type ArraySchema,
  type BooleanSchema,
  type DataConfig,
  dataConfigSchema,
  dataConfigToCSVOptions,
  type Infer,
  loadConfig,
  type NumberSchema,
  type ObjectSchema,
  type ParseConfigOptions,
  parseConfig,
  type Schema,
  type StringSchema,
  validateConfig,
} from './config.js';
export {
  type ColumnType,
  type CSVSource,
  type DateFormat,
  DEFAULT_NA_VALUES,
  type MissingPolicy,
  type ReadCSVOptions,
  type ReadNumericCSVOptions,
  readCSV,
  readCSVFile,
  readCSVText,
  readNumericCSV,
  readNumericCSVFile,
  type Table,
  type TableToTensorOptions,
  tableToTensor,
  tensorToTable,
} from './csv.js';
export { DataLoader, type DataLoaderOptions } from './dataloader.js';
export {
  ConcatDataset,
  type Dataset,
  type IterableDataset,
  isMapDataset,
  type RandomSplitOptions,
  randomSplit,
  Subset,
  TensorDataset,
} from './dataset.js';
export {
  BatchSampler,
  RandomSampler,
  type RandomSamplerOptions,
  type Sampler,
  SequentialSampler,
  SubsetRandomSampler,
  type SubsetRandomSamplerOptions,
} from './sampler.js';
export {
  MinMaxScaler,
  type MinMaxScalerOptions,
  RobustScaler,
  type RobustScalerOptions,
  Scaler,
  type ScalerJSON,
  StandardScaler,
  type StandardScalerOptions,
} from './scalers.js';
export {
  chronologicalSplit,
  type RowRange,
  type SplitFractions,
  type SplitRanges,
  type TensorSplit,
  type TensorsSplit,
} from './split.js';
export {
  type LagFrame,
  type LagFrameOptions,
  lagFrame,
  slidingWindows,
  type WindowOptions,
  type Windows,
} from './windows.js';
