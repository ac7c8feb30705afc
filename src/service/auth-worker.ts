/**
 * One auth worker thread: its own config copy, verdict caches and listeners (uWS apps, or the
 * node engine's hardened node:http servers), listening on the ports the main thread names
 * (SO_REUSEPORT lets every worker share them). The main thread
 * supervises: it relays reloads and shutdowns, and replaces a worker that dies. Configs are
 * compiled from the bytes the main thread read (the snapshot), never re-read from disk here,
 * so every worker serves exactly the config the main thread validated.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { ExitCode } from '../base/exit-codes.js';
import { createLogger, type Logger, logLevelFrom } from '../base/log.js';
import type { EngineName } from '../config/config.js';
import { type ConfigFiles, loadConfig, snapshotReader } from '../config/load-config.js';
import { applyChange, type Revocation, RevocationBook, type RevocationChange } from '../decision/revocations.js';
import type { HttpEngine } from '../http/engine.js';
import { loadNativeUws } from '../http/native-uws.js';
import { nodeWorkerEngine } from '../http/node-engine.js';
import { uwsEngine } from '../http/uws-engine.js';
import { emptySnapshot, type MetricsSnapshot } from '../metrics/decision-metrics.js';
import { type LimitAnswers, type LimitBatch, RelayedLimiter } from './limit-relay.js';
import { Service } from './service.js';

export interface AuthWorkerData {
  readonly configFile: string | undefined;
  /** Port per listener, already claimed by the main thread. */
  readonly ports: readonly number[];
  /** The config and key files as the main thread read them. */
  readonly files: ConfigFiles;
  /** The engine the main thread chose (after any fallback). */
  readonly engine: EngineName;
  /** The revocations in force when the worker starts; changes follow as `revocations` commands. */
  readonly revocations: readonly Revocation[];
}

/** What the main thread sends. */
export type WorkerCommand =
  | { readonly type: 'reload'; readonly files: ConfigFiles }
  | { readonly type: 'metrics' }
  | { readonly type: 'revocations'; readonly change: RevocationChange }
  | LimitAnswers
  | { readonly type: 'drain' }
  | { readonly type: 'shutdown' };

/** What a worker answers. */
export type WorkerMessage =
  | { readonly type: 'listening'; readonly ports: readonly number[] }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'reloaded' }
  | { readonly type: 'metrics'; readonly snapshot: MetricsSnapshot }
  | { readonly type: 'reload-failed'; readonly problems: readonly string[] }
  | LimitBatch;

/** Every line this thread logs names it (`thread`), so a reader can tell which worker decided. */
function threadLogger(base: Logger): Logger {
  const own = (fields?: Record<string, unknown>) => ({ ...fields, thread: threadId });
  return {
    log: (level, msg, fields) => base.log(level, msg, own(fields)),
    limited: (key, level, msg, fields) => base.limited(key, level, msg, own(fields)),
  };
}

const port = parentPort;
if (port !== null) {
  const { configFile, ports, files, engine: engineName, revocations } = workerData as AuthWorkerData;
  // One book for the thread's life: every config it compiles reads it, and the main thread keeps it in step.
  const book = new RevocationBook();
  applyChange(book, { full: revocations });
  // The main thread has already refused an invalid level.
  const logger = threadLogger(createLogger(logLevelFrom(process.env) ?? 'info'));
  const post = (message: WorkerMessage) => port.postMessage(message);
  // Routes with limits count in the main thread, which holds the counters for every thread.
  const limiter = new RelayedLimiter(post);
  const load = (snapshot: ConfigFiles) => {
    const loaded = loadConfig(configFile, process.env, snapshotReader(snapshot), undefined, { revocations: book, limiter });
    const { state } = loaded.config;
    limiter.storeTimeoutMs = state.store === 'redis' ? state.limitTimeoutMs : 0;
    return loaded;
  };
  let service: Service | undefined;
  // A JavaScript error outside a request handler (a bug in reload or metrics code): close this
  // worker's sockets and end the thread, so the main thread replaces it. Ending a thread with
  // uWS sockets still open would abort the whole process (Node's uv_loop_close assertion).
  const fail = (error: unknown) => {
    logger.log('fatal', 'auth worker failed; closing its sockets', { error: String((error as Error)?.stack ?? error) });
    service?.stop();
    process.exitCode = ExitCode.software;
    port.close();
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  try {
    const { gate, config } = load(files);
    service = new Service(gate, config.metrics, true);
    const auth = config.listeners.map((listener, i) => ({ ...listener, port: ports[i] ?? listener.port }));
    const engine: HttpEngine = engineName === 'node' ? nodeWorkerEngine : uwsEngine(loadNativeUws());
    const running = await service.start({ engine, auth, grpc: [] }, logger);
    const serving = service;
    port.on('message', (command: WorkerCommand) => {
      switch (command.type) {
        case 'reload':
          try {
            serving.reload(load(command.files).gate);
            post({ type: 'reloaded' });
          } catch (error) {
            post({ type: 'reload-failed', problems: (error as { problems?: string[] }).problems ?? [String(error)] });
          }
          break;
        case 'metrics':
          post({ type: 'metrics', snapshot: serving.snapshot() ?? emptySnapshot });
          break;
        case 'revocations':
          applyChange(book, command.change);
          break;
        case 'limited':
          limiter.answered(command);
          break;
        case 'drain':
          serving.drain();
          break;
        case 'shutdown':
          serving.stop();
          port.close();
          break;
      }
    });
    post({ type: 'listening', ports: running.map((listener) => listener.port) });
  } catch (error) {
    service?.stop();
    post({ type: 'failed', message: (error as Error).message });
    port.close();
  }
}
