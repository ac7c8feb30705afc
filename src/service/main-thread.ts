import { listenAdmin, listenSigning, type SigningListener } from '../admin/admin-listener.js';
import type { SigningContext } from '../admin/signing-api.js';
import { ExitCode } from '../base/exit-codes.js';
import type { Logger } from '../base/log.js';
import { version } from '../base/version.js';
import { type ConfigFiles, type LoadedConfig, loadConfig, recordingReader } from '../config/load-config.js';
import type { Limiter } from '../decision/limits.js';
import type { RevocationBook } from '../decision/revocations.js';
import type { RunningListener } from '../http/engine.js';
import { EngineError } from '../http/native-uws.js';
import { type EngineChoice, selectEngine } from '../http/select-engine.js';
import { type ServiceMetrics, serviceMetrics } from '../metrics/exposition.js';
import { claimPort } from './claim-port.js';
import { configWatcher } from './config-watch.js';
import { cpuBudget } from './cpu-budget.js';
import { LimitCounting } from './limit-counting.js';
import { answerBatch } from './limit-relay.js';
import { RemoteDocuments } from './remote-refresh.js';
import { RevocationSync } from './revocation-sync.js';
import { Service } from './service.js';
import { signingContext } from './signing-context.js';
import { effectiveConfig, sayWarnings } from './startup-log.js';
import { startWorkerPool, type WorkerPool } from './worker-pool.js';

/** The config as loaded plus every file read for it: the snapshot the workers compile. */
interface Snapshot {
  readonly loaded: LoadedConfig;
  readonly files: ConfigFiles;
}

