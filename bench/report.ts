/** Renders benchmark rows as Markdown tables and an SVG bar chart (no dependencies). */
export type Group =
  | 'production'
  | 'one core'
  | 'half load'
  | 'metrics'
  | 'engines'
  | 'runtimes'
  | 'doors'
  | 'workers'
  | 'nginx'
  | 'formats'
  | 'cloudfront'
  | 'jwt'
  | 'state';

export interface Row {
  readonly group: Group;
  readonly tool: 'wrk' | 'autocannon' | 'grpc-js' | 'h2load';
  readonly depth: number;
  readonly connections: number;
  readonly label: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Server CPU time per answered request, µs (NaN for autocannon rows). */
  readonly cpuUs: number;
  /** Of cpuUs, what tokengate spent behind nginx (NaN elsewhere). */
  readonly backendCpuUs: number;
  /** Label of the row this one is compared with (its own baseline), when the group says so. */
  readonly baseline?: string;
  /** tokengate's mean decision time during the load, from its own histogram (µs); NaN or absent where not read. */
  readonly decisionUs?: number;
}

const groups: Record<Group, { title: string; baselines: readonly [string, string][]; backend?: boolean; decision?: boolean }> = {
  production: {
    title:
      'As shipped (Node 24, the embedded default config) against the floors of its engines: node:http and uWS hello-world sent the same bytes (one server core, the four alternated), 1 and 2 workers, through nginx.example.conf against nginx secure_link, the gRPC door against a bare node:http2 server answering the same bytes (h2load: pipelining = streams per connection)',
    baselines: [['vs its baseline', '=baseline']],
    backend: true,
    decision: true,
  },
  'one core': {
    title: 'One server core (CPU 0), load generator on CPU 1',
    baselines: [
      ['vs uWS hello-world', 'uWS hello-world'],
      ['vs naive validator', 'naive'],
    ],
  },
  metrics: {
    title: 'Metrics on vs off (one server core; the two services measured in alternation, median of 5 rounds)',
    baselines: [['vs metrics on', '=baseline']],
  },
  engines: {
    title:
      'Engines (one server core): uws in its target form, node in the same target form, node in the header form (the default deployment); the three services measured in alternation, median of 5 rounds',
    baselines: [['vs uws engine', '=baseline']],
  },
  runtimes: {
    title:
      'Node 24 LTS beside Node 20 (one server core): the node engine in the header form on each, the uws engine (Node 20 only) in its target form; the three services measured in alternation, median of 3 rounds',
    baselines: [['vs uws on Node 20', '=baseline']],
  },
  doors: {
    title:
      'Front doors (one server core, load on CPU 1): the same tokens as nginx-style headers, Envoy HTTP mode (wrk) and Envoy gRPC mode (a grpc-js client in the bench process, which is the bottleneck: compare CPU µs/req)',
    baselines: [['vs nginx-style headers', '=baseline']],
  },
  'half load': {
    title: 'Latency at about half the maximum throughput (wrk with fewer connections; one server core)',
    baselines: [],
  },
  workers: {
    title: '1 worker vs one per core; server and wrk share every core (no spare core for the load here)',
    baselines: [],
  },
  formats: {
    title:
      "Every token format (uws, one server core, load on CPU 1): distinct tokens with the verdict cache off, one token repeated with it on; nginx-secure-link in a service of its own (routes chosen on nginx's $uri), with azion beside it",
    baselines: [['vs azion, same service', '=baseline']],
  },
  jwt: {
    title:
      'JWT, verified by jose (uws, one server core, load on CPU 1): distinct tokens with the verdict cache off (a verification per request), one token repeated with it on, a 90%-hit mix (500-entry cache); azion in the same service',
    baselines: [['vs azion, same service', '=baseline']],
  },
  cloudfront: {
    title:
      'CloudFront (uws, one server core, load on CPU 1): distinct tokens with the verdict cache off (a signature check per request), one token repeated with it on, a 90%-hit mix (500-entry cache); azion in the same service',
    baselines: [['vs azion, same service', '=baseline']],
  },
  state: {
    title:
      'Revocation and limits (uws, one server core, wrk on CPU 1): one hmac route plain, with 10,000 revocations in force, and with each limit (never reached); counters in memory, then in Redis (redis-server on CPU 1 beside wrk)',
    baselines: [['vs the plain route, same service', '=baseline']],
  },
  nginx: {
    title: 'End to end through nginx (one nginx worker on CPU 0, wrk on CPU 1), one 4 KiB file, distinct tokens',
    baselines: [['vs nginx secure_link', 'nginx secure_link']],
    backend: true,
  },
};

