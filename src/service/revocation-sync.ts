/**
 * The main thread's side of revocations: it opens the store the config names once some route
 * checks revocations, loads the whole list before the service says ready, applies every change
 * (made here, by another process, or on another instance) to its own book and passes it to every
 * auth worker, and drops revocations whose end has passed. While the store cannot be reached, the
 * last list keeps applying; the outage is counted, logged (rate-limited) and shown by a metric.
 */
import type { Logger } from '../base/log.js';
import type { LoadedConfig } from '../config/load-config.js';
import { applyChange, type Revocation, RevocationBook, type RevocationChange } from '../decision/revocations.js';
import { openStore, revocationsNeeded } from '../state/open-store.js';
import type { RevocationStatus, RevocationStore, StoreChange } from '../state/revocation-store.js';

/** During an outage, how often the log says the store is still unreachable. */
const stillDownLogMs = 30_000;
/** How often ended revocations are dropped from the book and the store. */
const dropEveryMs = 30_000;
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RevocationSync {
  readonly book = new RevocationBook();
  private store: RevocationStore | undefined;
  private up = true;
  private syncedSec = 0;
  private outages = 0;
  private refused = 0;
  private dropTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private downLoggedMs = 0;
  private downSinceSec = 0;

  constructor(
    private readonly logger: Logger,
    /** Passes a change to every auth worker (none when this thread serves alone). */
    private readonly broadcast: (change: RevocationChange) => void,
  ) {}

  /**
   * Opens the config's store (once: a reload that changes `state` takes effect after a restart)
   * and loads the whole list, retrying with backoff until it has: the service is not ready before.
   */
  async open(loaded: LoadedConfig): Promise<void> {
    if (this.store !== undefined || !revocationsNeeded(loaded)) return;
    const store = openStore(loaded.config.state, { baseDir: loaded.baseDir, env: process.env });
    this.store = store;
    this.logger.log('info', 'revocations: store opened', {
      store: store.kind,
      where: store.where,
      ...(store.kind === 'file'
        ? { scope: 'this instance only (a file and memory; use "state": { "store": "redis" } for several)' }
        : {}),
    });
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const { entries, refused } = await store.load(nowSec());
        this.reportRefused(refused);
        this.apply({ full: entries });
        this.syncedSec = nowSec();
        this.logger.log('info', 'revocations: list loaded', { entries: entries.length, store: store.kind });
        break;
      } catch (error) {
        this.setUp(false, (error as Error).message);
        await sleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
    store.watch({
      change: (change) => this.fromStore(change),
      status: (up, reason) => this.setUp(up, reason),
    });
    this.dropTimer = setInterval(() => void this.dropEnded(), dropEveryMs);
    this.dropTimer.unref();
  }

  /** Stores a revocation, then applies it here and in every worker; rejects when the store did not take it. */
  async revoke(entry: Revocation): Promise<void> {
    const store = this.requireStore();
    await store.put(entry);
    this.apply({ put: [entry], remove: [] });
  }

  /** Removes revocations by id; resolves with how many the store had. */
  async unrevoke(ids: readonly string[]): Promise<number> {
    const store = this.requireStore();
    const removed = await store.remove(ids);
    this.apply({ put: [], remove: ids });
    return removed;
  }

  list(): Revocation[] {
    return this.book.list();
  }

  status(): RevocationStatus {
    return {
      store: this.store?.kind,
      up: this.up,
      entries: this.book.size,
      syncedSec: this.syncedSec,
      outages: this.outages,
      refused: this.refused,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.dropTimer !== undefined) clearInterval(this.dropTimer);
    await this.store?.close();
  }

  private requireStore(): RevocationStore {
    if (this.store === undefined) throw new Error('no route checks revocations (set "revocation" on a route)');
    return this.store;
  }

  private fromStore(change: StoreChange): void {
    if ('full' in change) {
      this.reportRefused(change.refused);
      this.syncedSec = nowSec();
      this.apply({ full: change.full });
    } else {
      this.apply(change);
    }
  }

  private apply(change: RevocationChange): void {
    if (applyChange(this.book, change)) this.broadcast(change);
  }

  private setUp(up: boolean, reason?: string): void {
    if (up === this.up) {
      // A long outage: one reminder every stillDownLogMs, not one per reconnection attempt.
      if (!up && Date.now() - this.downLoggedMs >= stillDownLogMs) {
        this.downLoggedMs = Date.now();
        this.logger.log('error', 'revocations: store still unreachable; the last list keeps applying', {
          reason,
          sinceSec: this.downSinceSec,
        });
      }
      return;
    }
    this.up = up;
    if (up) {
      this.logger.log('info', 'revocations: store reachable again; resyncing the list');
    } else {
      this.outages++;
      this.downLoggedMs = Date.now();
      this.downSinceSec = nowSec();
      this.logger.limited('revocation-store-down', 'error', 'revocations: store unreachable; the last list keeps applying', {
        reason,
      });
    }
  }

  private reportRefused(refused: readonly string[]): void {
    if (refused.length === 0) return;
    this.refused += refused.length;
    this.logger.limited('revocation-refused', 'error', 'revocations: stored entries refused (not applied)', {
      count: refused.length,
      problems: refused.slice(0, 5),
    });
  }

  /** Drops ended entries here and in the workers, and from the store (any instance may; it is idempotent). */
  private async dropEnded(): Promise<void> {
    const ended = this.book.dropEnded(nowSec());
    if (ended.length === 0) return;
    this.broadcast({ put: [], remove: ended });
    await this.store?.remove(ended).catch((error: Error) => this.setUp(false, error.message));
  }
}
