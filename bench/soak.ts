/**
 * `npm run soak`: the built service under mixed traffic for a while, checked, not just timed.
 *
 * Keepalive connections on loopback send a shuffled mix of valid, forged, expired, malformed,
 * unrouted, wrong-IP and bad-source requests, each with the status and `X-Token-Status` it must
 * get. Every few seconds the service's own /metrics is read (RSS, event-loop delay). It passes
 * when: every request got an answer (nothing lost), every answer is the expected one (nothing
 * misjudged), the service's per-verdict counters equal what was sent, RSS stops growing after
 * the warm-up, the event-loop delay stays bounded, and the service exits 0 on SIGTERM.
 *
 *   npm run soak -- --seconds=60 [--engine=uws|node] [--workers=1] [--connections=16]
 *                   [--rss-growth-mib=32] [--loop-p99-ms=50] [--loop-max-ms=1000]
 *
 * Event-loop delay is the main thread's: with --workers=1 (the default here) that is the thread
 * that serves. Exit code 0 when every check holds, 1 otherwise.
 *
 * Over 250 lines: traffic, the expected answer of each request, the metric checks and the verdict are one run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/nginx.js';
import { benchArgs, positiveNumber } from './args.js';
import { clientIp, formOf, schemes, targetPrefix, tokengateConfig, tokenLists, waitForPort } from './scenarios.js';

const command = 'npm run soak --';
const args = benchArgs(command, 'The built service under checked mixed traffic; exit 0 when every check holds, 1 otherwise.', {
  seconds: { type: 'string', value: 'n', help: 'how long to send traffic (default 60)' },
  engine: { type: 'string', value: 'uws|node', help: 'HTTP engine (default uws)' },
  workers: { type: 'string', value: 'n', help: 'auth workers (default 1)' },
  connections: { type: 'string', value: 'n', help: 'keepalive connections (default 16)' },
  'rss-growth-mib': { type: 'string', value: 'n', help: 'largest RSS growth after the warm-up (default 32)' },
  'loop-p99-ms': { type: 'string', value: 'n', help: 'largest event-loop delay p99 (default 50)' },
  'loop-max-ms': { type: 'string', value: 'n', help: 'largest event-loop delay (default 1000)' },
});
const settings = {
  seconds: positiveNumber(command, 'seconds', args.seconds, 60),
  engine: args.engine ?? 'uws',
  workers: positiveNumber(command, 'workers', args.workers, 1),
  connections: positiveNumber(command, 'connections', args.connections, 16),
  rssGrowthMiB: positiveNumber(command, 'rss-growth-mib', args['rss-growth-mib'], 32),
  loopP99Ms: positiveNumber(command, 'loop-p99-ms', args['loop-p99-ms'], 50),
  loopMaxMs: positiveNumber(command, 'loop-max-ms', args['loop-max-ms'], 1000),
};
if (settings.engine !== 'uws' && settings.engine !== 'node') {
  process.stderr.write(`${command}: --engine must be uws or node\n`);
  process.exit(64);
}
process.stdout.write(`soak: ${settings.seconds} s of mixed traffic, engine ${settings.engine}, ${settings.workers} worker(s)\n`);
const sampleEveryMs = 5000;
/** A request without an answer for this long counts as lost. */
const answerTimeoutMs = 5000;
/** RSS growth is measured from the first sample after this share of the run. */
const warmUpShare = 0.25;

/** A kind of request, its pre-built bytes, and the answer each must get. */
interface Kind {
  readonly name: string;
  readonly requests: readonly Buffer[];
  readonly status: number;
  readonly tokenStatus: string;
  /** How many of each 100 requests are of this kind. */
  readonly weight: number;
}

/** The engine's source form: uws takes only the target form, node runs the default config's header form. */
const form = formOf({ engine: settings.engine as 'uws' | 'node' });

