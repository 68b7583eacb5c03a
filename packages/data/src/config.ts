/**
 * Config files (YAML or JSON) for data pipelines, validated against a small schema language. Every
 * error is `CONFIG_ERROR` and names the key path (`data.train_rows`, `data.features[2]`) and the
 * expected and actual types.
 */
import { GradfolioError } from '@gradfolio/tensor';
import { parse as parseYAML, YAMLParseError } from 'yaml';
import type { ReadCSVOptions } from './csv.js';

/** A string, optionally restricted to `enum` values or a minimum length. */
export interface StringSchema {
  /** Matches strings. */
  type: 'string';
  /** The allowed values. */
  enum?: readonly string[];
  /** Minimum length. */
  minLength?: number;
  /** Maximum length. */
  maxLength?: number;
  /** Shown in error messages and documentation. */
  description?: string;
}
/** A finite number (`'number'`) or a safe integer (`'integer'`), optionally bounded (inclusive). */
export interface NumberSchema {
  /** `'integer'` also requires a whole number. */
  type: 'number' | 'integer';
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Shown in error messages and documentation. */
  description?: string;
}
/** `true` or `false`. */
export interface BooleanSchema {
  /** Matches `true` and `false`. */
  type: 'boolean';
  /** Shown in error messages and documentation. */
  description?: string;
}
/** An array whose items all match `items`. */
export interface ArraySchema {
  /** Matches arrays. */
  type: 'array';
  /** The schema every item must match. */
  items: Schema;
  /** Minimum number of items. */
  minItems?: number;
  /** Maximum number of items. */
  maxItems?: number;
  /** Shown in error messages and documentation. */
  description?: string;
}
/**
 * An object with known keys. Keys listed in `optional` may be absent; every other key of `properties`
 * is required. Keys not in `properties` are an error unless `additionalProperties` is `true`.
 */
export interface ObjectSchema {
  /** Matches plain objects. */
  type: 'object';
  /** The schema of each key. */
  properties: Readonly<Record<string, Schema>>;
  /** Keys that may be missing (the others are required). */
  optional?: readonly string[];
  /** Whether keys not in `properties` are allowed (default false: rejected). */
  additionalProperties?: boolean;
  /** Shown in error messages and documentation. */
  description?: string;
}
/** A schema node. */
export type Schema = StringSchema | NumberSchema | BooleanSchema | ArraySchema | ObjectSchema;

type OptionalKeys<S extends ObjectSchema> = S['optional'] extends readonly (infer K)[]
  ? K & keyof S['properties']
  : never;

/**
 * The TypeScript type a value matching schema `S` has (declare schemas `as const`).
 *
 * @example
 * ```ts
 * const s = { type: 'object', properties: { n: { type: 'integer' } } } as const;
 * type C = Infer<typeof s>; // { n: number }
 * ```
 */
export type Infer<S> = S extends StringSchema
  ? S['enum'] extends readonly (infer E)[]
    ? E
    : string
  : S extends NumberSchema
    ? number
    : S extends BooleanSchema
      ? boolean
      : S extends ArraySchema
        ? Array<Infer<S['items']>>
        : S extends ObjectSchema
          ? { [K in Exclude<keyof S['properties'], OptionalKeys<S>>]: Infer<S['properties'][K]> } & {
              [K in OptionalKeys<S>]?: Infer<S['properties'][K]>;
            }
          : unknown;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (v instanceof Date) return 'date';
  return typeof v;
}

function fail(path: string, message: string, expected: string, value: unknown): never {
  const where = path === '' ? '(root)' : path;
  throw new GradfolioError('CONFIG_ERROR', `config: ${where}: ${message}`, {
    op: 'config',
    path: where,
    expected,
    actual: typeName(value),
  });
}

