/**
 * What a listener that bounds its own connections (the Envoy gRPC listener,
 * src/http/grpc-door.ts) counts: connections open now, and the connections and calls it
 * cut off, by the limit that fired. Plain numbers, read when Prometheus scrapes.
 */

/** Each limit, as its metric label: in this order in `ConnectionRow.cut`. */
export const connectionLimits = ['max-connections', 'handshake', 'idle', 'request', 'pending-bytes'] as const;
export type ConnectionLimit = (typeof connectionLimits)[number];

const limitIndex = Object.fromEntries(connectionLimits.map((limit, i) => [limit, i])) as Record<ConnectionLimit, number>;

/** A structured-clone-friendly copy of one listener's counts. */
export interface ConnectionRow {
  readonly listener: string;
  readonly open: number;
  /** Counts per limit, in `connectionLimits` order. */
  readonly cut: readonly number[];
}

export class ConnectionCounts {
  /** Connections open now. */
  open = 0;
  private readonly cuts = new Float64Array(connectionLimits.length);

  /** Counts one connection (or, for `request` and `pending-bytes`, one call) cut off by `limit`. */
  cut(limit: ConnectionLimit): void {
    this.cuts[limitIndex[limit]]!++;
  }

  row(listener: string): ConnectionRow {
    return { listener, open: this.open, cut: Array.from(this.cuts) };
  }
}

/** Sums rows of the same listener (every gRPC listener is on the main thread: normally one row each). */
export function mergeConnectionRows(rows: readonly ConnectionRow[]): ConnectionRow[] {
  const merged = new Map<string, { listener: string; open: number; cut: number[] }>();
  for (const row of rows) {
    const sum = merged.get(row.listener);
    if (sum === undefined) merged.set(row.listener, { ...row, cut: [...row.cut] });
    else {
      sum.open += row.open;
      for (const [i, count] of row.cut.entries()) sum.cut[i] = (sum.cut[i] ?? 0) + count;
    }
  }
  return [...merged.values()];
}
