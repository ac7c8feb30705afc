/**
 * The bench scripts refuse what they do not understand before running anything or writing the
 * tracked results, answer --help with their usage, and say what they are about to run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const results = join(root, 'bench', 'results', 'latest.json');
const snapshot = () => ({ text: readFileSync(results, 'utf8'), mtime: statSync(results).mtimeMs });
const run = (script: string, args: string[]) =>
  spawnSync('node', [join(root, 'dist-bench', 'bench', script), ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });

describe('bench arguments', () => {
  beforeAll(() => {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.bench.json'], { cwd: root, timeout: 120_000 });
  }, 130_000);

  it('`npm run bench -- --help` prints the usage and leaves the results alone', () => {
    const before = snapshot();
    const out = spawnSync('npm', ['run', '-s', 'bench', '--', '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/^usage: npm run bench -- \[options\]/m);
    for (const option of ['--quick', '--only=<group,...>', '--dry-run', '--help']) expect(out.stdout).toContain(option);
    expect(snapshot()).toEqual(before);
  }, 70_000);

  it.each([
    ['http.js', ['--bogus']],
    ['http.js', ['--quick=yes']],
    ['http.js', ['--only=nope']],
    ['http.js', ['--only']],
    ['http.js', ['extra']],
    ['soak.js', ['--secs=5']],
    ['soak.js', ['--seconds=-1']],
    ['soak.js', ['--engine=apache']],
    ['profile.js', ['--scheme=nope']],
    ['ab.js', []],
    ['http-ab.js', []],
    ['http-ab.js', ['--base=/tmp', '--engine=apache']],
    ['http-ab.js', ['--base=/tmp', '--rounds=0']],
    ['micro.js', ['--x']],
    ['cache-memory.js', ['--entries=5']],
    ['cache-memory.js', ['--material=nope']],
    ['revocation-memory.js', ['--entries=0']],
    ['revocation-memory.js', ['--entries=many']],
    ['revocation-memory.js', ['--bogus']],
  ])('%s %j is refused with exit 64 before anything runs', (script, args) => {
    const before = snapshot();
    const out = run(script, args);
    expect(out.status).toBe(64);
    expect(out.stderr).toMatch(/^npm run [\w:-]+ --: /);
    expect(out.stdout).not.toMatch(/wrote|req\/s/);
    expect(snapshot()).toEqual(before);
  });

  it('says which groups it will run and for about how long before it starts (--dry-run stops there)', () => {
    const full = run('http.js', ['--dry-run']);
    expect(full.status).toBe(0);
    expect(full.stdout).toMatch(/^npm run bench: 12 group\(s\), about \d+ min \(3 runs of 6 s per row\):$/m);
    for (const group of [
      'production',
      'one-core',
      'metrics',
      'engines',
      'runtimes',
      'doors',
      'workers',
      'nginx',
      'formats',
      'cloudfront',
      'jwt',
      'state',
    ])
      expect(full.stdout).toMatch(new RegExp(`^  ${group} +~\\d+ min: `, 'm'));
    const fullMinutes = Number(/about (\d+) min/.exec(full.stdout)![1]);
    const part = run('http.js', ['--dry-run', '--quick', '--only=nginx']);
    expect(part.stdout).toMatch(/^npm run bench: 1 group\(s\), about \d+ min \(1 run of 3 s per row\):$/m);
    expect(part.stdout).toContain('(rows of other groups kept)');
    expect(Number(/about (\d+) min/.exec(part.stdout)![1])).toBeLessThan(fullMinutes);
  });
});
