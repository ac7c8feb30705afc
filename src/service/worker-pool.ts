import { Worker } from 'node:worker_threads';
import type { Logger } from '../base/log.js';
import type { EngineName } from '../config/config.js';
import type { ConfigFiles } from '../config/load-config.js';
import type { Revocation, RevocationChange } from '../decision/revocations.js';
import { emptySnapshot, type MetricsSnapshot, retire } from '../metrics/decision-metrics.js';
import type { AuthWorkerData, WorkerCommand, WorkerMessage } from './auth-worker.js';
import { claimPort } from './claim-port.js';
import type { LimitAnswers, LimitBatch } from './limit-relay.js';

export interface WorkerPool {
  /** The ports every worker listens on, one per auth listener. */
  readonly ports: readonly number[];
  /**
   * Every worker compiles `files` (the bytes the main thread read and validated) and swaps its
   * config; resolves once each has answered, with the problems of any that refused.
   */
  reload(files: ConfigFiles): Promise<readonly string[]>;
  /** Passes a change of the revocations to every worker (a replacement starts with the whole list). */
  revocations(change: RevocationChange): void;
  /** Every live worker's counters plus what exited workers had counted. */
  snapshots(): Promise<MetricsSnapshot[]>;
  /** Workers currently running. */
  size(): number;
  /** Workers that exited unexpectedly and were replaced (or are being replaced) since the start. */
  restarts(): number;
  /** True while every worker listens (not during a replacement, not while stopping). */
  ready(): boolean;
  /** Stops accepting connections; answers on open ones close them (Connection: close). */
  drain(): void;
  shutdown(): Promise<void>;
}

export interface WorkerPoolOptions {
  readonly configFile: string | undefined;
  /** The config and key files as the main thread read and validated them. */
  readonly files: ConfigFiles;
  readonly listeners: readonly { readonly host: string; readonly port: number }[];
  readonly count: number;
  /** The engine every worker serves with: uws, or node where the runtime shares a port between threads. */
  readonly engine: EngineName;
  readonly logger: Logger;
  /** The revocations in force now: what a worker starts with (none when omitted). */
  readonly revocations?: () => readonly Revocation[];
  /** Answers a worker's limit checks (the main thread holds the counters); absent: every check fails. */
  readonly limits?: (batch: LimitBatch) => Promise<LimitAnswers>;
  /** The worker's module (default: ./auth-worker.js); the fault tests wrap it. */
  readonly entry?: URL;
}

/** How long a scrape or a reload waits for a busy worker. */
const replyTimeoutMs = 1000;

/**
 * One auth worker thread as the main thread sees it: whether it listens, the replies it owes
 * (a worker answers its messages in order, so each queue is oldest first), its last counters.
 */
class WorkerHandle {
  readonly thread: number;
  listening = false;
  /** Its last metrics snapshot; what an exited worker had counted stays counted. */
  latest: MetricsSnapshot = emptySnapshot;
  private readonly owed = {
    metrics: [] as ((snapshot: MetricsSnapshot) => void)[],
    reload: [] as ((problems: readonly string[]) => void)[],
  };

  constructor(readonly worker: Worker) {
    this.thread = worker.threadId;
  }

  /** Routes a reply to the request waiting for it; `listening` and `failed` go to `started`. */
  received(message: WorkerMessage, started: { resolve(ports: readonly number[]): void; reject(error: Error): void }): void {
    if (message.type === 'metrics') {
      this.latest = message.snapshot;
      this.owed.metrics.shift()?.(message.snapshot);
    } else if (message.type === 'reloaded') {
      this.owed.reload.shift()?.([]);
    } else if (message.type === 'reload-failed') {
      this.owed.reload.shift()?.(message.problems);
    } else if (message.type === 'listening') {
      this.listening = true;
      started.resolve(message.ports);
    } else if (message.type === 'failed') {
      started.reject(new Error(message.message));
    }
  }

  /** This worker's counters now, or its last ones if it does not answer within the timeout. */
  metrics(): Promise<MetricsSnapshot> {
    return this.ask({ type: 'metrics' }, this.owed.metrics, () => this.latest);
  }

  /** Compiles and swaps to `files`; resolves with the worker's problems (none: it serves them). */
  reload(files: ConfigFiles): Promise<readonly string[]> {
    return this.ask({ type: 'reload', files }, this.owed.reload, () => ['the worker did not answer the reload within 1 s']);
  }

  private ask<T>(command: WorkerCommand, queue: ((value: T) => void)[], fallback: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      const timer = setTimeout(() => resolve(fallback()), replyTimeoutMs);
      queue.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
      this.send(command);
    });
  }

  send(command: WorkerCommand): void {
    this.worker.postMessage(command);
  }

  /** The thread is gone: every reply it owed resolves empty. */
  exited(): void {
    this.listening = false;
    for (const reply of this.owed.metrics.splice(0)) reply(emptySnapshot);
    for (const reply of this.owed.reload.splice(0)) reply([]);
  }
}

