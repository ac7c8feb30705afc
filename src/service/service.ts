import type { Logger } from '../base/log.js';
import type { AuthListenerConfig, GrpcListenerConfig } from '../config/config.js';
import type { Gate } from '../decision/authorize.js';
import type { HttpEngine, RunningListener, ServiceState } from '../http/engine.js';
import { listenEnvoyGrpc } from '../http/envoy-grpc.js';
import { type MetricsSnapshot, ThreadMetrics } from '../metrics/decision-metrics.js';

/** What one thread serves: HTTP auth listeners on an engine, and Envoy gRPC listeners. */
export interface ServicePlan {
  readonly engine: HttpEngine;
  /** Each with the port to listen on (a worker's is the one the main thread claimed). */
  readonly auth: readonly AuthListenerConfig[];
  readonly grpc: readonly GrpcListenerConfig[];
}

/**
 * The life of the listeners one thread serves, the same on the main thread and in every auth
 * worker: start (listen), reload (swap the gate whole, so each request sees one config), drain
 * (stop accepting; answers on open connections close them) and stop (close everything: a worker
 * thread must, before it ends, or this uWS build aborts the process).
 */
export class Service {
  readonly state: ServiceState;
  /** This thread's decision counters; undefined when the config turns metrics off. */
  readonly metrics: ThreadMetrics | undefined;
  private readonly running: RunningListener[] = [];

  constructor(gate: Gate, recordMetrics: boolean, ready = false) {
    this.state = { gate, ready, draining: false };
    this.metrics = recordMetrics ? new ThreadMetrics(gate) : undefined;
  }

  /** Opens every listener of `plan`; on a failure closes those already open and rethrows. */
  async start(plan: ServicePlan, logger: Logger): Promise<readonly RunningListener[]> {
    const { state, metrics } = this;
    try {
      for (const listener of plan.auth) {
        this.running.push(await plan.engine.listenAuth(listener, state, logger, metrics?.listener(listener.name)));
      }
      for (const listener of plan.grpc) {
        this.running.push(await listenEnvoyGrpc(listener, state, logger, metrics?.listener(listener.name)));
      }
    } catch (error) {
      this.stop();
      throw error;
    }
    return this.running;
  }

  /** Serves `gate` from the next request on; counters carry over by route name. */
  reload(gate: Gate): void {
    this.metrics?.gateReplaced(gate);
    this.state.gate = gate;
  }

  snapshot(): MetricsSnapshot | undefined {
    return this.metrics?.snapshot();
  }

  /** /readyz fails from now on, so load balancers take this instance out; everything still serves. */
  leaveRotation(): void {
    this.state.draining = true;
  }

  /** Stops accepting connections; open ones are still answered, each answer closing its connection. */
  drain(): void {
    this.state.draining = true;
    this.state.closing = true;
    for (const listener of this.running) listener.close();
  }

  /** Closes every listen socket and open connection. */
  stop(): void {
    for (const listener of this.running) listener.closeAll();
  }
}
