/**
 * Two builds served over HTTP in alternation: `npm run bench:http-ab -- --base=DIR` where DIR is
 * the root of another checkout with its `dist/` built (e.g. `git worktree add /tmp/base <rev>`,
 * link this checkout's node_modules there, `npx tsc -p tsconfig.build.json` in it). This build is
 * `dist/`. Each round loads node:http hello-world, the base and this build for `--seconds`
 * each (wrk on CPU 1, the servers pinned to CPU 0, Node 24 and the node engine unless
 * `--engine=uws`), so machine noise hits the three alike. Reported per build: median req/s, the
 * median of each round's ratio to hello-world, server CPU µs per request, and the mean decision
 * time read from each service's own histogram during the load.
 *
 * Why over HTTP and not in a loop (`npm run bench:ab`): a decision in a tight loop keeps its code
 * and data in the CPU's caches; between two requests of a serving process the kernel and the HTTP
 * parser have evicted them. crypto.hash cost the same as an MD5 in JavaScript in a loop and twice
 * as much in the serving process (docs/performance.md, "Every core").
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { benchArgs, positiveNumber } from './args.js';
import { clientIp, decisionTotals, schemes, targetPrefix, tokengateConfig, tokenLists, waitForPort } from './scenarios.js';

const command = 'npm run bench:http-ab --';
const args = benchArgs(command, 'This build against another over HTTP, in alternation with node:http or uWS hello-world.', {
  base: { type: 'string', value: 'dir', help: 'root of the other checkout (its dist/ built); required' },
  scheme: { type: 'string', value: schemes.join('|'), help: 'the signed URLs (default azion)' },
  engine: { type: 'string', value: 'node|uws', help: 'node: Node 24, header form (default); uws: Node 20, target form' },
  rounds: { type: 'string', value: 'n', help: 'rounds (default 8)' },
  seconds: { type: 'string', value: 'n', help: 'seconds per load (default 2)' },
});
if (args.base === undefined) {
  process.stderr.write(`${command}: --base=DIR is required (a checkout whose dist/ is built)\n`);
  process.exit(64);
}
const scheme = (args.scheme ?? 'azion') as (typeof schemes)[number];
if (!schemes.includes(scheme)) {
  process.stderr.write(`${command}: --scheme must be one of ${schemes.join(', ')}\n`);
  process.exit(64);
}
const engine = (args.engine ?? 'node') as 'node' | 'uws';
if (!['node', 'uws'].includes(engine)) {
  process.stderr.write(`${command}: --engine must be node or uws\n`);
  process.exit(64);
}
const rounds = positiveNumber(command, 'rounds', args.rounds, 8);
const seconds = positiveNumber(command, 'seconds', args.seconds, 2);
const root = resolve('.');
const base = resolve(args.base);
const node24 = process.env.TOKENGATE_NODE24 ?? join(root, '.node24/bin/node');
const node = engine === 'node' ? node24 : process.execPath;
const form = engine === 'node' ? 'headers' : 'target';
const work = mkdtempSync(join(tmpdir(), 'tokengate-http-ab-'));
const uris = join(work, 'uris.txt');
writeFileSync(uris, `${tokenLists()[`${scheme} valid, distinct tokens`]!.join('\n')}\n`);

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

interface Served {
  readonly label: string;
  readonly pid: number;
  readonly port: number;
  readonly adminPort?: number;
}

let nextPort = 18_700;
async function start(label: string, argv: string[], port: number, adminPort?: number): Promise<Served> {
  const child = spawn('taskset', ['-c', '0', node, ...argv], {
    env: { ...process.env, TOKENGATE_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitForPort(port);
  if (adminPort !== undefined) await waitForPort(adminPort);
  return { label, pid: child.pid!, port, ...(adminPort === undefined ? {} : { adminPort }) };
}

async function startBuild(label: string, dir: string): Promise<Served> {
  const port = nextPort++;
  const adminPort = nextPort++;
  const file = tokengateConfig(work, port, adminPort, { metrics: true, workers: 1, engine, form });
  return start(label, [join(dir, 'dist/cli/main.js'), 'serve', '--config', file], port, adminPort);
}

const cpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

interface Sample {
  readonly rps: number;
  readonly cpuUs: number;
  readonly decisionUs: number;
}

async function load(served: Served): Promise<Sample> {
  const cpuBefore = cpuSeconds(served.pid);
  const [sumBefore, countBefore] = await decisionTotals(served.adminPort);
  const out = execFileSync('taskset', [
    '-c',
    '1',
    'env',
    `TOKENGATE_URIS=${uris}`,
    'DEPTH=1',
    `CLIENT_IP=${clientIp}`,
    `MODE=${form === 'headers' ? 'auth' : 'target'}`,
    `PREFIX=${targetPrefix}`,
    'wrk',
    '-t1',
    '-c50',
    `-d${seconds}s`,
    '-s',
    join(root, 'bench/wrk-tokens.lua'),
    `http://127.0.0.1:${served.port}/`,
  ]).toString();
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (!(total > 0) || non2xx > 0) throw new Error(`${served.label}: ${non2xx} of ${total} answers were not 200:\n${out}`);
  const [sumAfter, countAfter] = await decisionTotals(served.adminPort);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    cpuUs: ((cpuSeconds(served.pid) - cpuBefore) * 1e6) / total,
    decisionUs: ((sumAfter - sumBefore) * 1e6) / (countAfter - countBefore),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

async function main(): Promise<void> {
  const helloPort = nextPort++;
  const hello =
    engine === 'node'
      ? await start('node:http hello-world', [join(root, 'bench/servers/node-hello.mjs'), String(helloPort)], helloPort)
      : await start('uWS hello-world', [join(root, 'bench/servers/uws-hello.mjs'), String(helloPort)], helloPort);
  const served = [hello, await startBuild(`base (${base})`, base), await startBuild('this build', root)];
  const samples: Sample[][] = served.map(() => []);
  process.stdout.write(
    `${scheme}, distinct valid tokens, ${engine} engine on ${execFileSync(node, ['--version']).toString().trim()}, ${form} form; ${rounds} rounds of ${seconds} s, wrk -c50 on CPU 1, servers on CPU 0\n`,
  );
  for (let round = 0; round < rounds; round++) {
    for (const [i, server] of served.entries()) samples[i]!.push(await load(server));
  }
  for (const [i, server] of served.entries()) {
    const mine = samples[i]!;
    const ratio = median(mine.map((sample, round) => sample.rps / samples[0]![round]!.rps));
    const decision = median(mine.map((sample) => sample.decisionUs));
    process.stdout.write(
      `  ${server.label.padEnd(48)} ${Math.round(median(mine.map((s) => s.rps)))
        .toString()
        .padStart(
          7,
        )} req/s  ${(100 * ratio).toFixed(0).padStart(4)}% of ${hello.label}  cpu ${median(mine.map((s) => s.cpuUs)).toFixed(2)} µs/req${Number.isNaN(decision) ? '' : `  decision ${decision.toFixed(2)} µs`}\n`,
    );
  }
}

await main();
process.exit(0);
