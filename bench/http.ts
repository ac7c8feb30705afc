/**
 * HTTP benchmark: `npm run bench` (`npm run bench -- --quick` for a short run).
 *
 * One core serves (every server is pinned to CPU 0 with taskset), the other loads (wrk and
 * autocannon run pinned to CPU 1). Baselines in the same run: uWS hello-world (this engine's
 * physical limit here), node:http hello-world, and a naive node:http + node:crypto validator.
 * tokengate runs as shipped (dist/, a real config file with key files). Every scenario is
 * checked for the expected status before it is measured. Results: bench/results/latest.json,
 * latest.md and latest.svg.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { hmacSigner } from '../src/hmac-signer.js';
import { gateFor } from '../test/helpers/gates.js';
import { signedUrl } from '../test/helpers/signed-url.js';
import { type Row, renderMarkdown, renderSvg } from './report.js';

const quick = process.argv.includes('--quick');
const durationSec = quick ? 3 : 8;
const runs = quick ? 1 : 3;
const connections = 50;
const clientIp = '203.0.113.7';
const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'tokengate-bench-'));
const secrets = { azion: 'bench-azion-secret-0123456789', alta: 'bench-alta-secret-0123456789', hmac: 'ab'.repeat(32) };

function sh(command: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(command, args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) =>
      error ? fail(new Error(`${command}: ${stderr}`)) : ok(stdout),
    ),
  );
}

function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  return new Promise((ok, fail) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        ok();
      });
      socket.once('error', () =>
        Date.now() > deadline ? fail(new Error(`port ${port} never opened`)) : setTimeout(attempt, 50),
      );
    };
    attempt();
  });
}

let nextPort = 18_400;
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function startServer(args: string[], port = nextPort++): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    'taskset',
    ['-c', '0', process.execPath, ...args.map((a) => a.replace('{port}', String(port)))],
    {
      env: { ...process.env, TOKENGATE_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitForPort(port);
  return {
    port,
    stop: () =>
      new Promise((ok) => {
        child.once('exit', () => ok());
        child.kill('SIGTERM');
      }),
  };
}

/** The token lists, one file per scenario, for wrk's Lua script and for autocannon. */
function tokenLists(): Record<string, string[]> {
  const gate = gateFor(
    [
      { prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
      { prefix: '/myc/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
      { prefix: '/tvc/', scheme: 'alta', keys: [{ id: 'k', env: 'B' }] },
    ],
    { A: secrets.azion, B: secrets.alta },
  );
  const now = Math.floor(Date.now() / 1000);
  const hmac = hmacSigner({ keyId: 'k', key: secrets.hmac });
  const sign = {
    azion: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl }),
    alta: (path: string, ttl: number) => signedUrl(gate, { path, expiresSec: now + ttl, notBeforeSec: now - 7200, clientIp }),
    hmac: (path: string, ttl: number) => hmac.sign(path, { ttlSec: ttl, nowSec: now }),
  };
  const prefix = { azion: '/my', alta: '/tv', hmac: '/vod' };
  const lists: Record<string, string[]> = {};
  for (const scheme of ['azion', 'alta', 'hmac'] as const) {
    const distinct = Array.from({ length: 10_000 }, (_, i) => sign[scheme](`${prefix[scheme]}/title-${i}/seg-${i % 7}.ts`, 3600));
    lists[`${scheme} valid, distinct tokens`] = distinct;
    lists[`${scheme} valid, one token repeated, verdict cache on`] = [sign[scheme](`${prefix[scheme]}c/title/seg.ts`, 3600)];
    // One character inside the signed fields or the signature (never the grammar-checked last one).
    lists[`${scheme} forged`] = distinct
      .slice(0, 1000)
      .map((url) => `${url.slice(0, -5)}${url.at(-5) === '1' ? '2' : '1'}${url.slice(-4)}`);
    lists[`${scheme} expired`] = Array.from({ length: 1000 }, (_, i) => sign[scheme](`${prefix[scheme]}/old-${i}.ts`, -60));
  }
  lists['naive validator (azion) valid, distinct tokens'] = lists['azion valid, distinct tokens']!;
  return lists;
}

function tokengateConfig(): string {
  writeFileSync(join(work, 'azion.key'), secrets.azion);
  writeFileSync(join(work, 'alta.key'), secrets.alta);
  writeFileSync(join(work, 'hmac.key'), secrets.hmac);
  const route = (name: string, prefix: string, scheme: string, file: string, verdictCache: boolean) => ({
    name,
    prefix,
    scheme,
    keys: [{ id: 'k', file }],
    verdictCache,
  });
  const file = join(work, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      admin: { port: 0 },
      routes: [
        route('azion', '/my/', 'azion', 'azion.key', false),
        route('alta', '/tv/', 'alta', 'alta.key', false),
        route('hmac', '/vod/', 'hmac', 'hmac.key', false),
        route('azion-cached', '/myc/', 'azion', 'azion.key', true),
        route('alta-cached', '/tvc/', 'alta', 'alta.key', true),
        route('hmac-cached', '/vodc/', 'hmac', 'hmac.key', true),
      ],
    }),
  );
  return file;
}

