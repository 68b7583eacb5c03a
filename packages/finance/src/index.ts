/**
 * `@gradfolio/finance`: returns and risk estimators, differentiable finance losses, exact portfolio
 * optimisers, backtests and metrics for gradfolio.
 *
 * @packageDocumentation
 */

export {};
