/**
 * README.md and docs/ are for users: every relative link resolves to a file of this repository
 * (and every #anchor to a heading there), nothing points outside it, and README.md stays short.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// docs/ and its folders (docs/formats/): every page is checked.
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' }).map((name) => join('docs', name)),
].filter((name) => name.endsWith('.md'));

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to "-". */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Relative links of a Markdown file (outside code blocks and inline code). */
function linksOf(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^(https?:|mailto:)/.test(target));
}

describe('documentation', () => {
  it.each(documents)('%s: every relative link resolves inside the repository', (document) => {
    const file = join(root, document);
    const text = readFileSync(file, 'utf8');
    const links = linksOf(text);
    for (const link of links) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : resolve(dirname(file), path);
      expect(relative(root, target).startsWith('..'), `${document}: ${link} leaves the repository`).toBe(false);
      expect(existsSync(target), `${document}: ${link} does not exist`).toBe(true);
      if (anchor !== undefined && target.endsWith('.md')) {
        expect(anchorsOf(target).has(anchor), `${document}: ${link} names no heading`).toBe(true);
      }
    }
    // Nothing refers to the developers' notes outside the repository.
    expect(text).not.toMatch(/DESIGN\.md|STYLE\.md|\.\.\/shared/);
  });

  it("no file of the repository points at the developers' notes outside it", () => {
    const tracked = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? tracked(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    const files = ['src', 'test', 'bench', 'deploy', 'docs']
      .flatMap(tracked)
      .concat(['README.md', 'nginx.example.conf', 'package.json', '.ci/run'])
      .filter((file) => file !== join('test', 'docs', 'docs.test.ts') && !file.startsWith(join('bench', 'results')));
    const pointing = files.filter((file) => /DESIGN\.md|STYLE\.md|\.\.\/shared/.test(readFileSync(join(root, file), 'utf8')));
    expect(pointing).toEqual([]);
  });

  it('README.md is short: what it is, the tested quickstart, the answers, one route, links', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(150);
    // README links every page of docs/; the index of a folder links every page of the folder.
    for (const document of documents.filter((name) => name !== 'README.md')) {
      const folder = dirname(document);
      if (folder === 'docs') expect(readme, document).toContain(`](${document})`);
      else {
        expect(readme, `${folder}/README.md`).toContain(`](${folder}/README.md)`);
        const index = readFileSync(join(root, folder, 'README.md'), 'utf8');
        if (!document.endsWith('/README.md')) expect(index, document).toContain(`](${relative(folder, document)})`);
      }
    }
  });
});