/** Every route with `revocation` reads `book`, every route with `limits` counts through `limiter`: the main thread's, kept across reloads. */
function loadSnapshot(
  configFile: string | undefined,
  book: RevocationBook,
  limiter: Limiter,
  documents: ReadonlyMap<string, Buffer | Error>,
): Snapshot {
  const reader = recordingReader(documents);
  const loaded = loadConfig(configFile, process.env, reader.read, undefined, { revocations: book, limiter });
  return { loaded, files: reader.files };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** After the listen sockets close, how long open connections may still bring a request. */
const drainGraceMs = 500;

/**
 * The main thread's part of the service: the admin listener, its own Service (the gRPC
 * listeners, and the auth listeners when one thread serves them) and the pool of auth workers
 * (when several threads do). Reloads and shutdowns reach every thread through here.
 */
class MainThread {
  private reloading = Promise.resolve();
  private stopping = false;
  private watch: ((paths: Iterable<string>) => void) | undefined;

  constructor(
    /** The config now serving, read by the signing API; swapped by each reload. */
    private readonly serving: { loaded: LoadedConfig },
    private readonly configFile: string | undefined,
    private readonly first: LoadedConfig,
    private readonly service: Service,
    private readonly metrics: ServiceMetrics,
    private readonly admin: RunningListener,
    private readonly threads: Threads,
    private readonly revocations: RevocationSync,
    private readonly limits: LimitCounting,
    private readonly remote: RemoteDocuments,
    private readonly logger: Logger,
  ) {}

  /** Loads the config again; every thread swaps to it, or none does (the previous one keeps serving). */
  reload(): Promise<void> {
    // One reload at a time, in signal order.
    this.reloading = this.reloading.then(() => this.reloadNow());
    return this.reloading;
  }

  /** Watches the config and key files, reloading after a change (`reloadOnChange`). */
  watchFiles(files: ConfigFiles): void {
    this.watch = configWatcher(() => void this.reload(), this.logger);
    this.watch(files.keys());
  }

  private get pool(): WorkerPool | undefined {
    return this.threads.pool;
  }

  private async reloadNow(): Promise<void> {
    const { logger, metrics, pool } = this;
    let next: Snapshot;
    try {
      next = loadSnapshot(this.configFile, this.revocations.book, this.limits, await this.remote.current());
    } catch (error) {
      this.remote.settled(false);
      metrics.reloadFailed();
      logger.log('error', 'config reload rejected; the previous config keeps serving', {
        problems: (error as { problems?: readonly string[] }).problems ?? [String(error)],
      });
      return;
    }
    sayWarnings(next.loaded, logger);
    // A route that starts checking revocations needs the list first (a store opens once; `state` changes need a restart).
    await this.revocations.open(next.loaded);
    await this.limits.open(next.loaded);
    // The workers compile the very bytes validated here; each swaps its config whole. The main
    // thread's listeners (gRPC, or all with one worker) swap only once every worker has.
    const problems = (await pool?.reload(next.files)) ?? [];
    if (problems.length > 0) {
      this.remote.settled(false);
      metrics.reloadFailed();
      logger.log('error', 'a worker rejected the reload', { problems });
      return;
    }
    this.remote.settled(true);
    this.service.reload(next.loaded.gate);
    this.serving.loaded = next.loaded;
    // New connections get the certificate the files hold now (renewed by certbot, cert-manager...).
    this.threads.signing?.reloadTls(next.loaded.signingTls);
    metrics.configLoaded(next.loaded);
    this.watch?.(next.files.keys());
    this.remote.schedule(() => void this.reload());
    logger.log('info', 'config reloaded', {
      source: next.loaded.source,
      digest: next.loaded.digest,
      routes: next.loaded.gate.routes.length,
      workers: pool?.size() ?? 1,
    });
    const listening = (config: LoadedConfig['config']) => {
      const own = config.signing?.listener;
      return JSON.stringify([
        config.listeners,
        config.grpcListeners,
        config.admin,
        own && { ...own, tls: own.tls !== undefined },
      ]);
    };
    if (listening(next.loaded.config) !== listening(this.first.config)) {
      logger.log('warn', 'listener and admin changes take effect only after a restart');
    }
    if ((next.loaded.config.signing === undefined) !== (this.first.config.signing === undefined)) {
      logger.log(
        'warn',
        next.loaded.config.signing === undefined
          ? 'signing removed: the page and the API answer 404 until a restart'
          : 'signing added: the page and the API open only after a restart',
      );
    }
    if (JSON.stringify(next.loaded.config.state) !== JSON.stringify(this.first.config.state)) {
      logger.log('warn', 'state (the revocation store and the counters of limits) changes take effect only after a restart');
    }
  }

  /** Drains, then stops: /readyz fails first, then the listen sockets close, then every connection. */
  async stop(signal: string): Promise<void> {
    const { service, pool, admin, logger } = this;
    if (this.stopping) {
      logger.log('warn', 'second signal: stopping now', { signal });
      service.stop();
      await pool?.shutdown();
      admin.closeAll();
      this.threads.signing?.closeAll();
      await this.revocations.close();
      this.limits.close();
      return;
    }
    this.stopping = true;
    // 1. /readyz fails while everything still serves, so load balancers take this instance out.
    service.leaveRotation();
    const delaySec = this.first.config.shutdownDelaySec;
    logger.log('info', 'draining: /readyz answers 503', { signal, delaySec });
    await sleep(delaySec * 1000);
    // 2. Stop accepting; answers on open connections now close them (Connection: close).
    service.drain();
    pool?.drain();
    logger.log('info', 'auth listeners closed; answering open connections', { graceMs: drainGraceMs });
    await sleep(drainGraceMs);
    // 3. Close what is left (idle keepalive connections).
    service.stop();
    await pool?.shutdown();
    admin.closeAll();
    this.threads.signing?.closeAll();
    await this.revocations.close();
    this.limits.close();
    logger.log('info', 'stopped', { signal });
  }
}

/** The engine the config names, or the fatal line and exit 69 when it cannot load here. */
function engineFor(loaded: LoadedConfig, logger: Logger): EngineChoice {
  try {
    return selectEngine(loaded.config);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    const { engine, engineFallback } = loaded.config;
    logger.log('fatal', error.message, { engine, engineFallback });
    process.exit(ExitCode.unavailable);
  }
}

/**
 * Why `workers` cannot be served by the chosen engine on this runtime (a fixed count above 1 on
 * an engine that cannot share a port between threads, unless it serves as a fallback), or undefined.
 */
export function workersProblem(
  config: Pick<LoadedConfig['config'], 'workers' | 'listeners'>,
  choice: EngineChoice,
): string | undefined {
  const { workers } = config;
  if (config.listeners.length === 0 || choice.engine.sharesPorts || workers === 'auto' || workers <= 1) return undefined;
  if (choice.fallbackReason !== undefined) return undefined;
  return `config.workers: ${workers} needs the node engine to share a port between threads, which Node ${process.versions.node} cannot: set workers to 1 or "auto", or run Node 22.12+/24`;
}

/**
 * How many auth threads serve: `workers` as configured, or for "auto" the CPUs this process may
 * use (at most 64), logged with the reason. An engine that cannot share a port between threads
 * (the node engine before Node 22.12) serves on one: "auto" says so in one line, a fixed count
 * above 1 is refused (exit 78) unless the engine is a fallback, which keeps serving.
 */
function workerCount(config: LoadedConfig['config'], choice: EngineChoice, logger: Logger): number {
  const { workers } = config;
  if (config.listeners.length === 0) return 1;
  if (!choice.engine.sharesPorts) {
    const problem = workersProblem(config, choice);
    if (problem !== undefined) {
      logger.log('fatal', problem);
      process.exit(ExitCode.config);
    }
    const wanted = workers === 'auto' ? cpuBudget().cpus : workers;
    if (wanted > 1) {
      logger.log(
        'warn',
        `node engine on Node ${process.versions.node} cannot share a port between threads: serving on one thread (Node 22.12+/24 shares it)`,
        { workers: 1, configured: workers },
      );
    }
    return 1;
  }
  if (workers !== 'auto') return workers;
  const budget = cpuBudget();
  const count = Math.min(budget.cpus, 64);
  const reason = count < budget.cpus ? `${budget.reason}; at most 64 workers` : budget.reason;
  logger.log('info', 'workers "auto"', { workers: count, reason });
  return count;
}

/** Says which engine serves (loudly when it is the fallback), the config's warnings, and the config as loaded. */
function logStart(loaded: LoadedConfig, choice: EngineChoice, workers: number, logger: Logger): void {
  const { engine } = choice;
  if (choice.fallbackReason !== undefined) {
    logger.log('warn', 'engine fallback: the native uWS engine cannot load here; serving with the node engine', {
      reason: choice.fallbackReason,
      engine: engine.name,
      workers,
    });
  }
  sayWarnings(loaded, logger);
  logger.log('info', 'config loaded', {
    source: loaded.source,
    digest: loaded.digest,
    engine: engine.name,
    config: effectiveConfig(loaded),
  });
}

/** The auth worker pool once it runs (none while starting, or when this thread serves alone). */
interface Threads {
  pool: WorkerPool | undefined;
  /** The signing page and API's own listener (`signing.listener`), opened with the admin listener. */
  signing?: SigningListener | undefined;
}

/** The exposition: the pool's counters (read through `threads`, as it starts later) and this thread's own. */
function exposition(
  choice: EngineChoice,
  service: Service,
  threads: Threads,
  revocations: RevocationSync,
  limits: LimitCounting,
): ServiceMetrics {
  return serviceMetrics({
    revocations: () => revocations.status(),
    limits: () => limits.status(),
    engine: choice.engine.name,
    engineFallback: choice.fallbackReason !== undefined,
    version,
    workers: () => threads.pool?.size() ?? 1,
    workerRestarts: () => threads.pool?.restarts() ?? 0,
    snapshots: async () => {
      const own = service.snapshot();
      return [...((await threads.pool?.snapshots()) ?? []), ...(own === undefined ? [] : [own])];
    },
  });
}

interface ListenPlan {
  readonly configFile: string | undefined;
  readonly files: ConfigFiles;
  readonly config: LoadedConfig['config'];
  readonly engine: EngineChoice['engine'];
  readonly workers: number;
  readonly service: Service;
  readonly metrics: ServiceMetrics;
  readonly signing: SigningContext | undefined;
  readonly revocations: RevocationSync;
  readonly limits: LimitCounting;
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
}

/**
 * Opens the admin listener, then the worker pool (several threads) or the auth listeners on this
 * thread, and the gRPC listeners; when one cannot listen, closes what opened and exits 71.
 */
async function listenAll(plan: ListenPlan, threads: Threads): Promise<readonly [RunningListener, readonly RunningListener[]]> {
  const { configFile, files, config, engine, workers, service, logger } = plan;
  let admin: RunningListener | undefined;
  try {
    const ownListener = config.signing?.listener;
    admin = await listenAdmin(config.admin, service.state, plan.metrics, logger, ownListener ? undefined : plan.signing);
    // Said at once: /healthz and /readyz answer from now on, while the revocation list may still be loading.
    logger.log('info', 'listening', { listener: admin.name, host: admin.host, port: admin.port });
    if (ownListener !== undefined && plan.signing !== undefined) {
      threads.signing = await listenSigning(ownListener, plan.loaded.signingTls, plan.signing, logger);
      const { host, port } = threads.signing;
      logger.log('info', 'listening', { listener: 'signing', host, port, tls: ownListener.tls !== undefined });
    }
    // The whole revocation list before any auth listener opens (/readyz says not ready meanwhile).
    await plan.revocations.open(plan.loaded);
    await plan.limits.open(plan.loaded);
    if (workers > 1) {
      threads.pool = await startWorkerPool({
        configFile,
        files,
        listeners: config.listeners,
        count: workers,
        engine: engine.name,
        revocations: () => plan.revocations.list(),
        limits: (batch) => answerBatch(plan.limits, batch),
        logger,
      });
      service.state.workersReady = threads.pool.ready;
    }
    // An engine that shares ports (SO_REUSEPORT) could silently join a port another process holds:
    // claim each one with a plain bind first, as the worker pool does. (The node engine listens
    // exclusively on one thread; the claim changes nothing for it.)
    const auth =
      threads.pool !== undefined
        ? []
        : engine.sharesPorts
          ? await Promise.all(config.listeners.map(async (l) => ({ ...l, port: await claimPort(l.host, l.port) })))
          : config.listeners;
    return [admin, await service.start({ engine, auth, grpc: config.grpcListeners }, logger)];
  } catch (error) {
    admin?.closeAll();
    threads.signing?.closeAll();
    // Worker threads must close their uWS sockets before the process exits (else Node aborts).
    await threads.pool?.shutdown();
    logger.log('fatal', (error as Error).message);
    process.exit(ExitCode.listen);
  }
}

/** Logs every listener's address; prints the signing page's access token made for this run, if any. */
function announce(
  config: LoadedConfig['config'],
  listening: readonly [RunningListener, readonly RunningListener[]],
  pool: WorkerPool | undefined,
  workers: number,
  signing: ReturnType<typeof signingContext>,
  own: RunningListener | undefined,
  logger: Logger,
): void {
  const [admin, running] = listening;
  for (const listener of running) {
    logger.log('info', 'listening', { listener: listener.name, host: listener.host, port: listener.port });
  }
  for (const [i, listener] of (pool === undefined ? [] : config.listeners).entries()) {
    logger.log('info', 'listening', { listener: listener.name, host: listener.host, port: pool!.ports[i], workers });
  }
  if (signing?.randomToken !== undefined) {
    // Like a notebook server: the one place this token appears is the terminal that started the service.
    const page = own ?? admin;
    const host = page.host.includes(':') ? `[${page.host}]` : page.host;
    const scheme = config.signing?.listener?.tls === undefined ? 'http' : 'https';
    process.stderr.write(
      `\n  Signing page: ${scheme}://${host}:${page.port}/ (API: /api/v1/)\n  Access token (made for this run, never logged): ${signing.randomToken}\n\n`,
    );
  }
}

/** Starts the service and runs it until SIGTERM/SIGINT (reloading on SIGHUP); resolves once it is listening. */
export async function runService(configFile: string | undefined, logger: Logger): Promise<void> {
  const threads: Threads = { pool: undefined };
  const revocations = new RevocationSync(logger, (change) => threads.pool?.revocations(change));
  const limits = new LimitCounting(logger);
  const remote = new RemoteDocuments(configFile, logger);
  const { loaded, files } = loadSnapshot(configFile, revocations.book, limits, await remote.current());
  const { config } = loaded;
  const choice = engineFor(loaded, logger);
  // Only an engine that shares ports between threads runs workers (uws; node from Node 22.12).
  const workers = workerCount(config, choice, logger);
  logStart(loaded, choice, workers, logger);
  // Workers count their own decisions; the main thread counts what it serves.
  const service = new Service(loaded.gate, config.metrics);
  const metrics = exposition(choice, service, threads, revocations, limits);
  metrics.configLoaded(loaded);
  const serving = { loaded };
  const signing = signingContext(serving, metrics, revocations, logger);
  const plan = { configFile, files, config, engine: choice.engine, workers, service, metrics, loaded, logger };
  const listening = await listenAll({ ...plan, signing: signing?.context, revocations, limits }, threads);
  const { pool } = threads;
  const main = new MainThread(
    serving,
    configFile,
    loaded,
    service,
    metrics,
    listening[0],
    threads,
    revocations,
    limits,
    remote,
    logger,
  );
  remote.schedule(() => void main.reload());
  process.on('SIGHUP', () => void main.reload());
  if (config.reloadOnChange && configFile !== undefined) main.watchFiles(files);
  const stop = (signal: string) => main.stop(signal).then(() => process.exit(ExitCode.ok));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  service.state.ready = true;
  announce(config, listening, pool, workers, signing, threads.signing, logger);
}
