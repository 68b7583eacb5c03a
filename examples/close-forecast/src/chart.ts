/**
 * Vega-Lite specs rendered to SVG in Node (no browser, no canvas: `renderer: 'none'`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

/**
 * Compiles a Vega-Lite spec, renders it headless and writes `<dir>/<name>.svg`; returns the path.
 *
 * @example
 * ```ts
 * await writeSVG({ data: { values: [{ x: 1, y: 2 }] }, mark: 'point', encoding: {} }, 'report', 'demo');
 * ```
 */
export async function writeSVG(spec: vegaLite.TopLevelSpec, dir: string, name: string): Promise<string> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.svg`);
  writeFileSync(path, svg);
  return path;
}