function expectType(path: string, expected: string, value: unknown): never {
  const shown =
    typeof value === 'string' ? ` ${JSON.stringify(value)}` : typeof value === 'number' ? ` ${value}` : '';
  return fail(path, `expected ${expected}, got ${typeName(value)}${shown}`, expected, value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function check(schema: Schema, value: unknown, path: string): unknown {
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string') return expectType(path, 'string', value);
      if (schema.enum && !schema.enum.includes(value)) {
        const expected = `one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`;
        return fail(path, `expected ${expected}, got ${JSON.stringify(value)}`, expected, value);
      }
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        const expected = `string of length >= ${schema.minLength}`;
        return fail(path, `expected ${expected}, got ${JSON.stringify(value)}`, expected, value);
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        const expected = `string of length <= ${schema.maxLength}`;
        return fail(path, `expected ${expected}, got ${JSON.stringify(value)}`, expected, value);
      }
      return value;
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return expectType(path, schema.type, value);
      if (schema.type === 'integer' && !Number.isSafeInteger(value))
        return expectType(path, 'integer', value);
      if (schema.min !== undefined && value < schema.min) {
        return fail(
          path,
          `expected ${schema.type} >= ${schema.min}, got ${value}`,
          `${schema.type} >= ${schema.min}`,
          value,
        );
      }
      if (schema.max !== undefined && value > schema.max) {
        return fail(
          path,
          `expected ${schema.type} <= ${schema.max}, got ${value}`,
          `${schema.type} <= ${schema.max}`,
          value,
        );
      }
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') return expectType(path, 'boolean', value);
      return value;
    case 'array': {
      if (!Array.isArray(value)) return expectType(path, 'array', value);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        const expected = `array of at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`;
        return fail(path, `expected ${expected}, got ${value.length}`, expected, value);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        const expected = `array of at most ${schema.maxItems} items`;
        return fail(path, `expected ${expected}, got ${value.length}`, expected, value);
      }
      return value.map((v, i) => check(schema.items, v, `${path}[${i}]`));
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return expectType(path, 'object', value);
      const obj = value as Record<string, unknown>;
      const optional = new Set(schema.optional ?? []);
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (!(key in obj) || obj[key] === undefined) {
          if (optional.has(key)) continue;
          return fail(
            join(path, key),
            `required key is missing (expected ${describe(sub)})`,
            describe(sub),
            undefined,
          );
        }
        out[key] = check(sub, obj[key], join(path, key));
      }
      for (const key of Object.keys(obj)) {
        if (key in schema.properties) continue;
        if (schema.additionalProperties) {
          out[key] = obj[key];
          continue;
        }
        const known = Object.keys(schema.properties);
        return fail(
          join(path, key),
          `unknown key; expected one of ${known.join(', ')}`,
          `one of ${known.join(', ')}`,
          obj[key],
        );
      }
      return out;
    }
    default:
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `config: bad schema at ${path || '(root)'}: ${JSON.stringify(schema)}`,
        {
          op: 'config',
          path,
        },
      );
  }
}

function describe(schema: Schema): string {
  return schema.type === 'array' ? `array of ${describe(schema.items)}` : schema.type;
}

/**
 * Checks an already-parsed value against `schema` and returns it typed; throws `CONFIG_ERROR` naming
 * the key path and the expected vs actual type.
 *
 * @example
 * ```ts
 * const cfg = validateConfig({ data: { train_rows: 1000 } }, {
 *   type: 'object', properties: { data: { type: 'object', properties: { train_rows: { type: 'integer' } } } },
 * } as const);
 * cfg.data.train_rows; // 1000
 * ```
 */
export function validateConfig<S extends Schema>(value: unknown, schema: S): Infer<S> {
  return check(schema, value, '') as Infer<S>;
}

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** `'yaml'` (default; JSON is valid YAML, but `'json'` gives JSON's stricter parse) or `'json'`. */
  format?: 'yaml' | 'json';
}

/**
 * Parses YAML or JSON config text and validates it against `schema` (seed 001's `yaml.safe_load` plus
 * checking). Syntax errors are `CONFIG_ERROR` with the line; schema errors name the key path.
 *
 * @example
 * ```ts
 * const cfg = parseConfig('data:\n  file_path: BTCUSDT.csv\n  separator: "|"\n  train_rows: 1000\n  features: [timestamp, open]\n', dataConfigSchema);
 * cfg.data.train_rows; // 1000
 * ```
 */