/** What a pool's workers share: the config snapshot they compile, their ports, the live handles, what exited ones counted. */
interface PoolState {
  readonly options: WorkerPoolOptions;
  readonly entry: URL;
  stopping: boolean;
  files: ConfigFiles;
  ports: readonly number[];
  readonly handles: Set<WorkerHandle>;
  /** What exited workers had counted. */
  readonly retired: MetricsSnapshot[];
  restarts: number;
}

/** Starts one worker on the pool's ports; resolves with its ports once it listens. */
function spawn(pool: PoolState): Promise<readonly number[]> {
  const { configFile, engine, logger } = pool.options;
  return new Promise((resolve, reject) => {
    // The list now, and every change from now on (the handle joins the pool at once): nothing falls between.
    const workerData: AuthWorkerData = {
      configFile,
      ports: pool.ports,
      files: pool.files,
      engine,
      revocations: pool.options.revocations?.() ?? [],
    };
    const handle = new WorkerHandle(new Worker(pool.entry, { workerData }));
    pool.handles.add(handle);
    handle.worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'limits') void countFor(pool, handle, message);
      else handle.received(message, { resolve, reject });
    });
    handle.worker.once('error', (error) => {
      logger.log('error', 'auth worker crashed', { error: String(error) });
      reject(error);
    });
    handle.worker.once('exit', (code) => exited(pool, handle, code));
  });
}

/** Answers a worker's limit checks; a worker that has exited meanwhile gets nothing (its requests went with it). */
async function countFor(pool: PoolState, handle: WorkerHandle, batch: LimitBatch): Promise<void> {
  const answers: LimitAnswers = pool.options.limits
    ? await pool.options.limits(batch)
    : { type: 'limited', answers: batch.checks.map(({ id }) => ({ id, over: 'failed' as const })) };
  if (pool.handles.has(handle)) handle.send(answers);
}

/** A worker's thread ended: what it counted stays counted, and unless the pool is stopping it is logged and replaced. */
function exited(pool: PoolState, handle: WorkerHandle, code: number): void {
  const { logger } = pool.options;
  pool.handles.delete(handle);
  handle.exited();
  // What it counted stays counted (its cache entries are gone with it).
  pool.retired.push(retire(handle.latest));
  if (pool.stopping) return;
  pool.restarts++;
  logger.log('error', 'auth worker exited; starting a replacement', { code, thread: handle.thread });
  setTimeout(() => {
    spawn(pool).then(
      () => logger.log('info', 'auth worker replaced', { workers: pool.handles.size, replaced: handle.thread }),
      (error: Error) => logger.log('error', 'replacement worker failed to listen', { error: error.message }),
    );
  }, 100).unref();
}

/** Asks every worker to stop and waits for their exits (at most 5 s). */
async function shutdown(pool: PoolState): Promise<void> {
  pool.stopping = true;
  const exits = [...pool.handles].map((handle) => new Promise((resolve) => handle.worker.once('exit', resolve)));
  for (const handle of pool.handles) handle.send({ type: 'shutdown' });
  await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
}

/**
 * Starts `count` auth workers on the same ports: the first one binds (port 0 picks one), the
 * others join its ports. A worker that exits unexpectedly is logged and replaced; replacements
 * compile the config snapshot the others serve.
 */
export async function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { listeners, count } = options;
  const pool: PoolState = {
    options,
    entry: options.entry ?? new URL('./auth-worker.js', import.meta.url),
    stopping: false,
    files: options.files,
    ports: listeners.map((listener) => listener.port),
    handles: new Set<WorkerHandle>(),
    retired: [],
    restarts: 0,
  };
  try {
    // Workers listen with SO_REUSEPORT, which joins a named port only: resolve port 0 to a free
    // one first, and make sure no other program holds a named one (SO_REUSEPORT would silently share it).
    pool.ports = await Promise.all(listeners.map(({ host, port }) => claimPort(host, port)));
    await Promise.all(Array.from({ length: count }, () => spawn(pool)));
  } catch (error) {
    // Workers with open sockets (uWS ones abort the process otherwise) close them before it exits.
    await shutdown(pool);
    throw error;
  }
  const { handles, ports } = pool;
  return {
    ports,
    async reload(next) {
      pool.files = next;
      return (await Promise.all([...handles].map((handle) => handle.reload(next)))).flat();
    },
    revocations(change) {
      for (const handle of handles) handle.send({ type: 'revocations', change });
    },
    snapshots: async () => [...pool.retired, ...(await Promise.all([...handles].map((handle) => handle.metrics())))],
    size: () => handles.size,
    restarts: () => pool.restarts,
    ready: () => !pool.stopping && [...handles].filter((handle) => handle.listening).length === count,
    drain: () => {
      pool.stopping = true;
      for (const handle of handles) handle.send({ type: 'drain' });
    },
    shutdown: () => shutdown(pool),
  };
}
