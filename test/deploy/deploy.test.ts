/**
 * The deploy kit parses, and says what the service really does: the dashboard and the alert
 * rules use only metrics a running instance exports, probes and ports match the defaults.
 *
 * Over 250 lines: one case per shipped file of deploy/, each checked against the running service it describes.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { cpuBudget } from '../../src/service/cpu-budget.js';
import { authStatus, listenerSources, rawRequest } from '../helpers/raw-http.js';
import { startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { configIn, route, uwsPool } from '../helpers/test-config.js';

const deploy = new URL('../../deploy/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, deploy), 'utf8');

function filesUnder(dir: string): string[] {
  return readdirSync(new URL(dir, deploy), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(`${dir}${entry.name}/`) : [`${dir}${entry.name}`],
  );
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML and JSON of any shape
type Json = Record<string, any>;
function yamlDocs(path: string): Json[] {
  const docs = parseAllDocuments(read(path));
  for (const doc of docs) expect(doc.errors, `${path}: ${doc.errors.join('; ')}`).toEqual([]);
  return docs.map((doc) => doc.toJSON() as Json);
}
/** An object of deploy/kubernetes by kind, from its file (test/deploy/kubernetes.test.ts checks the rendered kit). */
const k8s = (kind: string): Json => {
  const found = filesUnder('kubernetes/')
    .filter((f) => f.endsWith('.yaml'))
    .flatMap(yamlDocs)
    .find((doc) => doc.kind === kind);
  expect(found, `a ${kind} in deploy/kubernetes`).toBeDefined();
  return found!;
};

/** Metric names a PromQL expression uses. */
const metricNames = (expr: string) => [...expr.matchAll(/\btokengate_[a-z_]+/g)].map((m) => m[0]);

