/**
 * The Kubernetes kit as a user applies it: every kustomization renders with kustomize (kubectl's),
 * every rendered object passes the Kubernetes OpenAPI schema (kubernetes-models' validators, the
 * Prometheus Operator's for its CRDs) and a strict TypeScript check of its fields (the schemas
 * allow unknown fields; excess-property checks against the API types do not), and the objects
 * agree with each other and with the service: ports, probes, mounts, selectors, policies. A
 * ConfigMap update (kubelet's atomic symlink swap) reaches the running service's reload.
 *
 * Over 250 lines: rendering, validation, the cross-object rules of each overlay and the reload through a real swap are one kit.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Config } from '../../src/config/config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { authStatus } from '../helpers/raw-http.js';
import { logLines, startService, tempDir } from '../helpers/service-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests of any shape
type Json = Record<string, any>;

function render(dir: string): Json[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJSON() as Json;
  });
}

/** The model class (schema validator) and TypeScript type of each kind the kit ships. */
const models: Record<string, { module: string; type: string }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1/Namespace', type: 'INamespace' },
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Secret': { module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  'v1/Service': { module: 'kubernetes-models/v1/Service', type: 'IService' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'networking.k8s.io/v1/NetworkPolicy': {
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    type: 'INetworkPolicy',
  },
  'networking.k8s.io/v1/Ingress': { module: 'kubernetes-models/networking.k8s.io/v1/Ingress', type: 'IIngress' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
    type: 'IServiceMonitor',
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
    type: 'IPrometheusRule',
  },
};
const modelOf = (doc: Json) => models[`${doc.apiVersion}/${doc.kind}`];

