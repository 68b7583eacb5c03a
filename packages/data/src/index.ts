/**
 * `@gradfolio/data`: datasets and loaders with PyTorch's semantics, time-series windows, scalers,
 * CSV/TSV tables through arquero, and validated config files.
 *
 * @packageDocumentation
 */

export {};
