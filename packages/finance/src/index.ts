/**
 * `@gradfolio/finance`: returns and risk estimators, differentiable finance losses, exact portfolio
 * optimisers, backtests and metrics for gradfolio.
 *
 * ```ts
 * import { negativeSharpeRatio, sampleCov, simpleReturns } from '@gradfolio/finance';
 * const r = simpleReturns(prices);                 // [T-1, N]
 * const cov = sampleCov(r, { annualize: true });  // x252
 * const loss = negativeSharpeRatio(batchReturns);  // seed 000's loss, differentiable
 * ```
 *
 * @packageDocumentation
 */

export {
  type BacktestOptions,
  type BacktestResult,
  backtest,
  backtestSync,
  type MatrixLike,
  type RebalanceSchedule,
} from './backtest.js';
export {
  type CovarianceOptions,
  type EnsurePSDOptions,
  type EwmCovOptions,
  eigvalsSym,
  ensurePSD,
  ensurePSDAsync,
  ewmCov,
  isPSD,
  isPSDAsync,
  type LedoitWolfOptions,
  ledoitWolf,
  nearestPSD,
  type PSDMode,
  type SampleCovOptions,
  sampleCov,
} from './covariance.js';
export { type MeanVarianceLayerOptions, meanVarianceLayer } from './layer.js';
export {
  type AsymmetricPnLLossOptions,
  asymmetricPnLLoss,
  type CvarOptions,
  cvar,
  type LossReduction,
  type MaxDrawdownLossOptions,
  type MeanVarianceUtilityOptions,
  maxDrawdownLoss,
  meanVarianceUtility,
  type NegativeSharpeRatioOptions,
  negativeSharpeRatio,
  type SharpeLossOptions,
  type SortinoLossOptions,
  sharpeLoss,
  sortinoLoss,
  type TurnoverPenaltyOptions,
  turnoverPenalty,
} from './losses.js';
export {
  type AnnualizationOptions,
  annualReturn,
  annualReturnArithmetic,
  annualVolatility,
  averageGain,
  averageLoss,
  averageTurnover,
  type CalmarRatioOptions,
  calmarRatio,
  downsideRisk,
  hitRate,
  type MaxDrawdownOptions,
  maxDrawdown,
  type PerformanceReport,
  type PerformanceReportOptions,
  performanceReport,
  performanceReportSync,
  type ReturnsLike,
  type SharpeRatioOptions,
  type SortinoRatioOptions,
  sharpeRatio,
  sortinoRatio,
} from './metrics.js';
export {
  type EfficientFrontier,
  type EfficientFrontierOptions,
  type EqualRiskContributionOptions,
  efficientFrontier,
  equalRiskContribution,
  inverseVolatility,
  type MaximumSharpeOptions,
  type MeanVarianceOptions,
  maximumSharpe,
  meanVariance,
  minimumVariance,
  type PortfolioConstraints,
  portfolioReturn,
  portfolioVariance,
  portfolioVolatility,
  riskContributions,
  type SgdMinimumVarianceExampleOptions,
  sgdMinimumVarianceExample,
} from './portfolio.js';
export { type ProjectSimplexOptions, projectSimplex } from './projection.js';
export { type QPSolution, type QuadraticProgram, type SolveQPOptions, solveQP } from './qp.js';
export {
  type AnnualizeReturnOptions,
  annualizeReturn,
  annualizeVolatility,
  type DimOptions,
  type EwmOptions,
  ewmMean,
  ewmStd,
  logReturns,
  type RollingOptions,
  rollingMean,
  rollingStd,
  simpleReturns,
} from './returns.js';
