import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GradfolioError } from '@gradfolio/tensor';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type DataConfig,
  dataConfigSchema,
  dataConfigToCSVOptions,
  loadConfig,
  parseConfig,
  type Schema,
  validateConfig,
} from '../src/config.js';
import { readCSVFile } from '../src/csv.js';

const YAML_PATH = fileURLToPath(new URL('./data/configs.yaml', import.meta.url));
const JSON_PATH = fileURLToPath(new URL('./data/configs.json', import.meta.url));
const SAMPLE = fileURLToPath(new URL('./data/btcusdt_sample.csv', import.meta.url));
const FEATURES = ['timestamp', 'open', 'high', 'low', 'close', 'volume'];

function configError(fn: () => unknown): GradfolioError {
  try {
    fn();
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    expect((e as GradfolioError).code).toBe('CONFIG_ERROR');
    return e as GradfolioError;
  }
  throw new Error('expected CONFIG_ERROR, nothing was thrown');
}

const valid = readFileSync(YAML_PATH, 'utf8');

describe('config: seed 001 Part D', () => {
  it('loads the YAML and JSON configs to the same dictionary', async () => {
    const y = await loadConfig(YAML_PATH, dataConfigSchema);
    const j = await loadConfig(JSON_PATH, dataConfigSchema);
    const want = {
      data: { file_path: '../data/BTCUSDT.csv', separator: '|', train_rows: 1000, features: FEATURES },
    };
    expect(y).toEqual(want);
    expect(j).toEqual(want);
    expectTypeOf(y).toEqualTypeOf<DataConfig>();
    expectTypeOf(y.data.train_rows).toEqualTypeOf<number>();
    expectTypeOf(y.data.features).toEqualTypeOf<string[]>();
  });

  it('drives read_csv like the seed', async () => {
    const cfg = parseConfig(valid, dataConfigSchema);
    const opts = dataConfigToCSVOptions(cfg);
    expect(opts).toEqual({
      sep: '|',
      header: false,
      nrows: 1000,
      usecols: [0, 1, 2, 3, 4, 5],
      names: FEATURES,
    });
    const t = await readCSVFile(SAMPLE, opts);
    expect(t.columnNames()).toEqual(FEATURES);
    expect(t.numRows()).toBe(10);
  });

  it('other top-level sections are allowed, unknown keys inside data are not', () => {
    expect(parseConfig(`${valid}model:\n  hidden: 32\n`, dataConfigSchema)).toHaveProperty('model');
    const e = configError(() => parseConfig(valid.replace('train_rows', 'train_row'), dataConfigSchema));
    expect(e.details).toMatchObject({ path: 'data.train_rows' });
    const u = configError(() => parseConfig(`${valid}  extra: 1\n`, dataConfigSchema));
    expect(u.details.path).toBe('data.extra');
  });
});

