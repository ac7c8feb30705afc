/**
 * One auth worker thread: its own config copy, verdict caches and uWS apps, listening on the
 * ports the main thread names (SO_REUSEPORT lets every worker share them). The main thread
 * supervises: it relays reloads and shutdowns, and replaces a worker that dies. Configs are
 * compiled from the bytes the main thread read (the snapshot), never re-read from disk here,
 * so every worker serves exactly the config the main thread validated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ConfigFiles, loadConfig, snapshotReader } from '../config/load-config.js';
import { ExitCode } from '../exit-codes.js';
import { createLogger, logLevelFrom } from '../log.js';
import { emptySnapshot, type MetricsSnapshot, ThreadMetrics } from '../metrics/decision-metrics.js';
import type { RunningListener, ServiceState } from './engine.js';
import { loadNativeUws } from './native-uws.js';
import { uwsEngine } from './uws-engine.js';

export interface AuthWorkerData {
  readonly configFile: string | undefined;
  /** Port per listener, already claimed by the main thread. */
  readonly ports: readonly number[];
  /** The config and key files as the main thread read them. */
  readonly files: ConfigFiles;
}

/** What the main thread sends. */
export type WorkerCommand =
  | { readonly type: 'reload'; readonly files: ConfigFiles }
  | { readonly type: 'metrics' }
  | { readonly type: 'drain' }
  | { readonly type: 'shutdown' }
  | { readonly type: 'failpoint:throw' };

/** What a worker answers. */
export type WorkerMessage =
  | { readonly type: 'listening'; readonly ports: readonly number[] }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'reloaded' }
  | { readonly type: 'metrics'; readonly snapshot: MetricsSnapshot }
  | { readonly type: 'reload-failed'; readonly problems: readonly string[] };

const port = parentPort;
if (port !== null) {
  const { configFile, ports, files } = workerData as AuthWorkerData;
  // The main thread has already refused an invalid level.
  const logger = createLogger(logLevelFrom(process.env) ?? 'info');
  const post = (message: WorkerMessage) => port.postMessage(message);
  const load = (snapshot: ConfigFiles) => loadConfig(configFile, process.env, snapshotReader(snapshot));
  const running: RunningListener[] = [];
  // A JavaScript error outside a request handler (a bug in reload or metrics code): close this
  // worker's sockets and end the thread, so the main thread replaces it. Ending a thread with
  // uWS sockets still open would abort the whole process (Node's uv_loop_close assertion).
  const fail = (error: unknown) => {
    logger.log('fatal', 'auth worker failed; closing its sockets', { error: String((error as Error)?.stack ?? error) });
    for (const listener of running) listener.closeAll();
    process.exitCode = ExitCode.software;
    port.close();
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  // Failpoint for the fault tests: only when the environment names it.
  const failpoints = (process.env.TOKENGATE_FAILPOINTS ?? '').split(',');
  try {
    const loaded = load(files);
    const engine = uwsEngine(loadNativeUws());
    const state: ServiceState = { gate: loaded.gate, ready: true, draining: false };
    const metrics = loaded.config.metrics ? new ThreadMetrics(loaded.gate) : undefined;
    for (const [i, listener] of loaded.config.listeners.entries()) {
      const port = ports[i] ?? listener.port;
      running.push(await engine.listenAuth({ ...listener, port }, state, logger, metrics?.listener(listener.name)));
    }
    port.on('message', (command: WorkerCommand) => {
      switch (command.type) {
        case 'reload':
          try {
            const next = load(command.files).gate;
            metrics?.gateReplaced(next);
            state.gate = next;
            post({ type: 'reloaded' });
          } catch (error) {
            post({ type: 'reload-failed', problems: (error as { problems?: string[] }).problems ?? [String(error)] });
          }
          break;
        case 'metrics':
          post({ type: 'metrics', snapshot: metrics?.snapshot() ?? emptySnapshot });
          break;
        case 'drain':
          state.draining = true;
          state.closing = true;
          for (const listener of running) listener.close();
          break;
        case 'shutdown':
          for (const listener of running) listener.closeAll();
          port.close();
          break;
        case 'failpoint:throw':
          if (failpoints.includes('worker-throw')) throw new Error('failpoint worker-throw');
          break;
      }
    });
    post({ type: 'listening', ports: running.map((listener) => listener.port) });
  } catch (error) {
    for (const listener of running) listener.closeAll();
    post({ type: 'failed', message: (error as Error).message });
    port.close();
  }
}
