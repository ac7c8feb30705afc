/**
 * HTTP benchmark: `npm run bench` (`npm run bench -- --quick` for a short run).
 *
 * One core serves (servers pinned to CPU 0 with taskset), the other loads (wrk and autocannon
 * pinned to CPU 1). Baselines in the same run: uWS hello-world (this engine's physical limit
 * here), node:http hello-world, and a naive node:http + node:crypto validator. tokengate runs as
 * shipped (dist/, a real config file with key files, metrics on unless a row says otherwise).
 * Besides req/s and latency, every wrk row reports the server's CPU time per request (from
 * /proc), which does not depend on which side was the bottleneck. Every scenario is checked for
 * its expected status before it is measured. Results: bench/results/latest.{json,md,svg}.
 *
 * Groups: one core (every scheme: distinct tokens, one token repeated with the verdict cache,
 * forged, expired; metrics on and off); workers (1 vs N, both cores shared with wrk);
 * half load (p99 at about half the maximum throughput); nginx (the shipped nginx.example.conf in
 * front of tokengate against nginx's own secure_link check, for the same file); formats (every
 * token format on one core, distinct tokens without the verdict cache, one repeated token with it).
 *
 * Over 250 lines: every HTTP group runs from this one script so each group's baselines are measured in the same run on the same machine state.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as connectHttp2 } from 'node:http2';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { checkHeaders, encodeCheckRequest, envoyClient, grpcMessage } from '../test/helpers/envoy-wire.js';
import { nginxBinary, renderExampleConfig, withTestPaths } from '../test/helpers/nginx.js';
import { benchArgs } from './args.js';
import { type Group, type Row, renderMarkdown, renderSvg } from './report.js';
import {
  type BenchServiceOptions,
  clientIp,
  cloudfrontLists,
  decisionTotals,
  formatLists,
  formatSchemes,
  formOf,
  type PublicKeyFormat,
  productionConfig,
  productionLists,
  type SourceForm,
  schemes,
  secrets,
  stateLists,
  targetPrefix,
  tokengateConfig,
  tokenLists,
  waitForPort,
} from './scenarios.js';

const groups = [
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
] as const;
const args = benchArgs('npm run bench --', 'HTTP benchmark; writes bench/results/latest.{json,md,svg}.', {
  quick: { type: 'boolean', help: 'one run of 3 s per row instead of three of 6 s' },
  only: {
    type: 'string',
    value: 'group,...',
    help: `run only these groups (${groups.join(', ')}); other rows of the last results stay`,
  },
  'dry-run': { type: 'boolean', help: 'print what would run and for how long, run nothing, write nothing' },
});
const quick = args.quick;
const only = args.only?.split(',');
const unknownGroups = only?.filter((name) => !(groups as readonly string[]).includes(name)) ?? [];
if (unknownGroups.length > 0) {
  process.stderr.write(`npm run bench --: --only: unknown group ${unknownGroups.join(', ')} (groups: ${groups.join(', ')})\n`);
  process.exit(64);
}
const runGroup = (name: string) => only === undefined || only.includes(name);
const durationSec = quick ? 3 : 6;
const runs = quick ? 1 : 3;
const connections = 50;
/** Loads of `durationSec` each group runs (rows × runs, or rows × rounds where alternated), and the short probes. */
const plan: Record<(typeof groups)[number], { loads: number; probeSec: number; what: string }> = {
  production: {
    loads: 4 * (quick ? 1 : 3) + 2 * runs + 3 * runs + 2 * runs,
    probeSec: 0,
    what: 'the shipped runtime and default config against node:http and uWS hello-world, 1 and 2 workers, nginx, gRPC',
  },
  'one-core': { loads: 43 * runs, probeSec: quick ? 0 : 56, what: 'every scheme and the baselines on one core, then half load' },
  metrics: { loads: 12 * (quick ? 1 : 5), probeSec: 0, what: 'metrics on and off, alternated' },
  engines: { loads: 18 * (quick ? 1 : 5), probeSec: 0, what: 'uws and node engines, alternated' },
  runtimes: { loads: 9 * (quick ? 1 : 3), probeSec: 0, what: 'Node 24 (node engine) beside Node 20 (both engines), alternated' },
  doors: { loads: 6 * runs, probeSec: 0, what: 'HTTP header form, target form, gRPC' },
  workers: { loads: 12 * runs, probeSec: 0, what: '1 worker against 2, both cores' },
  nginx: { loads: 10 * runs, probeSec: 0, what: 'nginx.example.conf in front against nginx secure_link' },
  formats: { loads: 20 * runs, probeSec: 0, what: 'every token format, distinct tokens and one repeated token' },
  cloudfront: { loads: 7 * runs, probeSec: 0, what: 'CloudFront RSA and ECDSA: distinct, repeated, a 90% hit mix' },
  jwt: { loads: 7 * runs, probeSec: 0, what: 'JWT RS256 and ES256 (jose): distinct, repeated, a 90% hit mix' },
  state: {
    loads: 11 * (quick ? 1 : 5),
    probeSec: 0,
    what: 'revocation (10,000 in force) and each limit, counters in memory and in Redis, alternated',
  },
};
const planned = groups.filter(runGroup);
const plannedSec = planned.reduce((sum, group) => sum + plan[group].loads * (durationSec + 1) + plan[group].probeSec, 0);
process.stdout.write(
  `npm run bench: ${planned.length} group(s), about ${Math.ceil(plannedSec / 60)} min (${quick ? '1 run of 3 s' : '3 runs of 6 s'} per row):\n` +
    planned
      .map(
        (group) =>
          `  ${group.padEnd(9)} ~${Math.ceil((plan[group].loads * (durationSec + 1) + plan[group].probeSec) / 60)} min: ${plan[group].what}\n`,
      )
      .join('') +
    `then writes bench/results/latest.{json,md,svg}${only === undefined ? '' : ' (rows of other groups kept)'}.\n`,
);
if (args['dry-run']) process.exit(0);
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'tokengate-bench-'));
chmodSync(work, 0o755); // nginx's workers (user www-data) read the files under it
// os.cpus(), not availableParallelism(): this script itself runs pinned to the load core.
const cores = cpus().length;
const workerCount = Math.max(2, cores);