describe('config: errors name the key path and expected vs actual type', () => {
  it('wrong scalar type', () => {
    const e = configError(() => parseConfig(valid.replace('1000', '"1000"'), dataConfigSchema));
    expect(e.details).toMatchObject({ path: 'data.train_rows', expected: 'integer', actual: 'string' });
    expect(e.message).toContain('data.train_rows');
    expect(e.message).toContain('expected integer, got string');
    const f = configError(() => parseConfig(valid.replace('1000', '10.5'), dataConfigSchema));
    expect(f.details).toMatchObject({ path: 'data.train_rows', expected: 'integer', actual: 'number' });
    const g = configError(() => parseConfig(valid.replace('1000', '0'), dataConfigSchema));
    expect(g.details).toMatchObject({ path: 'data.train_rows', expected: 'integer >= 1' });
  });

  it('array items and lengths', () => {
    const e = configError(() =>
      parseConfig(valid.replace('[timestamp, open,', '[timestamp, 5,'), dataConfigSchema),
    );
    expect(e.details).toMatchObject({ path: 'data.features[1]', expected: 'string', actual: 'integer' });
    const f = configError(() =>
      parseConfig(valid.replace(/features: .*/, 'features: timestamp'), dataConfigSchema),
    );
    expect(f.details).toMatchObject({ path: 'data.features', expected: 'array', actual: 'string' });
    configError(() => parseConfig(valid.replace(/features: .*/, 'features: []'), dataConfigSchema));
  });

  it('separator must be one character; missing sections', () => {
    const e = configError(() =>
      parseConfig(valid.replace(/separator: .*/, "separator: '||'"), dataConfigSchema),
    );
    expect(e.details.path).toBe('data.separator');
    const m = configError(() => parseConfig('model: {}\n', dataConfigSchema));
    expect(m.details).toMatchObject({ path: 'data', expected: 'object' });
    const r = configError(() => parseConfig('- 1\n', dataConfigSchema));
    expect(r.details).toMatchObject({ path: '(root)', expected: 'object', actual: 'array' });
  });

  it('syntax errors and empty files', () => {
    const y = configError(() => parseConfig('data:\n  a: [1, 2\n', dataConfigSchema));
    expect(y.message).toContain('invalid YAML');
    const dup = configError(() => parseConfig('data: 1\ndata: 2\n', dataConfigSchema));
    expect(dup.message).toContain('invalid YAML');
    const j = configError(() => parseConfig('{\n "data": }', dataConfigSchema, { format: 'json' }));
    expect(j.message).toContain('invalid JSON');
    configError(() => parseConfig('', dataConfigSchema));
  });

  it('a missing file is a CONFIG_ERROR', async () => {
    await expect(loadConfig('/nonexistent/c.yaml', dataConfigSchema)).rejects.toMatchObject({
      code: 'CONFIG_ERROR',
    });
  });
});

describe('config: schema language', () => {
  const schema = {
    type: 'object',
    optional: ['debug'],
    properties: {
      name: { type: 'string' },
      mode: { type: 'string', enum: ['train', 'eval'] },
      lr: { type: 'number', min: 0, max: 1 },
      debug: { type: 'boolean' },
      layers: { type: 'array', items: { type: 'object', properties: { size: { type: 'integer' } } } },
    },
  } as const satisfies Schema;

  it('valid values pass and are typed', () => {
    const v = validateConfig({ name: 'a', mode: 'train', lr: 0.1, layers: [{ size: 3 }] }, schema);
    expect(v.layers[0]?.size).toBe(3);
    expectTypeOf(v.mode).toEqualTypeOf<'train' | 'eval'>();
    expectTypeOf(v.debug).toEqualTypeOf<boolean | undefined>();
    expect(validateConfig({ name: 'a', mode: 'eval', lr: 1, debug: true, layers: [] }, schema).debug).toBe(
      true,
    );
  });

  it('enums, bounds, nested paths, booleans', () => {
    const base = { name: 'a', mode: 'train', lr: 0.1, layers: [{ size: 3 }] };
    const e = configError(() => validateConfig({ ...base, mode: 'test' }, schema));
    expect(e.details).toMatchObject({ path: 'mode', expected: 'one of "train", "eval"' });
    const b = configError(() => validateConfig({ ...base, lr: 2 }, schema));
    expect(b.details).toMatchObject({ path: 'lr', expected: 'number <= 1' });
    const n = configError(() => validateConfig({ ...base, layers: [{ size: 3 }, { size: 'x' }] }, schema));
    expect(n.details).toMatchObject({ path: 'layers[1].size', expected: 'integer', actual: 'string' });
    const d = configError(() => validateConfig({ ...base, debug: 'yes' }, schema));
    expect(d.details).toMatchObject({ path: 'debug', expected: 'boolean', actual: 'string' });
    const nul = configError(() => validateConfig({ ...base, name: null }, schema));
    expect(nul.details).toMatchObject({ path: 'name', actual: 'null' });
  });
});