describe('deploy kit', () => {
  it('every YAML and JSON file parses', () => {
    const files = filesUnder('');
    expect(files.filter((f) => /\.ya?ml$/.test(f)).length).toBeGreaterThanOrEqual(9);
    for (const file of files) {
      if (/\.ya?ml$/.test(file)) expect(yamlDocs(file).length, file).toBeGreaterThan(0);
      if (file.endsWith('.json')) expect(() => JSON.parse(read(file)), file).not.toThrow();
    }
    expect(Array.isArray(parseConfig(JSON.parse(read('config.example.json'))))).toBe(false);
  });

  it('Dockerfile: Node 24 LTS on Debian 12 in both stages, non-root, health check on the default admin port', () => {
    const dockerfile = read('docker/Dockerfile');
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*http:\/\/127\.0\.0\.1:9090\/healthz/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080 9090$/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(read('docker/Dockerfile.dockerignore')).toMatch(/^!package-lock\.json$/m);
  });

  it("the image's Node and the engine of the configs it ships with agree: each serves on that Node", async () => {
    const major = /^FROM node:(\d+)-bookworm-slim$/m.exec(read('docker/Dockerfile'))![1]!;
    expect((parseConfig(defaultConfig) as Config).workers, 'the embedded default').toBe('auto');
    // The Node 24 binary of the second test run (test/install-node24.sh, run by `npm test` first).
    const node = process.env.TOKENGATE_NODE24 ?? fileURLToPath(new URL('../../.node24/bin/node', import.meta.url));
    expect(execFileSync(node, ['--version'], { encoding: 'utf8' })).toMatch(new RegExp(`^v${major}\\.`));
    const shipped = {
      'kubernetes/base/configmap.yaml': JSON.parse(yamlDocs('kubernetes/base/configmap.yaml')[0]!.data['config.json']),
      'ingress-nginx/config.json': JSON.parse(read('ingress-nginx/config.json')),
    };
    for (const [file, config] of Object.entries(shipped)) {
      const parsed = parseConfig(config) as Config;
      // The uWS build loads only on Node 20 (ABI 115): anything else needs the node engine.
      if (major !== '20') expect(parsed.engine, file).toBe('node');
      const dir = tempDir();
      writeFileSync(join(dir, 'key'), 'e7'.repeat(32));
      const local = writeConfig(dir, {
        ...config,
        listeners: config.listeners.map((l: Json) => ({ ...l, host: '127.0.0.1', port: 0 })),
        admin: { ...config.admin, host: '127.0.0.1', port: 0 },
        routes: (config.routes ?? [{ prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', file: 'key' }] }]).map((r: Json) => ({
          ...r,
          keys: r.keys.map((k: Json) => ({ id: k.id, file: join(dir, 'key') })),
        })),
      });
      const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
      const service = await startService(['serve', '--config', local], {}, 2, cli, [], node);
      try {
        const metrics = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
        expect(metrics, file).toMatch(new RegExp(`^nodejs_version_info\\{version="v${major}\\.`, 'm'));
        expect(metrics, file).toMatch(/^tokengate_engine_info\{engine="node"\} 1$/m);
        // "workers": "auto": on the image's Node the node engine's threads share the port, one per CPU.
        expect(parsed.workers, file).toBe('auto');
        expect(metrics, file).toMatch(new RegExp(`^tokengate_workers ${Math.min(cpuBudget().cpus, 64)}$`, 'm'));
      } finally {
        await service.stop();
      }
    }
  });

  it('systemd: reload is SIGHUP, stop is SIGTERM with time to drain, bad configs are not restarted', () => {
    const unit = read('systemd/tokengate.service');
    expect(unit).toMatch(/^ExecStart=.*dist\/cli\/main\.js serve --config /m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1])).toBeGreaterThanOrEqual(10);
    expect(unit).toMatch(/^RestartPreventExitStatus=64 69 78$/m);
  });

  it('the dashboard and the alert rules use only metrics a running instance exports', async () => {
    const dashboard = JSON.parse(read('grafana/tokengate-dashboard.json')) as Json;
    const panelExprs: string[] = dashboard.panels.flatMap((panel: Json) => panel.targets.map((t: Json) => t.expr));
    const ruleExprs: string[] = k8s('PrometheusRule').spec.groups.flatMap((g: Json) => g.rules.map((r: Json) => r.expr));
    const titles = dashboard.panels.map((panel: Json) => panel.title.toLowerCase()).join(' | ');
    for (const topic of ['verdict', 'deny', 'latency', 'cache hit', 'reload', 'workers', 'engine', 'revocation store', 'limits'])
      expect(titles).toContain(topic);
    const alerts = k8s('PrometheusRule').spec.groups.flatMap((g: Json) => g.rules.map((r: Json) => r.alert));
    for (const alert of [
      'DenyRatio',
      'ExpiredRatio',
      'ReloadFailed',
      'Latency',
      'NoWorkers',
      'StateStoreDown',
      'LimitStoreDown',
    ]) {
      expect(
        alerts.some((name: string) => name.includes(alert)),
        alert,
      ).toBe(true);
    }

    // A real instance with worker threads, a cached route that checks revocations and a limited one, after some traffic.
    const key = 'e5'.repeat(32);
    const { file } = configIn(
      { 'key.hex': key },
      {
        ...uwsPool,
        listeners: [{ port: 0, ...listenerSources('target') }],
        routes: [
          route('live', '/live/', 'hmac', [{ id: 'k', file: 'key.hex' }], { verdictCache: true, revocation: true }),
          route('dl', '/dl/', 'hmac', [{ id: 'k', file: 'key.hex' }], { limits: { uses: 1 } }),
        ],
      },
    );
    const service = await startService(['serve', '--config', file]);
    let exposition: string;
    try {
      const url = hmacSigner({ keyId: 'k', key }).sign({ path: '/live/a.ts', expiresSec: expiresIn(60) });
      expect(await authStatus(service.ports.get('auth')!, url, '192.0.2.1', 'target')).toBe(200);
      const once = hmacSigner({ keyId: 'k', key }).sign({ path: '/dl/a.zip', expiresSec: expiresIn(60) });
      expect(await authStatus(service.ports.get('auth')!, once, '192.0.2.1', 'target')).toBe(200);
      expect(await authStatus(service.ports.get('auth')!, once, '192.0.2.1', 'target')).toBe(403);
      exposition = (await rawRequest(service.ports.get('admin')!, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).body;
    } finally {
      await service.stop();
    }
    const exported = new Set(
      exposition
        .split('\n')
        .filter((line) => line.startsWith('tokengate_'))
        .map((line) => /^[a-z_]+/.exec(line)![0]),
    );
    const used = new Set([...panelExprs, ...ruleExprs].flatMap(metricNames));
    expect(used.size).toBeGreaterThanOrEqual(10);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });
});

/** Finds, depth first, every object with `key` anywhere in a parsed document. */
function findAll(node: unknown, key: string): Json[] {
  if (typeof node !== 'object' || node === null) return [];
  const here = !Array.isArray(node) && key in node ? [node as Json] : [];
  return [...here, ...Object.values(node).flatMap((child) => findAll(child, key))];
}

const seconds = (duration: string) => {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(duration);
  expect(match, `a duration in seconds: ${duration}`).not.toBeNull();
  return Number(match![1]);
};

/** A proxy directory's tokengate config, validated like the service does (key files are not read). */
function proxyConfig(dir: string): Config {
  const config = parseConfig(JSON.parse(read(`${dir}/tokengate.json`)));
  expect(Array.isArray(config), `${dir}/tokengate.json: ${JSON.stringify(config)}`).toBe(false);
  return config as Config;
}