/** Schema problems of each object (validate() throws with ajv's messages), "" when valid. */
async function schemaProblems(docs: readonly Json[]): Promise<string[]> {
  const problems: string[] = [];
  for (const doc of docs) {
    const model = modelOf(doc);
    if (model === undefined) {
      problems.push(`${doc.apiVersion}/${doc.kind}: no schema known to this test`);
      continue;
    }
    const exported = (await import(model.module)) as Record<string, new (data: Json) => { validate(): void }>;
    const Model = exported[doc.kind]!;
    try {
      new Model(doc).validate();
    } catch (error) {
      problems.push(`${doc.kind} ${doc.metadata?.name}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** tsc's complaints about the objects written as literals of their API types (unknown fields included). */
function typeProblems(docs: readonly Json[]): string {
  const dir = join(root, 'test', '.k8s-types');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const lines = docs.map((doc, i) => {
    const model = modelOf(doc)!;
    return `import type { ${model.type} as T${i} } from '${model.module}';\nexport const object${i}: T${i} = ${JSON.stringify(doc, null, 2)};`;
  });
  writeFileSync(join(dir, 'manifests.ts'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        skipLibCheck: true,
        types: [],
      },
      files: ['manifests.ts'],
    }),
  );
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kits = {
  base: join(root, 'deploy/kubernetes'),
  'with-monitoring': join(root, 'deploy/kubernetes/with-monitoring'),
  'ingress-nginx': join(root, 'deploy/ingress-nginx'),
};

describe.each(Object.entries(kits))('kustomize %s', (name, dir) => {
  const docs = render(dir);
  const one = (kind: string, objectName?: string) => {
    const found = docs.filter((doc) => doc.kind === kind && (objectName === undefined || doc.metadata.name === objectName));
    expect(found, `${kind} ${objectName ?? ''}`).toHaveLength(1);
    return found[0]!;
  };

  it('renders objects that pass the Kubernetes schemas and a strict check of their fields', async () => {
    expect(docs.length).toBeGreaterThanOrEqual(9);
    expect(await schemaProblems(docs)).toEqual([]);
    expect(typeProblems(docs)).toBe('');
  }, 60_000);

  it('puts everything in a Namespace it ships, and nothing needs a CRD unless asked', () => {
    const namespace = one('Namespace').metadata.name;
    for (const doc of docs.filter((d) => d.kind !== 'Namespace' && d.kind !== 'Ingress')) {
      expect([doc.kind, doc.metadata.namespace]).toEqual([doc.kind, namespace]);
    }
    const crds = docs.filter((doc) => doc.apiVersion.startsWith('monitoring.coreos.com/'));
    expect(crds.map((doc) => doc.kind).sort()).toEqual(name === 'with-monitoring' ? ['PrometheusRule', 'ServiceMonitor'] : []);
  });

  it('mounts the config and keys as directories (never subPath), so updates reach the files and reloadOnChange', () => {
    const pod = one('Deployment').spec.template.spec;
    const container = pod.containers[0];
    expect(JSON.stringify(docs)).not.toContain('subPath');
    const configMount = container.volumeMounts.find((m: Json) => m.name === 'config');
    const configVolume = pod.volumes.find((v: Json) => v.name === 'config');
    expect(configVolume.configMap.name).toBe(one('ConfigMap').metadata.name);
    const args: string[] = container.args;
    const configPath = args[args.indexOf('--config') + 1]!;
    expect(configPath).toBe(`${configMount.mountPath}/config.json`);
    const config = parseConfig(JSON.parse(one('ConfigMap').data['config.json'])) as Config;
    expect(Array.isArray(config), JSON.stringify(config)).toBe(false);
    expect(config.reloadOnChange).toBe(true);
    const keyMount = container.volumeMounts.find((m: Json) => m.name === 'keys');
    expect(pod.volumes.find((v: Json) => v.name === 'keys').secret.secretName).toBe(one('Secret').metadata.name);
    for (const route of config.routes)
      for (const key of route.keys) expect(key.file).toMatch(new RegExp(`^${keyMount.mountPath}/`));
  });

  it('ports, probes and drain agree with the service; the pod runs unprivileged', () => {
    const config = parseConfig(JSON.parse(one('ConfigMap').data['config.json'])) as Config;
    const defaults = parseConfig(defaultConfig) as Config;
    expect(config.listeners[0]!.port).toBe(defaults.listeners[0]!.port);
    expect(config.admin.port).toBe(defaults.admin.port);
    const deployment = one('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const ports = Object.fromEntries(container.ports.map((p: Json) => [p.name, p.containerPort]));
    expect(ports).toEqual({ auth: config.listeners[0]!.port, admin: config.admin.port });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    const probe = container.readinessProbe;
    expect(config.shutdownDelaySec).toBeGreaterThanOrEqual(probe.periodSeconds * probe.failureThreshold);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(config.shutdownDelaySec + 1);
    // "workers": "auto" reads the container's CPU limit (the cgroup quota): without one, a thread per CPU of the node.
    expect(config.workers).toBe('auto');
    expect(container.resources.limits.cpu).toMatch(/^\d+(\.\d+)?$|^\d+m$/);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources.requests.cpu).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(one('HorizontalPodAutoscaler').spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    // The image the docs build: the package's version.
    expect(container.image).toBe(`tokengate:${version}`);
    expect(readFileSync(join(root, 'docs/operations.md'), 'utf8')).toContain(
      `docker build -f deploy/docker/Dockerfile -t tokengate:${version} .`,
    );
    expect(readFileSync(join(root, 'deploy/docker/Dockerfile'), 'utf8')).toContain(`-t tokengate:${version} .`);
    expect(one('PodDisruptionBudget').spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('the auth and admin ports have a Service each; the NetworkPolicy admits only proxies and Prometheus, and no egress', () => {
    const podLabels = one('Deployment').spec.template.metadata.labels;
    const auth = one('Service', 'tokengate');
    const admin = one('Service', 'tokengate-admin');
    expect(auth.spec.ports.map((p: Json) => [p.name, p.targetPort])).toEqual([['auth', 'auth']]);
    expect(admin.spec.ports.map((p: Json) => [p.name, p.targetPort])).toEqual([['admin', 'admin']]);
    for (const service of [auth, admin]) expect(podLabels).toMatchObject(service.spec.selector);
    const policy = one('NetworkPolicy').spec;
    expect(podLabels).toMatchObject(policy.podSelector.matchLabels);
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.egress).toEqual([]);
    const rule = (port: string) => policy.ingress.find((r: Json) => r.ports.some((p: Json) => p.port === port));
    // Only the ingress-nginx kit, whose config reads what ingress-nginx overwrites, admits its namespace.
    const ingressNginx = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } };
    expect(rule('auth').from).toEqual(name === 'ingress-nginx' ? [{ podSelector: {} }, ingressNginx] : [{ podSelector: {} }]);
    expect(rule('admin').from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect(rule('admin')).not.toBe(rule('auth'));
    if (name === 'with-monitoring') {
      const monitor = one('ServiceMonitor').spec;
      expect(admin.metadata.labels).toMatchObject(monitor.selector.matchLabels);
      expect(auth.metadata.labels).not.toMatchObject(monitor.selector.matchLabels);
      expect(monitor.endpoints).toEqual([{ port: 'admin', path: '/metrics', interval: '15s' }]);
    }
  });
});

describe('kustomize ingress-nginx', () => {
  it('tokengate reads the two headers ingress-nginx overwrites, never X-Original-URI; auth-url is the auth Service', () => {
    const docs = render(kits['ingress-nginx']);
    const one = (kind: string, objectName?: string) =>
      docs.find((doc) => doc.kind === kind && (objectName === undefined || doc.metadata.name === objectName))!;
    const config = parseConfig(JSON.parse(one('ConfigMap').data['config.json'])) as Config;
    expect(config.listeners.map((l) => [l.uriHeader, l.clientIpHeader, l.expiredStatus])).toEqual([
      ['x-auth-request-redirect', 'x-real-ip', 403],
    ]);
    expect(one('ConfigMap').data['config.json']).not.toMatch(/X-Original-URI/i);
    const ingress = one('Ingress');
    const annotations = ingress.metadata.annotations;
    expect(Object.keys(annotations)).toEqual(['nginx.ingress.kubernetes.io/auth-url']);
    const service = one('Service', 'tokengate');
    expect(annotations['nginx.ingress.kubernetes.io/auth-url']).toBe(
      `http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${service.spec.ports[0].port}/`,
    );
    for (const rule of ingress.spec.rules)
      for (const path of rule.http.paths) expect(config.routes.some((r) => path.path.startsWith(r.prefix))).toBe(true);
  });
});

describe('kustomize, as the docs combine it', () => {
  it('ingress-nginx plus the monitoring component renders valid objects', async () => {
    const copy = tempDir();
    cpSync(join(root, 'deploy'), join(copy, 'deploy'), { recursive: true });
    const file = join(copy, 'deploy/ingress-nginx/kustomization.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}components:\n  - ../kubernetes/monitoring\n`);
    const docs = render(join(copy, 'deploy/ingress-nginx'));
    expect(docs.map((doc) => doc.kind)).toEqual(expect.arrayContaining(['Ingress', 'ServiceMonitor', 'PrometheusRule']));
    expect(await schemaProblems(docs)).toEqual([]);
  }, 30_000);

  it('the checks fail on a broken manifest (a wrong type, a misspelt field)', async () => {
    const deployment = render(kits.base).find((doc) => doc.kind === 'Deployment')!;
    const wrongType = structuredClone(deployment);
    wrongType.spec.replicas = '2';
    expect((await schemaProblems([wrongType]))[0]).toMatch(/replicas must be integer/);
    const misspelt = structuredClone(deployment);
    misspelt.spec.template.spec.containers[0].volumeMounts[0].subpath = 'config.json';
    expect(await schemaProblems([misspelt])).toEqual([]);
    const complaint = typeProblems([misspelt]);
    expect(complaint).toMatch(
      /error TS2353: Object literal may only specify known properties, and '"subpath"' does not exist in type 'IVolumeMount'/,
    );
  }, 60_000);
});