export function parseConfig<S extends Schema>(
  text: string,
  schema: S,
  options: ParseConfigOptions = {},
): Infer<S> {
  if (typeof text !== 'string') {
    throw new GradfolioError('INVALID_ARGUMENT', `parseConfig: expected text, got ${typeName(text)}`, {
      op: 'config',
    });
  }
  const format = options.format ?? 'yaml';
  let value: unknown;
  if (text.trim() === '') {
    throw new GradfolioError('CONFIG_ERROR', 'config: the config is empty', {
      op: 'config',
      path: '(root)',
      line: 1,
    });
  }
  if (format === 'json') {
    try {
      value = JSON.parse(text);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
      throw new GradfolioError(
        'CONFIG_ERROR',
        `config: invalid JSON${line === undefined ? '' : ` on line ${line}`}: ${(e as Error).message}`,
        { op: 'config', path: '(root)', line },
        { cause: e },
      );
    }
  } else {
    try {
      value = parseYAML(text, { uniqueKeys: true, prettyErrors: true });
    } catch (e) {
      const line = e instanceof YAMLParseError ? e.linePos?.[0].line : undefined;
      throw new GradfolioError(
        'CONFIG_ERROR',
        `config: invalid YAML${line === undefined ? '' : ` on line ${line}`}: ${(e as Error).message}`,
        { op: 'config', path: '(root)', line },
        { cause: e },
      );
    }
  }
  return validateConfig(value, schema);
}

/**
 * Reads a YAML (`.yaml`/`.yml`) or JSON (`.json`) config file and validates it (Node only; `node:fs`
 * is imported lazily). The format follows the extension unless given.
 *
 * @example
 * ```ts
 * const cfg = await loadConfig('configs/configs.yaml', dataConfigSchema);
 * const x = await readCSVFile(cfg.data.file_path, dataConfigToCSVOptions(cfg));
 * ```
 */
export async function loadConfig<S extends Schema>(
  path: string,
  schema: S,
  options: ParseConfigOptions = {},
): Promise<Infer<S>> {
  const fs = await import('node:fs/promises');
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new GradfolioError(
      'CONFIG_ERROR',
      `config: cannot read '${path}': ${(e as Error).message}`,
      { op: 'config', path: '(root)', file: path },
      {
        cause: e,
      },
    );
  }
  const format = options.format ?? (path.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
  try {
    return parseConfig(text, schema, { format });
  } catch (e) {
    if (GradfolioError.isInstance(e)) {
      throw new GradfolioError(
        e.code,
        `${e.message} (in ${path})`,
        { ...e.details, file: path },
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * The schema of seed 001's `configs.yaml`: a `data` section with the file path, separator, number of
 * training rows and feature (column) names. Other top-level sections (model, training, ...) are allowed;
 * `data` itself is strict.
 *
 * @example
 * ```ts
 * const cfg = parseConfig(text, dataConfigSchema);
 * cfg.data.features; // ['timestamp', 'open', 'high', 'low', 'close', 'volume']
 * ```
 */
export const dataConfigSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    data: {
      type: 'object',
      properties: {
        file_path: { type: 'string', minLength: 1 },
        separator: { type: 'string', minLength: 1, maxLength: 1 },
        train_rows: { type: 'integer', min: 1 },
        features: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      },
    },
  },
} as const satisfies ObjectSchema;

/** A config matching {@link dataConfigSchema}. */
export type DataConfig = Infer<typeof dataConfigSchema>;

/**
 * Turns a {@link DataConfig} into {@link ReadCSVOptions} the way seed 001 calls `read_csv`: no header,
 * the first `features.length` columns, named by `features`, `train_rows` rows.
 *
 * @example
 * ```ts
 * const t = await readCSVFile(cfg.data.file_path, dataConfigToCSVOptions(cfg));
 * ```
 */
export function dataConfigToCSVOptions(config: DataConfig): ReadCSVOptions {
  const { separator, train_rows, features } = config.data;
  return {
    sep: separator,
    header: false,
    nrows: train_rows,
    usecols: features.map((_, i) => i),
    names: features,
  };
}
