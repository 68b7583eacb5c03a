/**
 * Runs every ```ts block of docs/pytorch-to-gradfolio.md: each block is self-contained, so it is written
 * to its own module inside this package (where 'gradfolio' resolves) and imported.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = resolve(here, '..');
const docPath = resolve(here, '../../../docs/pytorch-to-gradfolio.md');

interface Block {
  readonly code: string;
  readonly line: number;
  readonly heading: string;
}

/** The ```ts fences of the doc, with the line they start on and the heading above them. */
function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let section = '';
  let cell = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) [section, cell] = [line.slice(3), ''];
    if (line.startsWith('### ')) cell = line.slice(4);
    const heading = `${section} / ${cell}`;
    if (line.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({ code: lines.slice(start, end).join('\n'), line: start, heading });
    i = end;
  }
  return blocks;
}

const blocks = tsBlocks(readFileSync(docPath, 'utf8'));
const dir = mkdtempSync(join(packageDir, '.doc-blocks-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/pytorch-to-gradfolio.md', () => {
  it('has gradfolio blocks for every seed', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(50);
    for (const seed of ['000', '001', '002', '003', '004']) {
      expect(blocks.some((b) => b.heading.startsWith(`Seed ${seed}`))).toBe(true);
    }
  });

  it.each(blocks.map((b, i) => [i, b] as const))('block %i runs', async (i, block) => {
    expect(block.code).toMatch(/import \* as gf from 'gradfolio'/);
    const file = join(dir, `block-${String(i).padStart(3, '0')}.ts`);
    writeFileSync(file, `${block.code}\nexport {};\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await expect(
        import(pathToFileURL(file).href),
        `${block.heading} (doc line ${block.line})`,
      ).resolves.toBeDefined();
    } finally {
      log.mockRestore();
    }
  });
});
