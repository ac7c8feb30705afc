/**
 * Where revocations live between processes: a file beside the config (one instance) or Redis
 * (every instance). The service keeps each thread's `RevocationBook` in step with it; the CLI and
 * `verify` read and write it directly.
 */
import { Problems } from '../base/problems.js';
import { type Revocation, type RevocationChange, readRevocation } from '../decision/revocations.js';

/**
 * Changes made elsewhere (another process or instance): a whole list (with the stored entries it
 * refused), or entries put and removed.
 */
export type StoreChange =
  | { readonly full: readonly Revocation[]; readonly refused: readonly string[] }
  | Exclude<RevocationChange, { readonly full: readonly Revocation[] }>;

/** What a load found: the entries, and how many stored entries were refused (with their problems). */
export interface StoreLoad {
  readonly entries: readonly Revocation[];
  readonly refused: readonly string[];
}

export interface RevocationStore {
  readonly kind: 'file' | 'redis';
  /** Where, for logs: a path or Redis's mode and nodes; never a credential. */
  readonly where: string;
  /** Every stored entry that has not ended; rejects when the store cannot be read. */
  load(nowSec: number): Promise<StoreLoad>;
  /** Stores one entry (replacing one with its id); resolves once it is durable. */
  put(entry: Revocation): Promise<void>;
  /** Removes entries by id; resolves with how many were there. */
  remove(ids: readonly string[]): Promise<number>;
  /**
   * Reports changes made elsewhere, and whether the store can be reached (`up`). The file store
   * watches its file; the Redis store subscribes, and resyncs in full after a reconnect and every
   * `resyncSec`.
   */
  watch(listener: StoreListener): void;
  close(): Promise<void>;
}

export interface StoreListener {
  change(change: StoreChange): void;
  status(up: boolean, reason?: string): void;
}

/** Parses stored entries strictly; a refused entry is reported, never applied half-read. */
export function readEntries(raw: readonly unknown[], where: string, nowSec: number): StoreLoad {
  const entries: Revocation[] = [];
  const refused: string[] = [];
  raw.forEach((value, i) => {
    const problems = new Problems();
    const entry = readRevocation(problems.fields(value, `${where}[${i}]`));
    if (entry === undefined) refused.push(...problems.list);
    else if (entry.untilSec >= nowSec) entries.push(entry);
  });
  return { entries, refused };
}

/** What the exposition and `/readyz` read of a service's revocations. */
export interface RevocationStatus {
  /** The store's kind, or undefined while no route checks revocations (nothing opened). */
  readonly store: 'file' | 'redis' | undefined;
  readonly up: boolean;
  /** Revocations in force. */
  readonly entries: number;
  /** When the list last matched the store in full (unix seconds; 0: never). */
  readonly syncedSec: number;
  /** Times the store became unreachable since the start. */
  readonly outages: number;
  /** Stored entries refused since the start (not applied: malformed, or from an unknown version). */
  readonly refused: number;
}
