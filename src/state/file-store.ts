/**
 * Revocations in one JSON file (config `state.file`, default `revocations.json` beside the
 * config): for one instance. Every write takes a lock file, reads the file again, changes it and
 * replaces it atomically (write, fsync, rename), so the service and `tokengate revoke` can both
 * write; the service polls the file's status and picks up what others wrote within a second.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, unwatchFile, watchFile, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Revocation } from '../decision/revocations.js';
import { type RevocationStore, readEntries, type StoreListener, type StoreLoad } from './revocation-store.js';

/** The file's shape: a marker and version, then the entries. */
interface StateFile {
  readonly tokengate: 'revocations';
  readonly version: 1;
  readonly revocations: readonly Revocation[];
}

const lockWaitMs = 5000;
/** A lock file older than this was left by a process that died while writing. */
const staleLockMs = 30_000;
const pollMs = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const nowSec = () => Math.floor(Date.now() / 1000);

export class FileStore implements RevocationStore {
  readonly kind = 'file';
  readonly where: string;
  private watching: StoreListener | undefined;
  /**
   * Every read for the watcher and every write of this process, one after another: a read that
   * began before a write of ours must not land after it (it would put back the old list).
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {
    this.where = path;
  }

  async load(now: number): Promise<StoreLoad> {
    const raw = await this.readRaw();
    return readEntries(raw, this.path, now);
  }

  /** The file's entries as stored (an absent file has none); throws when it is not a revocations file. */
  private async readRaw(): Promise<readonly unknown[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read ${this.path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.path} is not valid JSON`);
    }
    const file = parsed as Partial<StateFile> | null;
    if (
      typeof file !== 'object' ||
      file === null ||
      file.tokengate !== 'revocations' ||
      file.version !== 1 ||
      !Array.isArray(file.revocations)
    ) {
      throw new Error(`${this.path} is not a tokengate revocations file (version 1)`);
    }
    return file.revocations;
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async put(entry: Revocation): Promise<void> {
    await this.serially(() => this.change((entries) => [...entries.filter((e) => e.id !== entry.id), entry]));
  }

  async remove(ids: readonly string[]): Promise<number> {
    let removed = 0;
    await this.serially(() =>
      this.change((entries) => {
        const rest = entries.filter((e) => !ids.includes(e.id));
        removed = entries.length - rest.length;
        return rest;
      }),
    );
    return removed;
  }

  /** Under the lock: the current entries (ended ones dropped), changed, written atomically. */
  private async change(edit: (entries: readonly Revocation[]) => readonly Revocation[]): Promise<void> {
    const release = await this.lock();
    try {
      const { entries } = readEntries(await this.readRaw(), this.path, nowSec());
      this.write(edit(entries));
    } finally {
      release();
    }
  }

  private write(entries: readonly Revocation[]): void {
    const body: StateFile = { tokengate: 'revocations', version: 1, revocations: entries };
    const temp = `${this.path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(body, null, 1)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(temp, this.path);
    } catch (error) {
      unlinkSync(temp);
      throw error;
    }
    // The rename itself is durable once the directory is synced.
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** Takes `<file>.lock` (exclusive create), waiting up to 5 s; a lock left by a dead writer is broken after 30 s. */
  private async lock(): Promise<() => void> {
    const lockPath = `${this.path}.lock`;
    const deadline = Date.now() + lockWaitMs;
    for (;;) {
      try {
        closeSync(openSync(lockPath, 'wx', 0o600));
        return () => {
          try {
            unlinkSync(lockPath);
          } catch {
            // Already broken as stale by another writer: nothing to release.
          }
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new Error(`cannot lock ${this.path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      try {
        if (Date.now() - statSync(lockPath).mtimeMs > staleLockMs) unlinkSync(lockPath);
      } catch {
        // Released meanwhile: try again.
      }
      if (Date.now() > deadline) throw new Error(`${this.path} stayed locked for ${lockWaitMs / 1000} s (${lockPath})`);
      await sleep(20);
    }
  }

  watch(listener: StoreListener): void {
    this.watching = listener;
    watchFile(this.path, { interval: pollMs, persistent: false }, (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
      // Applied inside the queue: no write of this process can come between the read and its use.
      void this.serially(() =>
        this.load(nowSec()).then(
          ({ entries, refused }) => {
            listener.status(true);
            listener.change({ full: entries, refused });
          },
          (error: Error) => listener.status(false, error.message),
        ),
      );
    });
  }

  async close(): Promise<void> {
    if (this.watching !== undefined) unwatchFile(this.path);
    this.watching = undefined;
  }
}