interface Load {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
async function wrk(port: number, urisFile: string, depth: number): Promise<Load> {
  const out = await sh('taskset', [
    '-c',
    '1',
    'env',
    `TOKENGATE_URIS=${urisFile}`,
    `DEPTH=${depth}`,
    `CLIENT_IP=${clientIp}`,
    'wrk',
    '-t1',
    `-c${connections}`,
    `-d${durationSec}s`,
    '--latency',
    '-s',
    join(root, 'bench', 'wrk-tokens.lua'),
    `http://127.0.0.1:${port}/auth`,
  ]);
  const latency = (pct: string) => {
    const match = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return match ? Number(match[1]) * unitMs[match[2]!]! : Number.NaN;
  };
  // wrk counts responses, so with pipelining this is already requests per second.
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  return { rps, p50Ms: latency('50'), p99Ms: latency('99') };
}

async function autocannonLoad(port: number, uris: string[], depth: number): Promise<Load> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: depth,
    duration: durationSec,
    requests: uris
      .slice(0, 1000)
      .map((uri) => ({ method: 'GET', path: '/auth', headers: { 'x-original-uri': uri, 'x-real-ip': clientIp } })),
  });
  return { rps: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99 };
}

async function status(port: number, uri: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth`, { headers: { 'X-Original-URI': uri, 'X-Real-IP': clientIp } });
  return response.status;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function measure(label: string, port: number, uris: string[], tool: 'wrk' | 'autocannon', depth: number): Promise<Load> {
  const file = join(work, `${label.replace(/\W+/g, '-')}.txt`);
  writeFileSync(file, `${uris.join('\n')}\n`);
  const samples: Load[] = [];
  for (let r = 0; r < runs; r++)
    samples.push(tool === 'wrk' ? await wrk(port, file, depth) : await autocannonLoad(port, uris, depth));
  const load = {
    rps: median(samples.map((s) => s.rps)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
  };
  process.stdout.write(
    `  ${tool.padEnd(10)} depth ${String(depth).padEnd(3)} ${label.padEnd(55)} ${Math.round(load.rps).toString().padStart(8)} req/s  p50 ${load.p50Ms.toFixed(2)} ms  p99 ${load.p99Ms.toFixed(2)} ms\n`,
  );
  return load;
}

async function main(): Promise<void> {
  await sh('npm', ['run', '-s', 'build']);
  const lists = tokenLists();
  const hello = { uri: '/anything', expected: 200 };
  const servers = {
    'uWS hello-world': await startServer([join(root, 'bench/servers/uws-hello.mjs'), '{port}']),
    'node:http hello-world': await startServer([join(root, 'bench/servers/node-hello.mjs'), '{port}']),
    'naive node:http validator': await startServer([join(root, 'bench/servers/naive-node.mjs'), '{port}', secrets.azion]),
  };
  const tokengatePort = nextPort++;
  const configFile = tokengateConfig();
  const config = JSON.parse(await sh('cat', [configFile]));
  config.listeners[0].port = tokengatePort;
  config.admin.port = nextPort++;
  writeFileSync(configFile, JSON.stringify(config));
  const tokengate = await startServer([join(root, 'dist/cli/main.js'), 'serve', '--config', configFile], tokengatePort);
  const rows: Row[] = [];
  try {
    const scenarios: { label: string; port: number; uris: string[]; expected: number }[] = [
      { label: 'uWS hello-world', port: servers['uWS hello-world'].port, uris: [hello.uri], expected: 200 },
      { label: 'node:http hello-world', port: servers['node:http hello-world'].port, uris: [hello.uri], expected: 200 },
      {
        label: 'naive node:http validator (azion, distinct)',
        port: servers['naive node:http validator'].port,
        uris: lists['naive validator (azion) valid, distinct tokens']!,
        expected: 200,
      },
    ];
    for (const [label, uris] of Object.entries(lists)) {
      if (label.startsWith('naive')) continue;
      const expected = label.includes('forged') ? 403 : label.includes('expired') ? 410 : 200;
      scenarios.push({ label: `tokengate ${label}`, port: tokengate.port, uris, expected });
    }
    for (const scenario of scenarios) {
      const got = await status(scenario.port, scenario.uris[0]!);
      if (got !== scenario.expected) throw new Error(`${scenario.label}: expected ${scenario.expected}, got ${got}`);
    }
    for (const depth of [1, 10]) {
      process.stdout.write(
        `\nwrk, ${connections} connections, pipelining ${depth}, ${runs} run(s) of ${durationSec} s, median\n`,
      );
      for (const s of scenarios)
        rows.push({ tool: 'wrk', depth, label: s.label, ...(await measure(s.label, s.port, s.uris, 'wrk', depth)) });
    }
    process.stdout.write(`\nautocannon, ${connections} connections, pipelining 1 (tops out near 45k req/s here)\n`);
    for (const s of scenarios.filter((x) => !x.label.includes('forged') && !x.label.includes('expired'))) {
      rows.push({ tool: 'autocannon', depth: 1, label: s.label, ...(await measure(s.label, s.port, s.uris, 'autocannon', 1)) });
    }
  } finally {
    await Promise.all([tokengate.stop(), ...Object.values(servers).map((s) => s.stop())]);
  }
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: (await sh('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"])).trim(),
    durationSec,
    runs,
    connections,
    command: `npm run bench${quick ? ' -- --quick' : ''}`,
  };
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  writeFileSync(join(out, 'latest.md'), renderMarkdown(meta, rows));
  writeFileSync(join(out, 'latest.svg'), renderSvg(rows));
  process.stdout.write(`\nwrote ${join(out, 'latest.{json,md,svg}')}\n`);
}

await main();