function sh(command: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(command, args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${command}: ${stderr}`)) : ok(stdout),
    ),
  );
}

let nextPort = 18_400;
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

interface Server {
  readonly port: number;
  /** tokengate: where its auth listener reads the original request (the requests wrk sends). */
  readonly form?: SourceForm;
  /** Processes whose CPU time is the server's (nginx: master and workers). */
  pids(): Promise<number[]>;
  /** tokengate: its admin port, where wrk rows read the decision-duration histogram before and after. */
  readonly adminPort?: number;
  stop(): Promise<void>;
}

/** Starts `argv` pinned to `cpus` and waits for `port`. */
async function startProcess(argv: string[], port: number, cpus = '0', env: Record<string, string> = {}): Promise<Server> {
  const child: ChildProcess = spawn('taskset', ['-c', cpus, ...argv], {
    env: { ...process.env, TOKENGATE_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitForPort(port);
  return {
    port,
    // taskset execs the program, so the child's pid is the server's; add its children (nginx workers).
    pids: async () => [
      child.pid!,
      ...(await sh('sh', ['-c', `pgrep -P ${child.pid} || true`])).split('\n').filter(Boolean).map(Number),
    ],
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok();
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

const startNode = (args: string[], port = nextPort++, cpus = '0', node = process.execPath) =>
  startProcess([node, ...args.map((a) => a.replace('{port}', String(port)))], port, cpus);

/** The Node 24 binary `npm test` installs (test/install-node24.sh), or TOKENGATE_NODE24. */
const node24 = process.env.TOKENGATE_NODE24 ?? join(root, '.node24/bin/node');

/** utime + stime of the given processes (all their threads), in seconds. */
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks / 100; // USER_HZ
}

async function startTokengate(options: BenchServiceOptions, cpus = '0', node = process.execPath): Promise<Server> {
  const port = nextPort++;
  const file = tokengateConfig(work, port, nextPort++, options);
  const server = await startNode([join(root, 'dist/cli/main.js'), 'serve', '--config', file], port, cpus, node);
  return { ...server, form: formOf(options) };
}

/** How wrk and the status checks reach a server: its source form, or the URIs themselves (nginx). */
const modeOf = (server: Server): 'auth' | 'target' | 'direct' =>
  server.form === undefined ? 'direct' : server.form === 'target' ? 'target' : 'auth';

interface Load {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server CPU time per answered request, µs (wrk only). */
  readonly cpuUs: number;
  /** The part of cpuUs spent by the backend (tokengate behind nginx). */
  readonly backendCpuUs: number;
  /** tokengate's own mean decision time during the load (its histogram), µs; NaN where not read. */
  readonly decisionUs?: number;
}

interface WrkOptions {
  readonly depth: number;
  /** The status every answer must have (200, or 403/410: any non-2xx). */
  readonly expected: number;
  readonly connections?: number;
  readonly seconds?: number;
  /**
   * Default: the server's form ("auth": source headers; "target": the target form), or "direct"
   * (the URIs themselves, through nginx) for servers that are not tokengate; "envoy": Envoy's HTTP ext_authz.
   */
  readonly mode?: 'auth' | 'target' | 'direct' | 'envoy';
  /** Another port of the same server to load (a second listener). */
  readonly port?: number;
  /** CPUs for wrk (default the load core). */
  readonly cpus?: string;
  /** A server behind `server` (tokengate behind nginx): its CPU counts in the total and on its own. */
  readonly backend?: Server;
  /** Send X-Original-Method (the embedded default config's listener reads it). */
  readonly methodHeader?: boolean;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
async function wrk(server: Server, urisFile: string, options: WrkOptions): Promise<Load> {
  const pids = await server.pids();
  const backendPids = (await options.backend?.pids()) ?? [];
  const cpuBefore = cpuSeconds(pids);
  const backendBefore = cpuSeconds(backendPids);
  const decider = options.backend?.adminPort ?? server.adminPort;
  const [decidedBefore, decisionsBefore] = await decisionTotals(decider);
  const out = await sh('taskset', [
    '-c',
    options.cpus ?? '1',
    'env',
    `TOKENGATE_URIS=${urisFile}`,
    `DEPTH=${options.depth}`,
    `CLIENT_IP=${clientIp}`,
    `MODE=${options.mode ?? modeOf(server)}`,
    `PREFIX=${targetPrefix}`,
    ...(options.methodHeader === true ? ['METHOD_HEADER=1'] : []),
    'wrk',
    '-t1',
    `-c${options.connections ?? connections}`,
    `-d${options.seconds ?? durationSec}s`,
    '--latency',
    '-s',
    join(root, 'bench', 'wrk-tokens.lua'),
    `http://127.0.0.1:${options.port ?? server.port}/`,
  ]);
  const backendCpu = cpuSeconds(backendPids) - backendBefore;
  const cpu = cpuSeconds(pids) - cpuBefore + backendCpu;
  const [decidedAfter, decisionsAfter] = await decisionTotals(decider);
  const latency = (pct: string) => {
    const match = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return match ? Number(match[1]) * unitMs[match[2]!]! : Number.NaN;
  };
  // wrk counts responses, so with pipelining this is already requests per second.
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  // Every answer must be the scenario's: all 200, or (forged, expired) none.
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx !== (options.expected === 200 ? 0 : total)) {
    throw new Error(`wrk got ${non2xx} non-2xx answers of ${total}, expected all ${options.expected}:\n${out}`);
  }
  const socketErrors = /Socket errors: .*/.exec(out);
  if (socketErrors !== null) process.stdout.write(`    wrk: ${socketErrors[0]}\n`);
  // wrk times a pipelined batch as one request: its percentiles mean nothing then.
  const pipelined = options.depth > 1;
  return {
    rps,
    p50Ms: pipelined ? Number.NaN : latency('50'),
    p99Ms: pipelined ? Number.NaN : latency('99'),
    cpuUs: (cpu * 1e6) / total,
    backendCpuUs: backendPids.length === 0 ? Number.NaN : (backendCpu * 1e6) / total,
    decisionUs: ((decidedAfter - decidedBefore) * 1e6) / (decisionsAfter - decisionsBefore),
  };
}

