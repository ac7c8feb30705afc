import { watchFile } from 'node:fs';
import { listenAdmin } from '../admin/admin-listener.js';
import { type ConfigFiles, type LoadedConfig, loadConfig, recordingReader } from '../config/load-config.js';
import { ExitCode } from '../exit-codes.js';
import type { RunningListener, ServiceState } from '../http/engine.js';
import { listenEnvoyGrpc } from '../http/envoy-grpc.js';
import { EngineError } from '../http/native-uws.js';
import { type EngineChoice, selectEngine } from '../http/select-engine.js';
import { startWorkerPool, type WorkerPool } from '../http/worker-pool.js';
import type { Logger } from '../log.js';
import { ThreadMetrics } from '../metrics/decision-metrics.js';
import { serviceMetrics } from '../metrics/exposition.js';
import { version } from '../version.js';

function sayWarnings(loaded: LoadedConfig, logger: Logger): void {
  for (const warning of loaded.warnings) logger.log('warn', warning);
  if (loaded.demoSecrets) {
    process.stderr.write(
      [
        '',
        '  ###########################################################################',
        '  #  WARNING: tokengate is running with the PUBLISHED DEMO SECRETS.          #',
        '  #  Anyone can sign valid tokens for these routes. Demo use only:           #',
        '  #  give a config file with your own keys (--config) before real traffic.   #',
        '  ###########################################################################',
        '',
        '',
      ].join('\n'),
    );
  }
}

/** The effective config for the startup log: key sources (paths, variable names), never key material. */
function effectiveConfig(loaded: LoadedConfig): unknown {
  return {
    ...loaded.config,
    routes: loaded.config.routes.map((route) => ({
      ...route,
      keys: route.keys.map((key) =>
        key.publicDemoSecret === undefined ? key : { ...key, publicDemoSecret: '[published demo secret]' },
      ),
    })),
  };
}

/** Reads and compiles the config, recording every file read: the snapshot the workers compile. */
function loadRecorded(configFile: string | undefined): { loaded: LoadedConfig; files: ConfigFiles } {
  const reader = recordingReader();
  const loaded = loadConfig(configFile, process.env, reader.read);
  return { loaded, files: reader.files };
}

/**
 * `reloadOnChange`: polls the config file and every key file it read (stat every 2 s, which
 * also sees Kubernetes' atomic symlink swaps of mounted ConfigMaps and Secrets) and reloads
 * after a change. Call the returned function with the files of each new config: key files a
 * reload added are watched from then on.
 */
