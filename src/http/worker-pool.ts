import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { emptySnapshot, type MetricsSnapshot, retire } from '../metrics/decision-metrics.js';
import type { AuthWorkerData, WorkerMessage } from './auth-worker.js';
import { claimPort } from './free-port.js';

export interface WorkerPool {
  /** The ports every worker listens on, one per auth listener. */
  readonly ports: readonly number[];
  reload(): void;
  /** Every live worker's counters plus what exited workers had counted. */
  snapshots(): Promise<MetricsSnapshot[]>;
  /** Workers currently running. */
  size(): number;
  /** The live worker threads (for supervision tooling and the fault tests). */
  threads(): readonly Worker[];
  shutdown(): Promise<void>;
}

/** How long a scrape waits for a busy worker before using its previous snapshot. */
const snapshotTimeoutMs = 1000;

const entry = new URL('./auth-worker.js', import.meta.url);

/**
 * Starts `count` auth workers on the same ports: the first one binds (port 0 picks one), the
 * others join its ports. A worker that exits unexpectedly is logged and replaced.
 */
export async function startWorkerPool(
  configFile: string | undefined,
  listeners: readonly { readonly host: string; readonly port: number }[],
  count: number,
  logger: Logger,
): Promise<WorkerPool> {
  let stopping = false;
  const workers = new Set<Worker>();
  /** Per worker: its last snapshot and the scrapes waiting for the next one (answered in order). */
  const latest = new Map<Worker, MetricsSnapshot>();
  const waiting = new Map<Worker, ((snapshot: MetricsSnapshot) => void)[]>();
  const retired: MetricsSnapshot[] = [];
  const spawnWorker = (workerPorts: readonly number[]): Promise<readonly number[]> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(entry, { workerData: { configFile, ports: workerPorts } satisfies AuthWorkerData });
      const thread = worker.threadId; // -1 once it has exited
      workers.add(worker);
      waiting.set(worker, []);
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'metrics') {
          latest.set(worker, message.snapshot);
          waiting.get(worker)?.shift()?.(message.snapshot);
        } else if (message.type === 'listening') resolve(message.ports);
        else if (message.type === 'failed') reject(new Error(message.message));
        else if (message.type === 'reload-failed')
          logger.log('error', 'a worker rejected the reload', { problems: message.problems });
      });
      worker.once('error', (error) => {
        logger.log('error', 'auth worker crashed', { error: String(error) });
        reject(error);
      });
      worker.once('exit', (code) => {
        workers.delete(worker);
        // What it counted stays counted (its cache entries are gone with it).
        retired.push(retire(latest.get(worker) ?? emptySnapshot));
        latest.delete(worker);
        for (const pending of waiting.get(worker) ?? []) pending(emptySnapshot);
        waiting.delete(worker);
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
  let actual: readonly number[] = listeners.map((listener) => listener.port);
  const stopAll = async () => {
    stopping = true;
    const exits = [...workers].map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    for (const worker of workers) worker.postMessage('shutdown');
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
    reload: () => {
      for (const worker of workers) worker.postMessage('reload');
    },
    size: () => workers.size,
    threads: () => [...workers],
    snapshots: async () => {
      const live = [...workers].map(
        (worker) =>
          new Promise<MetricsSnapshot>((resolve) => {
            const timer = setTimeout(() => resolve(latest.get(worker) ?? emptySnapshot), snapshotTimeoutMs);
            waiting.get(worker)?.push((snapshot) => {
              clearTimeout(timer);
              resolve(snapshot);
            });
            worker.postMessage('metrics');
          }),
      );
      return [...retired, ...(await Promise.all(live))];
    },
    shutdown: stopAll,
  };
}
