import type { Logger } from '../base/log.js';
import type { AuthListenerConfig, EngineName } from '../config/config.js';
import type { Gate } from '../decision/authorize.js';
import type { ListenerMetrics } from '../metrics/decision-metrics.js';

/** What the listeners share; `gate` is swapped whole on reload, so each request sees one config. */
export interface ServiceState {
  gate: Gate;
  /** True once every auth listener listens (shutdown is `draining`). */
  ready: boolean;
  /** Shutting down: /readyz fails, so load balancers move traffic elsewhere; requests are still answered. */
  draining: boolean;
  /** Listen sockets closed: every answer also closes its connection. */
  closing?: boolean;
  /** Worker threads all listening (when workers serve the auth listeners). */
  workersReady?: () => boolean;
}

/** What /readyz answers: config loaded, every auth listener (every worker) listening, not draining. */
export function isReady(state: ServiceState): boolean {
  return state.ready && !state.draining && (state.workersReady?.() ?? true);
}

export interface RunningListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting; open connections stay. */
  close(): void;
  /** Closes the listen socket and every open connection (a worker thread must, before it exits). */
  closeAll(): void;
}

/**
 * The thin adapter every HTTP engine implements for the auth listeners: copy the source fields
 * out of the request, let `listenerEdge` decide, write the pre-built answer. Nothing else differs
 * between engines, so both give the same verdict for the same request. (The admin listener is
 * always node:http: src/admin/admin-listener.ts.)
 */
export interface HttpEngine {
  readonly name: EngineName;
  /** Auth listeners may run on several worker threads sharing the port (SO_REUSEPORT). */
  readonly sharesPorts: boolean;
  listenAuth(
    listener: AuthListenerConfig,
    state: ServiceState,
    logger: Logger,
    metrics: ListenerMetrics | undefined,
  ): Promise<RunningListener>;
}