/** `ip` null: no client IP at all (a proxy deployment error): no header, or an empty IP segment. */
function authRequest(uri: string, ip: string | null): Buffer {
  if (form === 'target')
    return Buffer.from(`GET ${targetPrefix}/${ip ?? ''}${uri} HTTP/1.1\r\nHost: tokengate\r\n\r\n`, 'latin1');
  const ipLine = ip === null ? '' : `X-Real-IP: ${ip}\r\n`;
  return Buffer.from(`GET /auth HTTP/1.1\r\nHost: tokengate\r\nX-Original-URI: ${uri}\r\n${ipLine}\r\n`, 'latin1');
}

function kinds(): Kind[] {
  const lists = tokenLists();
  const all = (uris: readonly string[], ip: string | null = clientIp) => uris.map((uri) => authRequest(uri, ip));
  const out: Kind[] = [];
  for (const scheme of schemes) {
    const valid = lists[`${scheme} valid, distinct tokens`]!;
    out.push(
      { name: `${scheme} valid`, requests: all(valid), status: 200, tokenStatus: 'valid', weight: 14 },
      {
        name: `${scheme} valid, cached route`,
        requests: all(lists[`${scheme} valid, one token repeated, verdict cache on`]!),
        status: 200,
        tokenStatus: 'valid',
        weight: 5,
      },
      { name: `${scheme} forged`, requests: all(lists[`${scheme} forged`]!), status: 403, tokenStatus: 'forged', weight: 6 },
      { name: `${scheme} expired`, requests: all(lists[`${scheme} expired`]!), status: 410, tokenStatus: 'expired', weight: 5 },
    );
  }
  const altaValid = lists['alta valid, distinct tokens']!.slice(0, 1000);
  out.push(
    // The client IP is inside Alta's signature: another address makes it a forgery.
    { name: 'alta from another IP', requests: all(altaValid, '198.51.100.9'), status: 403, tokenStatus: 'forged', weight: 3 },
    {
      name: 'malformed',
      requests: all(['/my/a.ts?st=short&e=1', '/tv/a.ts?token=zz', '/vod/a.ts?tg=1.x']),
      status: 403,
      tokenStatus: 'malformed',
      weight: 2,
    },
    { name: 'missing token', requests: all(['/my/a.ts', '/vod/a.ts?x=1']), status: 403, tokenStatus: 'missing', weight: 2 },
    { name: 'no route', requests: all(['/elsewhere/a.ts?st=x&e=1']), status: 403, tokenStatus: 'no-route', weight: 1 },
    {
      name: 'bad uri',
      requests: all(['/my/../etc/passwd?st=x&e=1', '/my/%zz?st=x&e=1']),
      status: 403,
      tokenStatus: 'bad-uri',
      weight: 1,
    },
    {
      name: 'no client IP header',
      requests: all(['/my/a.ts?st=x&e=1'], null),
      status: 503,
      tokenStatus: 'bad-source',
      weight: 1,
    },
  );
  return out;
}

interface Tally {
  sent: number;
  answered: number;
  misjudged: number;
  example?: string;
}

/** One keepalive connection: send, read the answer, check it, send the next. */
function drive(
  port: number,
  schedule: readonly number[],
  table: readonly Kind[],
  tallies: Tally[],
  offset: number,
  until: () => boolean,
): Promise<{ lost: number; reason: string | undefined }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffered = '';
    let current = -1;
    let step = offset;
    let finished = false;
    // A request held unanswered (what the uWS build does with some malformed requests) is lost.
    let timer: NodeJS.Timeout | undefined;
    const finish = (lost: number, reason?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ lost, reason });
    };
    const next = () => {
      clearTimeout(timer);
      if (until()) return finish(0);
      timer = setTimeout(() => finish(1, `no answer within ${answerTimeoutMs} ms`), answerTimeoutMs);
      current = schedule[step++ % schedule.length]!;
      const kind = table[current]!;
      tallies[current]!.sent++;
      socket.write(kind.requests[step % kind.requests.length]!);
    };
    socket.setEncoding('latin1');
    socket.on('connect', next);
    socket.on('data', (data: string) => {
      buffered += data;
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const kind = table[current]!;
        const tally = tallies[current]!;
        tally.answered++;
        const status = Number(head.slice(9, 12));
        const tokenStatus = /\r\nX-Token-Status: ([^\r]*)/i.exec(head)?.[1];
        if (status !== kind.status || tokenStatus !== kind.tokenStatus) {
          tally.misjudged++;
          tally.example ??= `${status} ${tokenStatus}`;
        }
        next();
      }
    });
    socket.on('error', (error) => finish(1, error.message));
    socket.on('close', () => finish(1, 'the service closed a keepalive connection'));
  });
}

