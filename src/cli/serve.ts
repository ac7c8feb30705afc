import { type LoadedConfig, loadConfig } from '../config/load-config.js';
import { loadNativeUws } from '../http/native-uws.js';
import { listenAdmin, listenAuth, type RunningListener, type ServiceState } from '../http/uws-engine.js';
import { startWorkerPool, type WorkerPool } from '../http/worker-pool.js';
import type { Logger } from '../log.js';
import { ThreadMetrics } from '../metrics/decision-metrics.js';
import { serviceMetrics } from '../metrics/exposition.js';
import { version } from '../version.js';
import { ExitCode } from './exit-codes.js';

function sayWarnings(loaded: LoadedConfig, logger: Logger): void {
  for (const warning of loaded.warnings) logger.log('warn', warning);
  if (loaded.warnings.some((w) => w.includes('PUBLISHED DEMO'))) {
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

/** Runs the service until SIGTERM/SIGINT; resolves once it is listening. */
export async function serve(configFile: string | undefined, logger: Logger): Promise<void> {
  const loaded = loadConfig(configFile);
  const uws = loadNativeUws();
  sayWarnings(loaded, logger);
  const { config } = loaded;
  logger.log('info', 'config loaded', {
    source: loaded.source,
    engine: 'uWebSockets.js (native)',
    routes: loaded.gate.routes.map((r) => ({ name: r.name, prefix: r.prefix, scheme: r.schemeId, keys: r.keyIds })),
  });
  const state: ServiceState = { gate: loaded.gate, ready: false };
  const running: RunningListener[] = [];
  let pool: WorkerPool | undefined;
  // Workers count their own decisions; with one worker the main thread serves and counts.
  const local = config.metrics && config.workers === 1 ? new ThreadMetrics(loaded.gate) : undefined;
  const metrics = serviceMetrics({
    engine: 'uws',
    version,
    workers: () => pool?.size() ?? 1,
    snapshots: async () => (pool !== undefined ? pool.snapshots() : local === undefined ? [] : [local.snapshot()]),
  });
  metrics.configLoaded(loaded);
  try {
    running.push(await listenAdmin(uws, config.admin, state, metrics, logger));
    if (config.workers > 1) {
      pool = await startWorkerPool(configFile, config.listeners, config.workers, logger);
    } else {
      for (const listener of config.listeners) {
        running.push(await listenAuth(uws, listener, state, logger, local?.listener(listener.name)));
      }
    }
  } catch (error) {
    for (const listener of running) listener.close();
    logger.log('fatal', (error as Error).message);
    process.exit(ExitCode.listen);
  }
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig(configFile);
      sayWarnings(next, logger);
      local?.gateReplaced(next.gate);
      state.gate = next.gate;
      pool?.reload();
      metrics.configLoaded(next);
      logger.log('info', 'config reloaded', { source: next.source, routes: next.gate.routes.length });
      if (JSON.stringify([next.config.listeners, next.config.admin]) !== JSON.stringify([config.listeners, config.admin])) {
        logger.log('warn', 'listener and admin changes take effect only after a restart');
      }
    } catch (error) {
      metrics.reloadFailed();
      logger.log('error', 'config reload rejected; the previous config keeps serving', {
        problems: (error as { problems?: readonly string[] }).problems ?? [String(error)],
      });
    }
  });
  const stop = (signal: string) => {
    state.ready = false;
    logger.log('info', 'shutting down', { signal });
    for (const listener of running) listener.close();
    if (pool === undefined) {
      setTimeout(() => process.exit(ExitCode.ok), 50).unref();
    } else {
      void pool.shutdown().then(() => process.exit(ExitCode.ok));
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  state.ready = true;
  for (const listener of running) {
    logger.log('info', 'listening', { listener: listener.name, host: listener.host, port: listener.port });
  }
  for (const [i, listener] of (pool === undefined ? [] : config.listeners).entries()) {
    logger.log('info', 'listening', {
      listener: listener.name,
      host: listener.host,
      port: pool!.ports[i],
      workers: config.workers,
    });
  }
}
