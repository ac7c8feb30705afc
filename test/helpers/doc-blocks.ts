/**
 * The fenced blocks of README.md and docs/: every one is either a snippet, marked
 * `<!-- snippet:ID -->` on the line before it and read by a test through `docBlock(document, ID)`
 * (test/docs/doc-snippets.test.ts checks that some test calls exactly that), or an illustration
 * (`<!-- illustration -->`: a grammar, a formula, a diagram), which is never a command.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface FencedBlock {
  readonly document: string;
  readonly line: number;
  readonly language: string;
  readonly text: string;
  /** "snippet:ID", "illustration", or undefined when the block has no marker. */
  readonly marker: string | undefined;
}

export function fencedBlocks(document: string): FencedBlock[] {
  const text = readFileSync(new URL(document, new URL('../..', import.meta.url)), 'utf8');
  const blocks: FencedBlock[] = [];
  for (const match of text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    const before = text.slice(0, match.index).split('\n');
    const previous = before.at(-2) ?? '';
    const marker = /^<!-- (snippet:[\w-]+|illustration) -->$/.exec(previous)?.[1];
    blocks.push({ document, line: before.length, language: match[1]!, text: match[2]!, marker });
  }
  return blocks;
}

/** The text of the block marked `<!-- snippet:ID -->` in `document` (a path from the repository root). */
export function docBlock(document: string, id: string): string {
  const found = fencedBlocks(document).filter((block) => block.marker === `snippet:${id}`);
  if (found.length !== 1) throw new Error(`${document} has ${found.length} blocks marked snippet:${id}`);
  return found[0]!.text;
}