const same = (a: Row, b: Row) => a.group === b.group && a.tool === b.tool && a.depth === b.depth;
const baselineOf = (rows: readonly Row[], row: Row, prefix: string) =>
  prefix === '=baseline'
    ? rows.find((r) => r.group === row.group && r.depth === row.depth && r.label === row.baseline)?.rps
    : rows.find((r) => same(r, row) && r.label.startsWith(prefix))?.rps;
const ratio = (value: number, base: number | undefined) => (base ? `${((100 * value) / base).toFixed(0)}%` : '-');
const num = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

export function renderMarkdown(meta: Record<string, unknown>, rows: readonly Row[]): string {
  const lines = [
    `Measured ${meta.date} with \`${meta.command}\`: Node ${meta.node}, ${meta.nginx}, ${meta.cores} × ${meta.cpu};`,
    `median of ${meta.runs} run(s) of ${meta.durationSec} s per row. "CPU µs/req" is the server's CPU time (all its threads; nginx plus tokengate behind nginx) per answered request.`,
  ];
  const dates = new Map<string, Set<Group>>();
  for (const row of rows) {
    const stamped = row as { measuredAt?: string; measuredOn?: string };
    const at = `${stamped.measuredAt ?? String(meta.date)}${stamped.measuredOn ? ` on ${stamped.measuredOn}` : ''}`;
    dates.set(at, (dates.get(at) ?? new Set()).add(row.group));
  }
  if (dates.size > 1) {
    const when = [...dates].map(([at, groups]) => `${[...groups].join(', ')} at ${at}`).join('; ');
    lines.push(
      `Groups measured by separate runs of the same command with \`--only\` (compare rows within a group; machines differ): ${when}.`,
    );
  }
  for (const [group, { title, baselines, backend, decision }] of Object.entries(groups) as [Group, (typeof groups)[Group]][]) {
    const inGroup = rows.filter((row) => row.group === group);
    if (inGroup.length === 0) continue;
    lines.push(
      '',
      `**${title}**`,
      '',
      `| tool | pipelining | connections | scenario | req/s | p50 ms | p99 ms | CPU µs/req |${backend ? ' of which tokengate |' : ''}${decision ? ' decision µs (in the process) |' : ''}${baselines.map(([name]) => ` ${name} |`).join('')}`,
      `|---|---|---|---|---:|---:|---:|---:|${backend ? '---:|' : ''}${decision ? '---:|' : ''}${baselines.map(() => '---:|').join('')}`,
    );
    for (const row of inGroup) {
      lines.push(
        `| ${row.tool} | ${row.depth} | ${row.connections} | ${row.label} | ${Math.round(row.rps).toLocaleString('en-US')} | ${num(row.p50Ms)} | ${num(row.p99Ms)} | ${num(row.cpuUs)} |${backend ? ` ${num(row.backendCpuUs)} |` : ''}${decision ? ` ${num(row.decisionUs ?? Number.NaN)} |` : ''}${baselines.map(([, prefix]) => ` ${ratio(row.rps, baselineOf(rows, row, prefix))} |`).join('')}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const escapeXml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Horizontal bars of req/s for the one-core and nginx wrk rows. */
export function renderSvg(rows: readonly Row[]): string {
  const bars = rows.filter((row) => row.tool === 'wrk' && (row.group === 'one core' || row.group === 'nginx'));
  const max = Math.max(...bars.map((row) => row.rps), 1);
  const barHeight = 16;
  const labelWidth = 560;
  const chartWidth = 480;
  const height = 40 + bars.length * (barHeight + 5);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 110}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<title>tokengate benchmark: requests per second per scenario</title>',
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="10" y="20" font-size="14" font-weight="bold">req/s with wrk (higher is better); grey: baselines, blue: tokengate, green: through nginx</text>`,
  ];
  bars.forEach((row, i) => {
    const y = 34 + i * (barHeight + 5);
    const width = Math.max(1, (row.rps / max) * chartWidth);
    const color = row.group === 'nginx' ? '#2f855a' : row.label.startsWith('tokengate') ? '#2b6cb0' : '#a0aec0';
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 12}" text-anchor="end">${escapeXml(`${row.label} (pipelining ${row.depth})`)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
      `<text x="${(labelWidth + width + 6).toFixed(1)}" y="${y + 12}">${Math.round(row.rps).toLocaleString('en-US')}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
