import { Worker } from 'node:worker_threads';
import type { ConfigFiles } from '../config/load-config.js';
import type { Logger } from '../log.js';
import { emptySnapshot, type MetricsSnapshot, retire } from '../metrics/decision-metrics.js';
import type { AuthWorkerData, WorkerCommand, WorkerMessage } from './auth-worker.js';
import { claimPort } from './claim-port.js';

export interface WorkerPool {
  /** The ports every worker listens on, one per auth listener. */
  readonly ports: readonly number[];
  /**
   * Every worker compiles `files` (the bytes the main thread read and validated) and swaps its
   * config; resolves once each has answered, with the problems of any that refused.
   */
  reload(files: ConfigFiles): Promise<readonly string[]>;
  /** Every live worker's counters plus what exited workers had counted. */
  snapshots(): Promise<MetricsSnapshot[]>;
  /** Workers currently running. */
  size(): number;
  /** True while every worker listens (not during a replacement, not while stopping). */
  ready(): boolean;
  /** The live worker threads (for supervision tooling and the fault tests). */
  threads(): readonly Worker[];
  /** Stops accepting connections; answers on open ones close them (Connection: close). */
  drain(): void;
  shutdown(): Promise<void>;
}

/** How long a scrape or a reload waits for a busy worker. */
const replyTimeoutMs = 1000;

const entry = new URL('./auth-worker.js', import.meta.url);

/** Replies a worker owes, oldest first (a worker answers its messages in order). */
interface Pending {
  metrics: ((snapshot: MetricsSnapshot) => void)[];
  reload: ((problems: readonly string[]) => void)[];
}

/**
 * Starts `count` auth workers on the same ports: the first one binds (port 0 picks one), the
 * others join its ports. A worker that exits unexpectedly is logged and replaced; replacements
 * compile the config snapshot the others serve.
 */
export async function startWorkerPool(
  configFile: string | undefined,
  initialFiles: ConfigFiles,
  listeners: readonly { readonly host: string; readonly port: number }[],
  count: number,
  logger: Logger,
): Promise<WorkerPool> {
  let stopping = false;
  let files = initialFiles;
  const workers = new Set<Worker>();
  const listening = new Set<Worker>();
  const pending = new Map<Worker, Pending>();
  /** Per worker, its last metrics snapshot; exited workers' last ones stay counted. */
  const latest = new Map<Worker, MetricsSnapshot>();
  const retired: MetricsSnapshot[] = [];
  const send = (worker: Worker, command: WorkerCommand) => worker.postMessage(command);

  const spawnWorker = (workerPorts: readonly number[]): Promise<readonly number[]> =>
    new Promise((resolve, reject) => {
      const workerData: AuthWorkerData = { configFile, ports: workerPorts, files };
      const worker = new Worker(entry, { workerData });
      const thread = worker.threadId; // -1 once it has exited
      const owed: Pending = { metrics: [], reload: [] };
      workers.add(worker);
      pending.set(worker, owed);
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'metrics') {
          latest.set(worker, message.snapshot);
          owed.metrics.shift()?.(message.snapshot);
        } else if (message.type === 'reloaded') {
          owed.reload.shift()?.([]);
        } else if (message.type === 'reload-failed') {
          owed.reload.shift()?.(message.problems);
        } else if (message.type === 'listening') {
          listening.add(worker);
          resolve(message.ports);
        } else if (message.type === 'failed') {
          reject(new Error(message.message));
        }
      });
      worker.once('error', (error) => {
        logger.log('error', 'auth worker crashed', { error: String(error) });
        reject(error);
      });
      worker.once('exit', (code) => {
        workers.delete(worker);
        listening.delete(worker);
        // What it counted stays counted (its cache entries are gone with it).
        retired.push(retire(latest.get(worker) ?? emptySnapshot));
        latest.delete(worker);
        for (const reply of owed.metrics) reply(emptySnapshot);
        for (const reply of owed.reload) reply([]);
        pending.delete(worker);
        if (stopping) return;
        logger.log('error', 'auth worker exited; starting a replacement', { code, thread });
        setTimeout(() => {
          spawnWorker(actual).then(
            () => logger.log('info', 'auth worker replaced', { workers: workers.size, replaced: thread }),
            (error: Error) => logger.log('error', 'replacement worker failed to listen', { error: error.message }),
          );
        }, 100).unref();
      });
    });

  /** Sends `command` to every worker and collects one reply each (or `fallback` after the timeout). */
  const ask = <T>(command: WorkerCommand, queue: keyof Pending, fallback: (worker: Worker) => T): Promise<T[]> =>
    Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<T>((resolve) => {
            const timer = setTimeout(() => resolve(fallback(worker)), replyTimeoutMs);
            (pending.get(worker)?.[queue] as ((value: T) => void)[] | undefined)?.push((value) => {
              clearTimeout(timer);
              resolve(value);
            });
            send(worker, command);
          }),
      ),
    );

  let actual: readonly number[] = listeners.map((listener) => listener.port);
  const stopAll = async () => {
    stopping = true;
    const exits = [...workers].map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    for (const worker of workers) send(worker, { type: 'shutdown' });
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  };
  try {
    // uSockets sets SO_REUSEPORT only for a named port: resolve port 0 to a free one first,
    // and make sure no other program holds a named one (SO_REUSEPORT would silently share it).
    actual = await Promise.all(listeners.map(({ host, port }) => claimPort(host, port)));
    await Promise.all(Array.from({ length: count }, () => spawnWorker(actual)));
  } catch (error) {
    // Workers with open uWS sockets must close them before the process may exit.
    await stopAll();
    throw error;
  }
  return {
    ports: actual,
    async reload(next) {
      files = next;
      const answers = await ask<readonly string[]>({ type: 'reload', files: next }, 'reload', () => [
        'the worker did not answer the reload within 1 s',
      ]);
      return answers.flat();
    },
    snapshots: async () => [
      ...retired,
      ...(await ask<MetricsSnapshot>({ type: 'metrics' }, 'metrics', (worker) => latest.get(worker) ?? emptySnapshot)),
    ],
    size: () => workers.size,
    ready: () => !stopping && listening.size === count,
    threads: () => [...workers],
    drain: () => {
      stopping = true;
      for (const worker of workers) send(worker, { type: 'drain' });
    },
    shutdown: stopAll,
  };
}