describe('deploy kit: every front door', () => {
  it('Envoy HTTP mode: fails closed, tight timeout, the client IP header added, 403/410 headers to the client, idle below tokengate', () => {
    const listener = proxyConfig('envoy').listeners.find((l) => l.pathPrefix !== undefined)!;
    const [doc] = yamlDocs('envoy/envoy-http.yaml');
    const [authz] = findAll(doc, 'http_service').map((f) => f as Json);
    expect(authz).toBeDefined();
    expect(authz!.failure_mode_allow).toBe(false);
    expect(authz!.status_on_error).toEqual({ code: 'ServiceUnavailable' });
    expect(authz!.transport_api_version).toBe('V3');
    const http = authz!.http_service;
    expect(seconds(http.server_uri.timeout)).toBeLessThanOrEqual(0.5);
    expect(http.path_prefix).toBe(listener.pathPrefix);
    expect(http.authorization_request.headers_to_add.map((h: Json) => h.key.toLowerCase())).toEqual([listener.clientIpHeader]);
    expect(http.authorization_request.headers_to_add[0].value).toBe('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%');
    expect(http.authorization_response.allowed_client_headers.patterns).toEqual([
      { exact: 'x-token-status' },
      { exact: 'cache-control' },
    ]);
    const cluster = findAll(doc, 'load_assignment').find((c) => c.name === http.server_uri.cluster)!;
    expect(findAll(cluster, 'port_value')[0]!.port_value).toBe(listener.port);
    // Below the 10 s idle timeout of both engines, so Envoy never reuses a connection tokengate closed.
    expect(seconds(findAll(cluster, 'idle_timeout')[0]!.idle_timeout)).toBeLessThan(10);
    expect(findAll(doc, 'use_remote_address')[0]!.use_remote_address).toBe(true);
  });

  it('Envoy gRPC mode: fails closed, HTTP/2 cluster on the gRPC listener, the client IP is the hop Envoy appended', () => {
    const listener = proxyConfig('envoy').grpcListeners[0]!;
    // Not x-envoy-external-address: Envoy leaves a client's copy in place for "internal" clients.
    expect([listener.clientIpHeader, listener.clientIpHop]).toEqual(['x-forwarded-for', 1]);
    const [doc] = yamlDocs('envoy/envoy-grpc.yaml');
    const authz = findAll(doc, 'grpc_service')[0]!;
    expect(authz.failure_mode_allow).toBe(false);
    expect(authz.status_on_error).toEqual({ code: 'ServiceUnavailable' });
    expect(seconds(authz.grpc_service.timeout)).toBeLessThanOrEqual(0.5);
    const cluster = findAll(doc, 'load_assignment').find((c) => c.name === authz.grpc_service.envoy_grpc.cluster_name)!;
    expect(findAll(cluster, 'port_value')[0]!.port_value).toBe(listener.port);
    expect(findAll(cluster, 'explicit_http_config')[0]!.explicit_http_config).toEqual({ http2_protocol_options: {} });
    expect(seconds(findAll(cluster, 'idle_timeout')[0]!.idle_timeout)).toBeLessThan(10);
    // Envoy appends the connection's peer to X-Forwarded-For only with use_remote_address.
    expect(findAll(doc, 'use_remote_address')[0]!.use_remote_address).toBe(true);
  });

  it('Traefik ForwardAuth: tokengate reads the X-Forwarded headers Traefik sets, and Traefik does not trust clients for them', () => {
    const listener = proxyConfig('traefik').listeners[0]!;
    expect([listener.uriHeader, listener.clientIpHeader]).toEqual(['x-forwarded-uri', 'x-forwarded-for']);
    const [dynamic] = yamlDocs('traefik/dynamic.yaml');
    const forwardAuth = dynamic!.http.middlewares.tokengate.forwardAuth;
    expect(forwardAuth.trustForwardHeader).toBe(false);
    expect(new URL(forwardAuth.address).port).toBe(String(listener.port));
    for (const router of Object.values(dynamic!.http.routers) as Json[]) expect(router.middlewares).toContain('tokengate');
    const [staticConfig] = yamlDocs('traefik/traefik.yaml');
    // No forwardedHeaders.trustedIPs / insecure: Traefik strips client X-Forwarded-* at the entry point.
    expect(findAll(staticConfig, 'forwardedHeaders')).toEqual([]);
  });

  it('Caddy forward_auth: the Caddyfile adapts, sets X-Forwarded-Uri, asks the caddy listener, trusts no proxy', () => {
    const listener = proxyConfig('caddy').listeners[0]!;
    expect([listener.uriHeader, listener.clientIpHeader]).toEqual(['x-forwarded-uri', 'x-forwarded-for']);
    const adapted = JSON.parse(
      execFileSync('caddy', ['adapt', '--config', fileURLToPath(new URL('caddy/Caddyfile', deploy)), '--adapter', 'caddyfile'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as Json;
    const proxy = findAll(adapted, 'upstreams').find((h) => h.handler === 'reverse_proxy')!;
    expect(proxy.upstreams).toEqual([{ dial: `127.0.0.1:${listener.port}` }]);
    expect(proxy.headers.request.set['X-Forwarded-Uri']).toEqual(['{http.request.uri}']);
    expect(proxy.trusted_proxies).toBeUndefined();
    // Caddy's JSON durations are nanoseconds.
    expect(proxy.transport.keep_alive.idle_timeout / 1e9).toBeLessThan(10);
  });
});
