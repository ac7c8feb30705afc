/** Renders benchmark rows as a Markdown table and an SVG bar chart (no dependencies). */
export interface Row {
  readonly tool: 'wrk' | 'autocannon';
  readonly depth: number;
  readonly label: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const baselineOf = (rows: readonly Row[], row: Row, label: string) =>
  rows.find((r) => r.tool === row.tool && r.depth === row.depth && r.label.startsWith(label))?.rps;

const ratio = (value: number, base: number | undefined) => (base ? `${((100 * value) / base).toFixed(0)}%` : '-');

export function renderMarkdown(meta: Record<string, unknown>, rows: readonly Row[]): string {
  const lines = [
    `Measured ${meta.date} with \`${meta.command}\`: Node ${meta.node}, ${meta.cpu}; server pinned to CPU 0, load generator to CPU 1;`,
    `${meta.connections} connections, median of ${meta.runs} run(s) of ${meta.durationSec} s.`,
    '',
    '| tool | pipelining | scenario | req/s | p50 ms | p99 ms | vs uWS hello-world | vs naive validator |',
    '|---|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.tool} | ${row.depth} | ${row.label} | ${Math.round(row.rps).toLocaleString('en-US')} | ${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${ratio(row.rps, baselineOf(rows, row, 'uWS hello-world'))} | ${ratio(row.rps, baselineOf(rows, row, 'naive'))} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const escapeXml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Horizontal bars of req/s for the wrk rows, one group per pipelining depth. */
export function renderSvg(rows: readonly Row[]): string {
  const bars = rows.filter((row) => row.tool === 'wrk');
  const max = Math.max(...bars.map((row) => row.rps), 1);
  const barHeight = 18;
  const labelWidth = 430;
  const chartWidth = 520;
  const height = 40 + bars.length * (barHeight + 6);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 110}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<title>tokengate benchmark: requests per second per scenario</title>',
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="10" y="20" font-size="14" font-weight="bold">req/s with wrk, one server core (higher is better)</text>`,
  ];
  bars.forEach((row, i) => {
    const y = 34 + i * (barHeight + 6);
    const width = Math.max(1, (row.rps / max) * chartWidth);
    const color = row.label.startsWith('tokengate') ? '#2b6cb0' : '#a0aec0';
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 13}" text-anchor="end">${escapeXml(`${row.label} (pipelining ${row.depth})`)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${color}"/>`,
      `<text x="${(labelWidth + width + 6).toFixed(1)}" y="${y + 13}">${Math.round(row.rps).toLocaleString('en-US')}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