interface Sample {
  atSec: number;
  rssMiB: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

async function scrape(adminPort: number): Promise<{ text: string; sample: Omit<Sample, 'atSec'> }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    text,
    sample: {
      rssMiB: value('process_resident_memory_bytes') / 2 ** 20,
      loopP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
      loopMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    },
  };
}

/** Per-verdict totals of tokengate_requests_total. */
function verdictCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^tokengate_requests_total\{[^}]*verdict="([^"]+)"[^}]*\} (\d+)$/gm)) {
    counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return counts;
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'tokengate-soak-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const configFile = tokengateConfig(work, port, adminPort, {
    metrics: true,
    workers: settings.workers,
    engine: settings.engine as 'uws' | 'node',
  });
  const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  const service: ChildProcess = spawn(process.execPath, [cli, 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  service.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => service.once('exit', resolve));
  try {
    await Promise.all([waitForPort(port), waitForPort(adminPort)]);
  } catch (error) {
    service.kill('SIGKILL');
    throw new Error(`the service did not start: ${(error as Error).message}\n${stderr}`);
  }

  const table = kinds();
  const schedule = table.flatMap((kind, i) => Array<number>(kind.weight).fill(i));
  // A fixed shuffle (xorshift), so runs are comparable.
  let seed = 0x2545f491;
  for (let i = schedule.length - 1; i > 0; i--) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const j = (seed >>> 0) % (i + 1);
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  const tallies: Tally[] = table.map(() => ({ sent: 0, answered: 0, misjudged: 0 }));
  const started = Date.now();
  const deadline = started + settings.seconds * 1000;
  console.log(
    `soak: ${settings.seconds} s, engine ${settings.engine}, ${settings.workers} worker(s), ${settings.connections} keepalive connections, ${table.length} kinds of request`,
  );

  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    scrape(adminPort).then(
      ({ sample }) => {
        samples.push({ atSec: (Date.now() - started) / 1000, ...sample });
        const sent = tallies.reduce((sum, t) => sum + t.sent, 0);
        console.log(
          `  ${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s  ${String(sent).padStart(9)} requests  RSS ${sample.rssMiB.toFixed(1)} MiB  loop p99 ${sample.loopP99Ms.toFixed(1)} ms, max ${sample.loopMaxMs.toFixed(1)} ms`,
        );
      },
      (error: Error) => console.log(`  metrics scrape failed: ${error.message}`),
    );
  }, sampleEveryMs);
  const drivers = await Promise.all(
    Array.from({ length: settings.connections }, (_, c) =>
      drive(port, schedule, table, tallies, c * 7, () => Date.now() >= deadline),
    ),
  );
  clearInterval(sampler);
  const elapsedSec = (Date.now() - started) / 1000;
  const final = await scrape(adminPort);
  samples.push({ atSec: elapsedSec, ...final.sample });

  const problems: string[] = [];
  const lost = drivers.reduce((sum, d) => sum + d.lost, 0) + tallies.reduce((sum, t) => sum + t.sent - t.answered, 0);
  if (lost > 0) {
    problems.push(`${lost} request(s) lost: ${drivers.find((d) => d.reason !== undefined)?.reason ?? 'unanswered'}`);
  }
  console.log('\n| kind | sent | expected | misjudged |\n|---|---:|---|---:|');
  for (const [i, kind] of table.entries()) {
    const tally = tallies[i]!;
    console.log(`| ${kind.name} | ${tally.sent} | ${kind.status} ${kind.tokenStatus} | ${tally.misjudged} |`);
    if (tally.misjudged > 0) {
      problems.push(
        `${kind.name}: ${tally.misjudged} misjudged (e.g. got ${tally.example}, expected ${kind.status} ${kind.tokenStatus})`,
      );
    }
    if (tally.sent === 0) problems.push(`${kind.name}: never sent (run longer)`);
  }
  // The service's own counters must equal what was sent, verdict by verdict.
  const sentByVerdict = new Map<string, number>();
  for (const [i, kind] of table.entries()) {
    const verdict = kind.tokenStatus;
    sentByVerdict.set(verdict, (sentByVerdict.get(verdict) ?? 0) + tallies[i]!.answered);
  }
  const counted = verdictCounts(final.text);
  for (const verdict of new Set([...sentByVerdict.keys(), ...counted.keys()])) {
    const sent = sentByVerdict.get(verdict) ?? 0;
    const seen = counted.get(verdict) ?? 0;
    if (sent !== seen) problems.push(`verdict ${verdict}: sent ${sent}, the service counted ${seen}`);
  }
  const total = tallies.reduce((sum, t) => sum + t.answered, 0);
  const after = samples.filter((s) => s.atSec >= elapsedSec * warmUpShare);
  const baseline = after[0] ?? samples[0];
  const peakRss = Math.max(...after.map((s) => s.rssMiB));
  const growth = baseline === undefined ? Number.NaN : peakRss - baseline.rssMiB;
  const worstP99 = Math.max(...samples.map((s) => s.loopP99Ms));
  const worstMax = Math.max(...samples.map((s) => s.loopMaxMs));
  if (!(growth <= settings.rssGrowthMiB)) {
    problems.push(`RSS grew ${growth.toFixed(1)} MiB after the warm-up (bound ${settings.rssGrowthMiB} MiB)`);
  }
  if (!(worstP99 <= settings.loopP99Ms))
    problems.push(`event-loop delay p99 ${worstP99.toFixed(1)} ms (bound ${settings.loopP99Ms} ms)`);
  if (!(worstMax <= settings.loopMaxMs))
    problems.push(`event-loop delay max ${worstMax.toFixed(1)} ms (bound ${settings.loopMaxMs} ms)`);

  service.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))]);
  if (code !== 0) problems.push(`the service did not exit 0 on SIGTERM (got ${code})`);
  if (/"level":"(error|fatal)"/.test(stderr)) problems.push('the service logged errors (see its stderr below)');
  rmSync(work, { recursive: true, force: true });

  console.log(
    `\n${total} requests in ${elapsedSec.toFixed(1)} s (${Math.round(total / elapsedSec)} req/s); service counters match: ${problems.every((p) => !p.startsWith('verdict'))}`,
  );
  console.log(
    `RSS ${baseline?.rssMiB.toFixed(1)} MiB after warm-up, peak ${peakRss.toFixed(1)} MiB (growth ${growth.toFixed(1)} MiB, bound ${settings.rssGrowthMiB}); event-loop delay worst p99 ${worstP99.toFixed(1)} ms (bound ${settings.loopP99Ms}), worst max ${worstMax.toFixed(1)} ms (bound ${settings.loopMaxMs})`,
  );
  if (problems.length === 0) {
    console.log('soak: PASS');
    return 0;
  }
  console.log(`soak: FAIL\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (/"level":"(error|fatal)"/.test(stderr)) console.log(stderr);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`soak: cannot run: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