describe('a ConfigMap and Secret update, as kubelet writes it, reaches the running service', () => {
  it('the shipped config with reloadOnChange reloads after each ..data symlink swap, of the Secret and of the ConfigMap', async () => {
    const shipped = render(kits.base).find((doc) => doc.kind === 'ConfigMap')!.data['config.json'] as string;
    const dir = tempDir();
    /** A kubelet-style volume: files are links into ..data, which points at a timestamped directory. */
    const volume = (name: string, files: Record<string, string>, generation: number) => {
      const base = join(dir, name);
      const target = `..2026_12_01_00_00_0${generation}`;
      mkdirSync(join(base, target), { recursive: true });
      for (const [file, text] of Object.entries(files)) writeFileSync(join(base, target, file), text);
      symlinkSync(target, join(base, '..data_tmp'));
      renameSync(join(base, '..data_tmp'), join(base, '..data'));
      for (const file of Object.keys(files)) {
        try {
          symlinkSync(join('..data', file), join(base, file));
        } catch {
          // Already linked by the first generation.
        }
      }
      if (generation > 1) rmSync(join(base, `..2026_12_01_00_00_0${generation - 1}`), { recursive: true });
    };
    const oldKey = 'a1'.repeat(32);
    const newKey = 'b2'.repeat(32);
    const config = JSON.parse(shipped) as Json;
    config.listeners[0].port = 0;
    config.listeners[0].host = '127.0.0.1';
    config.admin = { host: '127.0.0.1', port: 0 };
    config.routes[0].keys[0].file = join(dir, 'keys', 'vod-2026-11');
    volume('config', { 'config.json': JSON.stringify(config) }, 1);
    volume('keys', { 'vod-2026-11': oldKey }, 1);
    const service = await startService(['serve', '--config', join(dir, 'config', 'config.json')]);
    try {
      const port = service.ports.get('auth')!;
      const sign = (key: string) =>
        hmacSigner({ keyId: '2026-11', key }).sign({ path: '/vod/a/1.ts', expiresSec: expiresIn(600) });
      expect(await authStatus(port, sign(oldKey), '192.0.2.1')).toBe(200);
      expect(await authStatus(port, sign(newKey), '192.0.2.1')).toBe(403);
      volume('keys', { 'vod-2026-11': newKey }, 2);
      await expect
        .poll(() => logLines(service.stderr()).some((line) => line.msg === 'config reloaded'), { timeout: 8000, interval: 200 })
        .toBe(true);
      expect(await authStatus(port, sign(newKey), '192.0.2.1')).toBe(200);
      expect(await authStatus(port, sign(oldKey), '192.0.2.1')).toBe(403);
      // Then the ConfigMap: a config that adds a route for /live/ (same key file).
      const live = hmacSigner({ keyId: '2026-11', key: newKey }).sign({ path: '/live/a/1.ts', expiresSec: expiresIn(600) });
      expect(await authStatus(port, live, '192.0.2.1')).toBe(403);
      config.routes.push({ ...config.routes[0], name: 'live', prefix: '/live/' });
      volume('config', { 'config.json': JSON.stringify(config) }, 2);
      const reloads = () => logLines(service.stderr()).filter((line) => line.msg === 'config reloaded').length;
      await expect.poll(reloads, { timeout: 8000, interval: 200 }).toBe(2);
      expect(await authStatus(port, live, '192.0.2.1')).toBe(200);
    } finally {
      await service.stop();
    }
  }, 30_000);
});
