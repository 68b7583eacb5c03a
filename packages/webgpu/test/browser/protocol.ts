/**
 * What the browser page (`entry.ts`) and the Node test (`../conformance.browser.test.ts`) exchange.
 */

/** The outcome of one conformance case in the browser. */
export interface CaseResult {
  /** The test's name: the fixture case id, or the random property id. */
  readonly name: string;
  /** The names of its `describe` blocks (suite, op). */
  readonly path: readonly string[];
  readonly status: 'pass' | 'fail' | 'skip';
  /** The skip reason or the failure (message and stack). */
  readonly message?: string;
  readonly ms: number;
}

/** What the page's run resolves to once every case has run. */
export interface RunSummary {
  /** The adapter `initWebGPU` got (vendor, architecture, description), to show which GPU ran. */
  readonly adapter: string;
  readonly results: readonly CaseResult[];
  /** Uncaptured WebGPU errors (validation, out of memory), labelled with the case that was running. */
  readonly gpuErrors: readonly string[];
}

/** Name of the function the page exposes (on `window`) to start the run. */
export const RUN_FUNCTION = '__gradfolioRunConformance';
/** Name of the function Node exposes to the page, called with each {@link CaseResult} as it finishes. */
export const REPORT_FUNCTION = '__gradfolioReportCase';