function fileWatcher(onChange: () => void, logger: Logger): (paths: Iterable<string>) => void {
  let timer: NodeJS.Timeout | undefined;
  const watched = new Set<string>();
  return (paths) => {
    for (const path of paths) {
      if (watched.has(path)) continue;
      watched.add(path);
      watchFile(path, { interval: 2000, persistent: false }, (now, before) => {
        if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
        clearTimeout(timer);
        // Editors and kubelet write in steps: reload once the files have settled.
        timer = setTimeout(() => {
          logger.log('info', 'config or key file changed; reloading', { file: path });
          onChange();
        }, 300);
      });
    }
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** After the listen sockets close, how long open connections may still bring a request. */
const drainGraceMs = 500;

/** Runs the service until SIGTERM/SIGINT; resolves once it is listening. */
export async function serve(configFile: string | undefined, logger: Logger): Promise<void> {
  const { loaded, files } = loadRecorded(configFile);
  const { config } = loaded;
  let choice: EngineChoice;
  try {
    choice = selectEngine(config);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    logger.log('fatal', error.message, { engine: config.engine, engineFallback: config.engineFallback });
    process.exit(ExitCode.unavailable);
  }
  const { engine } = choice;
  // Only an engine that shares ports between threads runs workers; the node engine serves on the main thread.
  const workers = engine.sharesPorts ? config.workers : 1;
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
  const state: ServiceState = { gate: loaded.gate, ready: false, draining: false };
  const running: RunningListener[] = [];
  let admin: RunningListener | undefined;
  let pool: WorkerPool | undefined;
  // Workers count their own decisions; the main thread counts what it serves (the auth listeners
  // with one worker, the gRPC listeners always).
  const local = config.metrics ? new ThreadMetrics(loaded.gate) : undefined;
  const metrics = serviceMetrics({
    engine: engine.name,
    engineFallback: choice.fallbackReason !== undefined,
    version,
    workers: () => pool?.size() ?? 1,
    snapshots: async () => [...((await pool?.snapshots()) ?? []), ...(local === undefined ? [] : [local.snapshot()])],
  });
  metrics.configLoaded(loaded);
  try {
    admin = await listenAdmin(config.admin, state, metrics, logger);
    if (workers > 1 && config.listeners.length > 0) {
      pool = await startWorkerPool(configFile, files, config.listeners, workers, logger);
      state.workersReady = pool.ready;
    } else {
      for (const listener of config.listeners) {
        running.push(await engine.listenAuth(listener, state, logger, local?.listener(listener.name)));
      }
    }
    for (const listener of config.grpcListeners) {
      running.push(await listenEnvoyGrpc(listener, state, logger, local?.listener(listener.name)));
    }
  } catch (error) {
    for (const listener of [...running, ...(admin === undefined ? [] : [admin])]) listener.closeAll();
    // Worker threads must close their uWS sockets before the process exits (else Node aborts).
    await pool?.shutdown();
    logger.log('fatal', (error as Error).message);
    process.exit(ExitCode.listen);
  }
  let reloading = Promise.resolve();
  let watch: ((paths: Iterable<string>) => void) | undefined;
  const reload = async () => {
    let next: { loaded: LoadedConfig; files: ConfigFiles };
    try {
      next = loadRecorded(configFile);
    } catch (error) {
      metrics.reloadFailed();
      logger.log('error', 'config reload rejected; the previous config keeps serving', {
        problems: (error as { problems?: readonly string[] }).problems ?? [String(error)],
      });
      return;
    }
    sayWarnings(next.loaded, logger);
    // The workers compile the very bytes validated here; each swaps its config whole. The main
    // thread's listeners (gRPC, or all with one worker) swap only once every worker has.
    const problems = (await pool?.reload(next.files)) ?? [];
    if (problems.length > 0) {
      metrics.reloadFailed();
      logger.log('error', 'a worker rejected the reload', { problems });
      return;
    }
    local?.gateReplaced(next.loaded.gate);
    state.gate = next.loaded.gate;
    metrics.configLoaded(next.loaded);
    watch?.(next.files.keys());
    logger.log('info', 'config reloaded', {
      source: next.loaded.source,
      digest: next.loaded.digest,
      routes: next.loaded.gate.routes.length,
      workers: pool?.size() ?? 1,
    });
    if (
      JSON.stringify([next.loaded.config.listeners, next.loaded.config.grpcListeners, next.loaded.config.admin]) !==
      JSON.stringify([config.listeners, config.grpcListeners, config.admin])
    ) {
      logger.log('warn', 'listener and admin changes take effect only after a restart');
    }
  };
  // One reload at a time, in signal order.
  const requestReload = () => {
    reloading = reloading.then(reload);
  };
  process.on('SIGHUP', requestReload);
  if (config.reloadOnChange && configFile !== undefined) {
    watch = fileWatcher(requestReload, logger);
    watch(files.keys());
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.log('warn', 'second signal: stopping now', { signal });
      for (const listener of running) listener.closeAll();
      await pool?.shutdown();
      admin?.closeAll();
      process.exit(ExitCode.ok);
    }
    stopping = true;
    // 1. /readyz fails while everything still serves, so load balancers take this instance out.
    state.draining = true;
    logger.log('info', 'draining: /readyz answers 503', { signal, delaySec: config.shutdownDelaySec });
    await sleep(config.shutdownDelaySec * 1000);
    // 2. Stop accepting; answers on open connections now close them (Connection: close).
    state.closing = true;
    for (const listener of running) listener.close();
    pool?.drain();
    logger.log('info', 'auth listeners closed; answering open connections', { graceMs: drainGraceMs });
    await sleep(drainGraceMs);
    // 3. Close what is left (idle keepalive connections) and exit.
    for (const listener of running) listener.closeAll();
    await pool?.shutdown();
    admin?.closeAll();
    logger.log('info', 'stopped', { signal });
    process.exit(ExitCode.ok);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
  state.ready = true;
  for (const listener of [admin, ...running]) {
    logger.log('info', 'listening', { listener: listener.name, host: listener.host, port: listener.port });
  }
  for (const [i, listener] of (pool === undefined ? [] : config.listeners).entries()) {
    logger.log('info', 'listening', {
      listener: listener.name,
      host: listener.host,
      port: pool!.ports[i],
      workers,
    });
  }
}