async function autocannonLoad(server: Server, uris: string[], depth: number): Promise<Load> {
  const mode = modeOf(server);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections,
    pipelining: depth,
    duration: durationSec,
    requests: uris
      .slice(0, 1000)
      .map((uri) =>
        mode === 'auth'
          ? { method: 'GET', path: '/auth', headers: { 'x-original-uri': uri, 'x-real-ip': clientIp } }
          : { method: 'GET', path: mode === 'target' ? `${targetPrefix}/${clientIp}${uri}` : uri },
      ),
  });
  const none = Number.NaN;
  return { rps: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, cpuUs: none, backendCpuUs: none };
}

async function status(server: Server, uri: string): Promise<number> {
  const mode = modeOf(server);
  const base = `http://127.0.0.1:${server.port}`;
  const response =
    mode === 'auth'
      ? await fetch(`${base}/auth`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': clientIp, 'X-Original-Method': 'GET' } })
      : await fetch(mode === 'target' ? `${base}${targetPrefix}/${clientIp}${uri}` : `${base}${uri}`, {
          headers: mode === 'target' ? { 'X-Original-Method': 'GET' } : {},
        });
  await response.arrayBuffer();
  return response.status;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

const listFiles = new Map<string[], string>();
function fileFor(uris: string[]): string {
  let file = listFiles.get(uris);
  if (file === undefined) {
    file = join(work, `uris-${listFiles.size}.txt`);
    writeFileSync(file, `${uris.join('\n')}\n`);
    listFiles.set(uris, file);
  }
  return file;
}

const rows: Row[] = [];

/** Median of `runs` loads; appends and returns the row. */
async function measure(
  group: Group,
  label: string,
  server: Server,
  uris: string[],
  tool: 'wrk' | 'autocannon',
  options: WrkOptions,
  baseline?: string,
): Promise<Row> {
  const samples: Load[] = [];
  for (let r = 0; r < runs; r++) {
    samples.push(tool === 'wrk' ? await wrk(server, fileFor(uris), options) : await autocannonLoad(server, uris, options.depth));
  }
  return addRow(
    {
      group,
      tool,
      depth: options.depth,
      connections: options.connections ?? connections,
      label,
      ...(baseline ? { baseline } : {}),
    },
    samples,
  );
}

/** A row from the medians of `samples`; printed and kept for the report. */
function addRow(
  what: Pick<Row, 'group' | 'tool' | 'depth' | 'connections' | 'label'> & { baseline?: string },
  samples: Load[],
): Row {
  const row: Row = {
    ...what,
    rps: median(samples.map((s) => s.rps)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    cpuUs: median(samples.map((s) => s.cpuUs)),
    backendCpuUs: median(samples.map((s) => s.backendCpuUs)),
    decisionUs: median(samples.map((s) => s.decisionUs ?? Number.NaN)),
  };
  rows.push(row);
  process.stdout.write(
    `  ${row.tool.padEnd(10)} depth ${String(row.depth).padEnd(3)} c${String(row.connections).padEnd(3)} ${row.label.padEnd(58)} ${Math.round(row.rps).toString().padStart(8)} req/s  p50 ${row.p50Ms.toFixed(2)} ms  p99 ${row.p99Ms.toFixed(2)} ms  cpu ${row.cpuUs.toFixed(2)} µs/req${Number.isNaN(row.backendCpuUs) ? '' : ` (tokengate ${row.backendCpuUs.toFixed(2)})`}${Number.isNaN(row.decisionUs ?? Number.NaN) ? '' : `  decision ${row.decisionUs!.toFixed(2)} µs`}\n`,
  );
  return row;
}

async function expectStatus(server: Server, uri: string, expected: number, label: string) {
  const got = await status(server, uri);
  if (got !== expected) throw new Error(`${label}: expected ${expected}, got ${got}`);
}

const expectedFor = (label: string) => (label.includes('forged') ? 403 : label.includes('expired') ? 410 : 200);

async function oneCore(lists: Record<string, string[]>): Promise<void> {
  const servers = {
    // The baselines get the header form's requests (the naive validator reads X-Original-URI).
    hello: { ...(await startNode([join(root, 'bench/servers/uws-hello.mjs'), '{port}'])), form: 'headers' as const },
    nodeHello: { ...(await startNode([join(root, 'bench/servers/node-hello.mjs'), '{port}'])), form: 'headers' as const },
    naive: {
      ...(await startNode([join(root, 'bench/servers/naive-node.mjs'), '{port}', secrets.azion])),
      form: 'headers' as const,
    },
    // uws, the fast engine, in its target form.
    tokengate: await startTokengate({ metrics: true, workers: 1 }),
  };
  try {
    const scenarios: { label: string; server: Server; uris: string[]; autocannon: boolean; expected: number }[] = [
      { label: 'uWS hello-world', server: servers.hello, uris: ['/anything'], autocannon: true, expected: 200 },
      { label: 'node:http hello-world', server: servers.nodeHello, uris: ['/anything'], autocannon: true, expected: 200 },
      {
        label: 'naive node:http validator (azion, distinct)',
        server: servers.naive,
        uris: lists['azion valid, distinct tokens']!,
        autocannon: true,
        expected: 200,
      },
    ];
    for (const scheme of schemes) {
      for (const kind of ['valid, distinct tokens', 'valid, one token repeated, verdict cache on', 'forged', 'expired']) {
        const label = `${scheme} ${kind}`;
        scenarios.push({
          label: `tokengate ${label}`,
          server: servers.tokengate,
          uris: lists[label]!,
          autocannon: kind.includes('valid'),
          expected: expectedFor(label),
        });
      }
    }
    for (const s of scenarios)
      await expectStatus(s.server, s.uris[0]!, s.label.startsWith('tokengate') ? expectedFor(s.label) : 200, s.label);
    for (const depth of [1, 10]) {
      process.stdout.write(
        `\nwrk, one server core, ${connections} connections, pipelining ${depth}, ${runs} run(s) of ${durationSec} s, median\n`,
      );
      for (const s of scenarios) await measure('one core', s.label, s.server, s.uris, 'wrk', { depth, expected: s.expected });
    }
    process.stdout.write(`\nautocannon, ${connections} connections, pipelining 1 (tops out near 45-75k req/s here)\n`);
    for (const s of scenarios.filter((x) => x.autocannon))
      await measure('one core', s.label, s.server, s.uris, 'autocannon', { depth: 1, expected: s.expected });

    // p99 at about half of the maximum: fewer connections (wrk is closed-loop), the count whose
    // throughput lands nearest to half the maximum measured above.
    process.stdout.write('\nwrk, p99 at about half the maximum throughput (connections chosen to land there)\n');
    for (const label of ['uWS hello-world', ...schemes.map((s) => `tokengate ${s} valid, distinct tokens`)]) {
      const s = scenarios.find((x) => x.label === label)!;
      const max = rows.find((r) => r.group === 'one core' && r.tool === 'wrk' && r.depth === 1 && r.label === label)!.rps;
      let best = { connections: 1, distance: Number.POSITIVE_INFINITY };
      for (const c of [1, 2, 3, 4, 6, 8, 12]) {
        const probe = await wrk(s.server, fileFor(s.uris), { depth: 1, connections: c, seconds: 2, expected: 200 });
        const distance = Math.abs(probe.rps / max - 0.5);
        if (distance < best.distance) best = { connections: c, distance };
        if (probe.rps > max * 0.6) break;
      }
      await measure('half load', label, s.server, s.uris, 'wrk', { depth: 1, connections: best.connections, expected: 200 });
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

/**
 * Services that differ in one setting, measured in alternation (a, b, c, a, b, c...) so machine
 * noise hits all alike; rows are compared with the first service's.
 */
async function alternated(
  group: Group,
  what: string,
  services: readonly (readonly [string, Server])[],
  lists: Record<string, string[]>,
  { rounds = quick ? 1 : 5, depths = [1, 10] }: { rounds?: number; depths?: readonly number[] } = {},
): Promise<void> {
  for (const depth of depths) {
    process.stdout.write(`\nwrk, ${what} in alternation, ${rounds} round(s) of ${durationSec} s, pipelining ${depth}\n`);
    for (const scheme of schemes) {
      const uris = lists[`${scheme} valid, distinct tokens`]!;
      for (const [, server] of services) await expectStatus(server, uris[0]!, 200, `${scheme} ${what}`);
      const samples: Load[][] = services.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (const [i, [, server]] of services.entries())
          samples[i]!.push(await wrk(server, fileFor(uris), { depth, expected: 200 }));
      }
      const labels = services.map(([name]) => `tokengate ${scheme} valid, distinct tokens, ${name}`);
      for (const [i, label] of labels.entries()) {
        addRow({ group, tool: 'wrk', depth, connections, label, baseline: labels[0]! }, samples[i]!);
      }
    }
  }
}

/** Metrics on vs off: what recording every decision costs. */
async function metricsCost(lists: Record<string, string[]>): Promise<void> {
  const on = await startTokengate({ metrics: true, workers: 1 });
  const off = await startTokengate({ metrics: false, workers: 1 });
  try {
    await alternated(
      'metrics',
      'metrics on vs off',
      [
        ['metrics on', on],
        ['metrics off', off],
      ],
      lists,
    );
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
}

/**
 * What the engine choice costs, one server core each: uws in its target form (the fast opt-in),
 * node in the same target form (same bytes), and node in the header form (the default deployment:
 * `npm start` and nginx.example.conf's X-Original-URI and X-Real-IP).
 */
async function engines(lists: Record<string, string[]>): Promise<void> {
  const uws = await startTokengate({ metrics: true, workers: 1, engine: 'uws' });
  const nodeTarget = await startTokengate({ metrics: true, workers: 1, engine: 'node', form: 'target' });
  const nodeHeaders = await startTokengate({ metrics: true, workers: 1, engine: 'node', form: 'headers' });
  try {
    await alternated(
      'engines',
      'uws vs node engine',
      [
        ['uws engine, target form', uws],
        ['node engine, target form', nodeTarget],
        ['node engine, header form (default)', nodeHeaders],
      ],
      lists,
    );
  } finally {
    await Promise.all([uws.stop(), nodeTarget.stop(), nodeHeaders.stop()]);
  }
}

/**
 * Node 24 LTS beside Node 20: the node engine (header form, the default deployment) on each, and
 * the uws engine, which loads on Node 20 only; alternated, pipelining 1, median of 3 rounds.
 */
async function runtimes(lists: Record<string, string[]>): Promise<void> {
  const version = await sh(node24, ['--version']).catch(() => '');
  if (!version.startsWith('v24.')) {
    throw new Error(`runtimes: no Node 24 at ${node24}: run "sh test/install-node24.sh" (or set TOKENGATE_NODE24)`);
  }
  const uws20 = await startTokengate({ metrics: true, workers: 1, engine: 'uws' });
  const node20 = await startTokengate({ metrics: true, workers: 1, engine: 'node', form: 'headers' });
  const node24Headers = await startTokengate({ metrics: true, workers: 1, engine: 'node', form: 'headers' }, '0', node24);
  try {
    await alternated(
      'runtimes',
      `Node ${process.version} against Node ${version.trim()}`,
      [
        [`uws engine, target form, Node ${process.version}`, uws20],
        [`node engine, header form, Node ${process.version}`, node20],
        [`node engine, header form, Node ${version.trim()}`, node24Headers],
      ],
      lists,
      { rounds: quick ? 1 : 3, depths: [1] },
    );
  } finally {
    await Promise.all([uws20.stop(), node20.stop(), node24Headers.stop()]);
  }
}

/** Waits (at most 30 s) until the admin listener's /readyz answers 200: every worker serves. */
async function waitForReady(adminPort: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`tokengate on admin port ${adminPort} was not ready within 30 s`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** h2load against a gRPC port: `body` (one gRPC message) POSTed to Authorization/Check on every stream. */
async function h2load(server: Server, port: number, bodyFile: string, clients: number, streams: number): Promise<Load> {
  const pids = await server.pids();
  const cpuBefore = cpuSeconds(pids);
  const out = await sh('taskset', [
    '-c',
    '1',
    'h2load',
    `-c${clients}`,
    `-m${streams}`,
    '-t1',
    `-D${durationSec}`,
    '-d',
    bodyFile,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    `http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`,
  ]);
  const cpu = cpuSeconds(pids) - cpuBefore;
  const rps = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(out)?.[1]);
  const done = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const succeeded = Number(done?.[3]);
  if (done === null || succeeded === 0 || Number(done[4]) + Number(done[5]) > 0) throw new Error(`h2load: calls failed:\n${out}`);
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  // With -D, answers to calls still in flight at the end are counted in the status codes, not in "succeeded".
  if (statuses === null || Number(statuses[1]) < succeeded || Number(statuses[3]) + Number(statuses[4]) > 0) {
    throw new Error(`h2load: answers other than 200:\n${out}`);
  }
  const none = Number.NaN;
  return { rps, p50Ms: none, p99Ms: none, cpuUs: (cpu * 1e6) / succeeded, backendCpuUs: none };
}

/** One unary call over a raw HTTP/2 client: the response body (a gRPC message) and grpc-status. */
function grpcExchange(port: number, body: Buffer): Promise<{ body: Buffer; status: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ...checkHeaders });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    stream.on('trailers', (trailers) => {
      status = String(trailers['grpc-status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      session.close();
      resolve({ body: Buffer.concat(chunks), status });
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

/**
 * What ships, against the floors of its engines (issue 27): Node 24 and the embedded default
 * config (demo routes, X-Original-Method, the header form), with node:http hello-world on the same
 * runtime and uWS hello-world (Node 20) for the uws engine's target form, every baseline sent the
 * same bytes as the service it is compared with; the four alternated round by round. Then 1 and
 * 2 workers (server and wrk on both cores), nginx.example.conf in front on both engines against
 * nginx's own secure_link, and the gRPC door against a bare node:http2 server answering the same
 * bytes (h2load, 4 connections × 16 streams, one body: the default config's verdict cache hits).
 */
async function production(): Promise<void> {
  const version = await sh(node24, ['--version']).catch(() => '');
  if (!version.startsWith('v24.')) {
    throw new Error(`production: no Node 24 at ${node24}: run "sh test/install-node24.sh" (or set TOKENGATE_NODE24)`);
  }
  const v24 = version.trim();
  const lists = productionLists();
  const startProduction = async (
    options: { workers: number; engine: 'node' | 'uws'; grpcPort?: number },
    cpus: string,
    node: string,
  ): Promise<Server> => {
    const port = nextPort++;
    const adminPort = nextPort++;
    const file = productionConfig(work, port, adminPort, options);
    const server = await startNode([join(root, 'dist/cli/main.js'), 'serve', '--config', file], port, cpus, node);
    // The port answers once claimed; the workers serve once /readyz says so.
    await waitForReady(adminPort);
    return { ...server, adminPort, form: options.engine === 'uws' ? 'target' : 'headers' };
  };
  const headers = { methodHeader: true, expected: 200 } as const;

  // One core, alternated: each row against its engine's hello-world, sent the same bytes.
  {
    const uwsHello = { ...(await startNode([join(root, 'bench/servers/uws-hello.mjs'), '{port}'])), form: 'target' as const };
    const nodeHello = {
      ...(await startNode([join(root, 'bench/servers/node-hello.mjs'), '{port}'], nextPort++, '0', node24)),
      form: 'headers' as const,
    };
    const shipped = await startProduction({ workers: 1, engine: 'node' }, '0', node24);
    const uws = await startProduction({ workers: 1, engine: 'uws' }, '0', process.execPath);
    const services = [
      [`node:http hello-world, ${v24}`, nodeHello, undefined],
      [`tokengate as shipped (node engine, header form, default config), ${v24}`, shipped, `node:http hello-world, ${v24}`],
      [`uWS hello-world, ${process.version}`, uwsHello, undefined],
      [`tokengate uws engine, target form, default config, ${process.version}`, uws, `uWS hello-world, ${process.version}`],
    ] as const;
    try {
      for (const [label, server] of services) await expectStatus(server, lists.distinct[0]!, 200, label);
      const rounds = quick ? 1 : 3;
      process.stdout.write(
        `\nwrk, production: one server core, ${connections} connections, pipelining 1, the four alternated, ${rounds} round(s) of ${durationSec} s\n`,
      );
      const samples: Load[][] = services.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (const [i, [, server]] of services.entries())
          samples[i]!.push(await wrk(server, fileFor(lists.distinct), { depth: 1, ...headers }));
      }
      for (const [i, [label, , baseline]] of services.entries()) {
        addRow(
          { group: 'production', tool: 'wrk', depth: 1, connections, label, ...(baseline === undefined ? {} : { baseline }) },
          samples[i]!,
        );
      }
    } finally {
      await Promise.all([uwsHello.stop(), nodeHello.stop(), shipped.stop(), uws.stop()]);
    }
  }

  // 1 and 2 workers on the shipped runtime: server and wrk share both cores.
  {
    const all = `0-${cores - 1}`;
    process.stdout.write(`\nwrk, production: 1 vs ${workerCount} workers (${v24}), server and wrk on all cores, pipelining 1\n`);
    for (const count of [1, workerCount]) {
      const server = await startProduction({ workers: count, engine: 'node' }, all, node24);
      try {
        await expectStatus(server, lists.distinct[0]!, 200, `${count} workers`);
        const label = `tokengate as shipped, ${count} worker${count > 1 ? 's' : ''}, both cores, ${v24}`;
        await measure('production', label, server, lists.distinct, 'wrk', { depth: 1, cpus: all, ...headers });
      } finally {
        await server.stop();
      }
    }
  }

  // Through nginx.example.conf, both engines, against nginx's own secure_link for the same file.
  {
    const www = join(work, 'www-production');
    mkdirSync(join(www, 'my'), { recursive: true });
    writeFileSync(join(www, 'my', 'video.ts'), Buffer.alloc(4096, 0x47));
    const servers: Server[] = [];
    try {
      const secureLinkPort = nextPort++;
      const secureLink = await startNginx(
        secureLinkConfig(secureLinkPort, www, lists.secret, join(work, `nginx-${secureLinkPort}`)),
        secureLinkPort,
      );
      servers.push(secureLink);
      const setups: { label: string; server: Server; tokengate?: Server }[] = [
        { label: 'nginx secure_link (in-process check), production', server: secureLink },
      ];
      for (const [engine, node, runtime] of [
        ['node', node24, v24],
        ['uws', process.execPath, process.version],
      ] as const) {
        const tokengate = await startProduction({ workers: 1, engine }, '1', node);
        const port = nextPort++;
        const prefix = join(work, `nginx-${port}`);
        const config = renderExampleConfig(
          { listenPort: port, tokengatePort: tokengate.port, prefix, root: www },
          [],
          join(root, 'nginx.example.conf'),
        );
        const proxy = await startNginx(oneNginxWorker(config), port);
        servers.push(tokengate, proxy);
        setups.push({
          label: `nginx auth_request + tokengate (${engine} engine, ${runtime}), production`,
          server: proxy,
          tokengate,
        });
      }
      process.stdout.write(
        '\nwrk, production: nginx with one worker on CPU 0, tokengate and wrk on CPU 1, pipelining 1, 4 KiB file\n',
      );
      for (const setup of setups) {
        await expectStatus(setup.server, lists.oneFile[0]!, 200, setup.label);
        await measure(
          'production',
          setup.label,
          setup.server,
          lists.oneFile,
          'wrk',
          {
            depth: 1,
            mode: 'direct',
            expected: 200,
            ...(setup.tokengate === undefined ? {} : { backend: setup.tokengate }),
          },
          setup.tokengate === undefined ? undefined : setups[0]!.label,
        );
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }

  // The gRPC door against a bare node:http2 server answering the same bytes, both on Node 24.
  {
    const grpcPort = nextPort++;
    const tokengate = await startProduction({ workers: 1, engine: 'node', grpcPort }, '0', node24);
    const servers: Server[] = [tokengate];
    try {
      await waitForPort(grpcPort);
      const request = grpcMessage(
        encodeCheckRequest({ method: 'GET', path: lists.distinct[0]!, headers: { 'x-envoy-external-address': clientIp } }),
      );
      const answered = await grpcExchange(grpcPort, request);
      if (answered.status !== '0') throw new Error(`production gRPC: Check answered grpc-status ${answered.status}, expected 0`);
      const bodyFile = join(work, 'check-request.bin');
      writeFileSync(bodyFile, request);
      const floorPort = nextPort++;
      const floor = await startProcess(
        [node24, join(root, 'bench/servers/http2-floor.mjs'), String(floorPort), answered.body.toString('hex')],
        floorPort,
      );
      servers.push(floor);
      const floorAnswer = await grpcExchange(floorPort, request);
      if (!floorAnswer.body.equals(answered.body) || floorAnswer.status !== '0') {
        throw new Error('production gRPC: the http2 floor does not answer the bytes tokengate answers');
      }
      process.stdout.write(
        `\nh2load, production: gRPC Check, one server core (${v24}), 4 connections × 16 streams, the two alternated round by round\n`,
      );
      const floorLabel = `bare node:http2 answering the same bytes, ${v24}`;
      const doors = [
        { label: floorLabel, server: floor, port: floorPort, samples: [] as Load[] },
        {
          label: `tokengate Envoy gRPC door (node:http2), default config, ${v24}`,
          server: tokengate,
          port: grpcPort,
          samples: [] as Load[],
        },
      ];
      // Alternated (floor, door, floor, door...): this machine's speed drifts between runs, and the ratio is what counts.
      for (let r = 0; r < runs; r++)
        for (const door of doors) door.samples.push(await h2load(door.server, door.port, bodyFile, 4, 16));
      for (const { label, server, samples } of doors) {
        addRow(
          {
            group: 'production',
            tool: 'h2load',
            depth: 16,
            connections: 4,
            label,
            ...(server === tokengate ? { baseline: floorLabel } : {}),
          },
          samples,
        );
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
}

/** Keeps `inFlight` Check calls outstanding for the run; every answer must be an allow. */
async function grpcLoad(server: Server, port: number, uris: string[], inFlight: number): Promise<Load> {
  const client = envoyClient(port);
  const requests = uris.map((uri) =>
    encodeCheckRequest({ method: 'GET', path: uri, headers: { 'x-envoy-external-address': clientIp } }),
  );
  const pids = await server.pids();
  const cpuBefore = cpuSeconds(pids);
  const started = performance.now();
  const deadline = started + durationSec * 1000;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const verdict = await client.check(requests[next++ % requests.length]!);
      if (verdict.code !== 0) throw new Error(`gRPC check answered ${JSON.stringify(verdict)}, expected an allow`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pids) - cpuBefore;
  client.close();
  return { rps: done / seconds, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUs: (cpu * 1e6) / done, backendCpuUs: Number.NaN };
}

/** The same tokens through the nginx-style listener, Envoy HTTP mode and Envoy gRPC mode of one service. */
async function doors(lists: Record<string, string[]>): Promise<void> {
  const envoyHttpPort = nextPort++;
  const grpcPort = nextPort++;
  // The node engine: Envoy HTTP mode reads the client IP from X-Real-IP, which the uws engine refuses.
  const server = await startTokengate({
    metrics: true,
    workers: 1,
    engine: 'node',
    extraListeners: [
      { name: 'envoy-http', port: envoyHttpPort, pathPrefix: '/tokengate', clientIpHeader: 'X-Real-IP' },
      { name: 'envoy-grpc', protocol: 'envoy-grpc', port: grpcPort, clientIpHeader: 'x-envoy-external-address' },
    ],
  });
  await waitForPort(envoyHttpPort);
  await waitForPort(grpcPort);
  const inFlight = 64;
  try {
    process.stdout.write(`\nfront doors, one server core, ${runs} run(s) of ${durationSec} s\n`);
    for (const scheme of ['azion', 'hmac'] as const) {
      const uris = lists[`${scheme} valid, distinct tokens`]!;
      const label = `tokengate ${scheme} valid, distinct tokens`;
      const base = `${label}, nginx-style`;
      await measure('doors', base, server, uris, 'wrk', { depth: 1, expected: 200 }, base);
      await measure(
        'doors',
        `${label}, Envoy HTTP mode`,
        server,
        uris,
        'wrk',
        { depth: 1, expected: 200, mode: 'envoy', port: envoyHttpPort },
        base,
      );
      const samples: Load[] = [];
      for (let r = 0; r < runs; r++) samples.push(await grpcLoad(server, grpcPort, uris, inFlight));
      addRow(
        { group: 'doors', tool: 'grpc-js', depth: 1, connections: inFlight, label: `${label}, Envoy gRPC mode`, baseline: base },
        samples,
      );
    }
  } finally {
    await server.stop();
  }
}

/** 1 worker vs N: the server may use every core, and so may wrk (there is no spare core here). */
async function workers(lists: Record<string, string[]>): Promise<void> {
  const all = `0-${cores - 1}`;
  const servers = {
    one: await startTokengate({ metrics: true, workers: 1 }, all),
    many: await startTokengate({ metrics: true, workers: workerCount }, all),
  };
  try {
    for (const depth of [1, 10]) {
      process.stdout.write(`\nwrk (2 threads), 1 vs ${workerCount} workers, server and wrk on all cores, pipelining ${depth}\n`);
      for (const scheme of schemes) {
        const uris = lists[`${scheme} valid, distinct tokens`]!;
        for (const [count, server] of [
          [1, servers.one],
          [workerCount, servers.many],
        ] as const) {
          await expectStatus(server, uris[0]!, 200, scheme);
          const label = `tokengate ${scheme} valid, distinct tokens, ${count} worker${count > 1 ? 's' : ''}`;
          await measure('workers', label, server, uris, 'wrk', { depth, cpus: all, expected: 200 });
        }
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
}

/** nginx with one worker and no access log (the test paths' log would cost every setup alike). */
function oneNginxWorker(text: string): string {
  const quiet = text.replace(/access_log [^;]+;/, 'access_log off;');
  if (!quiet.includes('worker_processes auto;')) throw new Error('nginx config: no "worker_processes auto;"');
  return quiet.replace('worker_processes auto;', 'worker_processes 1;');
}

/** Starts nginx with `config` (checked with -t first) under its own prefix, pinned to CPU 0. */
async function startNginx(config: string, port: number): Promise<Server> {
  const prefix = join(work, `nginx-${port}`);
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, config);
  await sh(nginxBinary(), ['-t', '-q', '-p', prefix, '-c', file]);
  return startProcess([nginxBinary(), '-p', prefix, '-c', file, '-g', 'daemon off;'], port);
}

/** nginx's own check of the Azion construction (secure_link_md5 "secret$uri$secure_link_expires") for /my/. */
function secureLinkConfig(port: number, www: string, secret: string, prefix: string): string {
  return oneNginxWorker(
    withTestPaths(
      [
        'worker_processes auto;',
        'events { worker_connections 1024; }',
        'http {',
        '    include /etc/nginx/mime.types;',
        '    sendfile on;',
        `    server { listen 127.0.0.1:${port}; root ${www};`,
        '        location /my/ {',
        '            secure_link $arg_st,$arg_e;',
        `            secure_link_md5 "${secret}$uri$secure_link_expires";`,
        '            if ($secure_link = "") { return 403; }',
        '            if ($secure_link = "0") { return 410; }',
        '        }',
        '    }',
        '}',
        '',
      ].join('\n'),
      prefix,
    ),
  );
}

/** The same file behind nginx (one worker): nginx's own secure_link vs auth_request + tokengate. */
async function nginx(lists: Record<string, string[]>): Promise<void> {
  const www = join(work, 'www');
  mkdirSync(join(www, 'my'), { recursive: true });
  writeFileSync(join(www, 'my', 'video.ts'), Buffer.alloc(4096, 0x47));
  const uris = lists['nginx file']!;
  const secureLinkPort = nextPort++;
  const secureLink = await startNginx(
    secureLinkConfig(secureLinkPort, www, secrets.azion, join(work, `nginx-${secureLinkPort}`)),
    secureLinkPort,
  );
  const servers: Server[] = [secureLink];
  try {
    const setups: { label: string; server: Server; tokengate?: Server; uris: string[] }[] = [
      { label: 'nginx secure_link (in-process check)', server: secureLink, uris },
    ];
    for (const [where, cpus, options, engine] of [
      ['tokengate (uws) on the same core', '0', [], 'uws'],
      ['tokengate (uws) on the load core', '1', [], 'uws'],
      ['tokengate (node, the default) on the load core', '1', [], 'node'],
      ['tokengate (uws) on the load core, #[auth-cache] on, one token repeated (HLS)', '1', ['auth-cache'], 'uws'],
    ] as const) {
      const tokengate = await startTokengate({ metrics: true, workers: 1, engine }, cpus);
      const port = nextPort++;
      const prefix = join(work, `nginx-${port}`);
      const config = renderExampleConfig(
        { listenPort: port, tokengatePort: tokengate.port, prefix, root: www },
        options,
        join(root, 'nginx.example.conf'),
      );
      const proxy = await startNginx(oneNginxWorker(config), port);
      servers.push(tokengate, proxy);
      setups.push({
        label: `nginx auth_request + tokengate (nginx.example.conf), ${where}`,
        server: proxy,
        tokengate,
        uris: options.length > 0 ? uris.slice(0, 1) : uris,
      });
    }
    for (const setup of setups) {
      await expectStatus(setup.server, setup.uris[0]!, 200, setup.label);
      await expectStatus(setup.server, setup.uris[0]!.replace('st=', 'st=A'), 403, `${setup.label} (forged)`);
    }
    for (const depth of [1, 10]) {
      process.stdout.write(
        `\nwrk, nginx with one worker on CPU 0, ${connections} connections, pipelining ${depth}, 4 KiB file\n`,
      );
      for (const setup of setups) {
        await measure('nginx', setup.label, setup.server, setup.uris, 'wrk', {
          depth,
          mode: 'direct',
          expected: 200,
          ...(setup.tokengate === undefined ? {} : { backend: setup.tokengate }),
        });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * Every format on one core (uws, target form), pipelining 1: distinct tokens with the verdict
 * cache off, one repeated token with it on; each row against azion's in the same service.
 */
async function formats(): Promise<void> {
  const lists = formatLists();
  const raw = await startTokengate({ metrics: true, workers: 1, routes: 'formats' });
  const nginxUri = await startTokengate({ metrics: true, workers: 1, routes: 'formats-nginx' });
  try {
    process.stdout.write(
      `\nwrk, every format, one server core, ${connections} connections, pipelining 1, ${runs} run(s) of ${durationSec} s\n`,
    );
    for (const [server, schemesHere] of [
      [raw, formatSchemes.filter((s) => s !== 'nginx-secure-link')],
      [nginxUri, ['azion', 'nginx-secure-link'] as const],
    ] as const) {
      const tag = server === raw ? '' : ' (gate with an nginx-secure-link route)';
      const baseline = `tokengate azion valid, distinct tokens${tag}`;
      for (const scheme of schemesHere) {
        for (const kind of ['valid, distinct tokens', 'valid, one token repeated, verdict cache on']) {
          const uris = lists[`${scheme} ${kind}`]!;
          const label = `tokengate ${scheme} ${kind}${tag}`;
          await expectStatus(server, uris[0]!, 200, label);
          await measure('formats', label, server, uris, 'wrk', { depth: 1, expected: 200 }, baseline);
        }
      }
    }
  } finally {
    await Promise.all([raw.stop(), nginxUri.stop()]);
  }
}

/**
 * CloudFront on one core (uws, target form), pipelining 1, RSA 2048 and ECDSA P-256: distinct
 * tokens with the verdict cache off (a signature check per request), one repeated token with it
 * on, and a 90%-hit mix in a service whose cache holds 500 entries; against azion in the same service.
 */
async function cloudfront(format: PublicKeyFormat = 'cloudfront'): Promise<void> {
  const lists = cloudfrontLists(format);
  const main = await startTokengate({ metrics: true, workers: 1, routes: format });
  const small = await startTokengate({ metrics: true, workers: 1, routes: format, cacheEntries: 500 });
  try {
    process.stdout.write(
      `\nwrk, ${format}, one server core, ${connections} connections, pipelining 1, ${runs} run(s) of ${durationSec} s\n`,
    );
    const baseline = `tokengate azion valid, distinct tokens (${format} service)`;
    await measure(format, baseline, main, lists['azion valid, distinct tokens']!, 'wrk', { depth: 1, expected: 200 });
    for (const [name, uris] of Object.entries(lists)) {
      if (!name.startsWith(`${format} `)) continue;
      const server = name.includes('(500 entries)') ? small : main;
      const label = `tokengate ${name}`;
      await expectStatus(server, uris[0]!, 200, label);
      await measure(format, label, server, uris, 'wrk', { depth: 1, expected: 200 }, baseline);
    }
  } finally {
    await Promise.all([main.stop(), small.stop()]);
  }
}

/**
 * Issue 29: what revocation and each limit cost over HTTP, one server core (uws, target form),
 * pipelining 1, distinct links. The same hmac route plain, with revocation (10,000 revocations in
 * force), and with each limit set high enough never to refuse; counters in the service's memory,
 * then in a redis-server of this run's own (on the load core, beside wrk). Each row against the
 * plain route of the same service.
 */
async function stateCost(): Promise<void> {
  const lists = stateLists();
  const redisPort = nextPort++;
  const redis = await startProcess(
    [
      'redis-server',
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    redisPort,
    '1',
  );
  const memory = await startTokengate({ metrics: true, workers: 1, routes: 'state' });
  const shared = await startTokengate({
    metrics: true,
    workers: 1,
    routes: 'state',
    state: { store: 'redis', redis: { url: `redis://127.0.0.1:${redisPort}` } },
  });
  const names: Record<string, string> = {
    '/rv/': 'revocation, 10,000 in force',
    '/lu/': 'limit uses',
    '/lr/': 'limit perSecond',
    '/li/': 'limit clientIps',
    '/lv/': 'limit viewers',
  };
  const rounds = quick ? 1 : 5;
  try {
    process.stdout.write(
      `\nwrk, revocation and limits in alternation, one server core, pipelining 1, ${rounds} round(s) of ${durationSec} s\n`,
    );
    for (const [server, where] of [
      [memory, 'counters in memory'],
      [shared, 'counters in Redis'],
    ] as const) {
      const baseline = `tokengate hmac valid, distinct tokens, no revocation or limits (${where})`;
      // The revocation list is the file's: a Redis service would hold none.
      const measured = [
        [baseline, lists['/vod/']!] as const,
        ...Object.entries(names)
          .filter(([prefix]) => prefix !== '/rv/' || server === memory)
          .map(([prefix, name]) => [`tokengate hmac valid, distinct tokens, ${name} (${where})`, lists[prefix]!] as const),
      ];
      for (const [label, uris] of measured) await expectStatus(server, uris[0]!, 200, label);
      // Rows in alternation (a, b, c, a, b, c...): the machine's noise hits them alike.
      const samples: Load[][] = measured.map(() => []);
      for (let r = 0; r < rounds; r++) {
        for (const [i, [, uris]] of measured.entries())
          samples[i]!.push(await wrk(server, fileFor(uris), { depth: 1, expected: 200 }));
      }
      for (const [i, [label]] of measured.entries()) {
        addRow({ group: 'state', tool: 'wrk', depth: 1, connections, label, baseline }, samples[i]!);
      }
    }
  } finally {
    await Promise.all([memory.stop(), shared.stop(), redis.stop()]);
  }
}

async function main(): Promise<void> {
  await sh('npm', ['run', '-s', 'build']);
  const lists = tokenLists();
  if (runGroup('production')) await production();
  if (runGroup('one-core')) await oneCore(lists);
  if (runGroup('metrics')) await metricsCost(lists);
  if (runGroup('engines')) await engines(lists);
  if (runGroup('runtimes')) await runtimes(lists);
  if (runGroup('doors')) await doors(lists);
  if (runGroup('workers')) await workers(lists);
  if (runGroup('nginx')) await nginx(lists);
  if (runGroup('formats')) await formats();
  if (runGroup('cloudfront')) await cloudfront();
  if (runGroup('jwt')) await cloudfront('jwt');
  if (runGroup('state')) await stateCost();
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  // With --only, the other groups' rows of the previous run stay (each row says when it was measured).
  const measuredAt = new Date().toISOString();
  const cpu = (await sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])).trim();
  for (const row of rows) Object.assign(row, { measuredAt, measuredOn: `${cores} × ${cpu}` });
  if (only !== undefined && existsSync(join(out, 'latest.json'))) {
    const previous = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      meta: { date: string; cores: number; cpu: string };
      rows: Row[];
    };
    const rerun = new Set(rows.map((row) => row.group));
    const kept = previous.rows.filter((row) => !rerun.has(row.group));
    for (const row of kept) {
      const stamped = row as { measuredAt?: string; measuredOn?: string };
      stamped.measuredAt ??= previous.meta.date;
      stamped.measuredOn ??= `${previous.meta.cores} × ${previous.meta.cpu}`;
    }
    rows.unshift(...kept);
  }
  const meta = {
    date: measuredAt,
    node: process.version,
    cpu,
    cores,
    nginx: (await sh('sh', ['-c', `${nginxBinary()} -v 2>&1`])).trim(),
    durationSec,
    runs,
    connections,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  writeFileSync(join(out, 'latest.md'), renderMarkdown(meta, rows));
  writeFileSync(join(out, 'latest.svg'), renderSvg(rows));
  process.stdout.write(`\nwrote ${join(out, 'latest.{json,md,svg}')}\n`);
}

await main();
