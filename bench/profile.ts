/**
 * Where a request's server time goes: `npm run bench:profile` (`-- --scheme=hmac`, `--depth=1`).
 *
 * Starts the built service pinned to CPU 0 with V8's CPU profiler on, loads it from CPU 1 with
 * wrk (distinct valid tokens, pipelining 10 by default: the server is the bottleneck), stops it
 * with SIGINT so the profile is written, and prints self time by area and by function. "(idle)"
 * is time outside JavaScript: uWS's C++ event loop and the kernel's TCP work (the server runs
 * at 100% CPU, so little of it is true idleness). Printed, not saved: the numbers are for reading.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchArgs, positiveNumber } from './args.js';
import { schemes, targetPrefix, tokengateConfig, tokenLists, waitForPort } from './scenarios.js';

const command = 'npm run bench:profile --';
const args = benchArgs(command, "Where a request's server time goes (V8 CPU profile under wrk); printed, not saved.", {
  scheme: { type: 'string', value: schemes.join('|'), help: 'scheme of the signed URLs (default azion)' },
  depth: { type: 'string', value: 'n', help: 'wrk pipelining depth (default 10)' },
  seconds: { type: 'string', value: 'n', help: 'how long to load (default 6)' },
});
const scheme = (args.scheme ?? 'azion') as (typeof schemes)[number];
const depth = positiveNumber(command, 'depth', args.depth, 10);
const seconds = positiveNumber(command, 'seconds', args.seconds, 6);
if (!schemes.includes(scheme)) {
  process.stderr.write(`${command}: --scheme must be one of ${schemes.join(', ')}\n`);
  process.exit(64);
}
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'tokengate-profile-'));

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/** Which part of the service a profile frame belongs to. */
function area(frame: ProfileNode['callFrame']): string {
  const { functionName: name, url } = frame;
  if (name === '(idle)' || name === '(program)') return 'outside JS: uWS event loop, kernel TCP, syscalls';
  if (name === '(garbage collector)') return 'garbage collection';
  if (url.includes('/uws-engine.')) return 'edge handler incl. uWS native calls (headers in, status out)';
  if (url.includes('/metrics/') || (name === 'now' && url === '')) return 'metrics recording (incl. performance.now)';
  if (url.includes('/http/')) return 'edge (status table)';
  if (url.includes('/schemes/') || url.includes('/scheme-kit/')) return 'token parse + signature check';
  if (url.includes('/request/') || url.includes('/decision/') || url.includes('/base/'))
    return 'URI rules, routing, time and IP parsing';
  if (url.startsWith('node:') || url === '') return 'node:crypto and Node internals';
  return 'other';
}

async function main(): Promise<void> {
  const port = 18_390;
  const file = tokengateConfig(work, port, port + 1, { metrics: true, workers: 1 });
  const uris = tokenLists()[`${scheme} valid, distinct tokens`]!;
  const list = join(work, 'uris.txt');
  writeFileSync(list, `${uris.join('\n')}\n`);
  const child = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      '--cpu-prof',
      `--cpu-prof-dir=${work}`,
      join(root, 'dist/cli/main.js'),
      'serve',
      '--config',
      file,
    ],
    { env: { ...process.env, TOKENGATE_LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((ok) => child.once('exit', ok));
  await waitForPort(port);
  const out = await new Promise<string>((ok, fail) =>
    execFile(
      'taskset',
      [
        '-c',
        '1',
        'env',
        `TOKENGATE_URIS=${list}`,
        `DEPTH=${depth}`,
        // The uws engine's target form (tokengateConfig's default).
        'MODE=target',
        `PREFIX=${targetPrefix}`,
        'wrk',
        '-t1',
        '-c50',
        `-d${seconds}s`,
        '-s',
        join(root, 'bench/wrk-tokens.lua'),
        `http://127.0.0.1:${port}/`,
      ],
      (error, stdout, stderr) => (error ? fail(new Error(stderr)) : ok(stdout)),
    ),
  );
  child.kill('SIGINT');
  await exited;
  const profileFile = readdirSync(work).find((name) => name.endsWith('.cpuprofile'))!;
  const profile = JSON.parse(readFileSync(join(work, profileFile), 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byId.get(id)!.callFrame;
    const where = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    byFunction.set(where, (byFunction.get(where) ?? 0) + 1);
    byArea.set(area(frame), (byArea.get(area(frame)) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const pct = (count: number) => `${((100 * count) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(
    `${scheme}, distinct valid tokens, pipelining ${depth}, ${seconds} s: ${/Requests\/sec:\s+\S+/.exec(out)?.[0]}\n`,
  );
  process.stdout.write('\nself time by area\n');
  for (const [name, count] of [...byArea].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${pct(count)}  ${name}\n`);
  process.stdout.write('\nself time by function (top 20)\n');
  for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    process.stdout.write(`  ${pct(count)}  ${name}\n`);
  }
}

await main();
