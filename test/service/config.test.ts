/**
 * Config parsing and compiling: every field's default, every problem reported with its path,
 * keys loaded and decoded strictly.
 *
 * Over 250 lines: one case per rule of docs/configuration.md.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../src/base/verdict.js';
import { ConfigError } from '../../src/config/config-error.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { jsonErrorOffset } from '../../src/config/json-error-place.js';
import { loadConfig } from '../../src/config/load-config.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { authorize } from '../../src/decision/authorize.js';
import { schemes } from '../../src/schemes/registry.js';
import { runCli, tempDir, writeConfig } from '../helpers/service-process.js';
import { route } from '../helpers/test-config.js';

const listener = { port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' };
const problemsOf = (raw: unknown) => {
  const result = parseConfig(raw);
  if (!Array.isArray(result)) throw new Error('expected problems');
  return result;
};
const loadProblems = (file: string, env: Record<string, string> = {}) => {
  try {
    loadConfig(file, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('E_CONFIG');
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('config validation', () => {
  it('the embedded default is valid: demo routes, documented listeners, loud warnings', () => {
    const loaded = loadConfig(undefined, {});
    expect(loaded.config.listeners[0]).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      uriHeader: 'x-original-uri',
      clientIpHeader: 'x-real-ip',
      expiredStatus: 410,
    });
    expect(loaded.config.admin).toEqual({ host: '127.0.0.1', port: 9090, trustedProxies: [], allowedHosts: [] });
    expect(loaded.gate.routes.map((r) => [r.prefix, r.schemeId])).toEqual([
      ['/my/', 'azion'],
      ['/tv/', 'alta'],
    ]);
    expect(loaded.warnings.join('\n')).toMatch(/PUBLISHED DEMO secret/);
    expect(loaded.demoSecrets).toBe(true);
    expect(Object.isFrozen(loaded.config.routes[0])).toBe(true);
    expect(defaultConfig.routes).toHaveLength(2);
  });

  it('the shipped example config (deploy/config.example.json) is valid', () => {
    const raw = JSON.parse(readFileSync(new URL('../../deploy/config.example.json', import.meta.url), 'utf8'));
    const config = parseConfig(raw);
    if (Array.isArray(config)) throw new Error(config.join('\n'));
    expect(config.routes.map((route) => route.scheme.id)).toEqual(['azion', 'alta']);
  });

  it('collects every problem with its path', () => {
    const problems = problemsOf({
      listeners: [{ port: 99999, uriHeader: 'X_Original_URI', expiredStatus: 500, extra: 1 }],
      admin: { port: 'x' },
      clockSkewSec: -1,
      routes: [
        { prefix: 'my', scheme: 'nope', keys: [] },
        {
          prefix: '/a/../',
          scheme: 'azion',
          keys: [
            { id: 'k', file: '/x', env: 'Y' },
            { id: 'k', env: '1BAD' },
          ],
          options: { foo: 1 },
        },
        { prefix: '/tv/', scheme: 'alta', keys: [{ file: 'k' }] },
        { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', secret: 'inline' }] },
        { prefix: '/cdn/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }], expiredStatus: '403' },
      ],
      typo: true,
    });
    const expected = [
      'config.typo: unknown field',
      'listeners[0].extra: unknown field',
      'listeners[0].port: must be an integer from 0 to 65535',
      'listeners[0].uriHeader: must be a header name',
      'listeners[0].expiredStatus: must be 410 or 403',
      'admin.port: must be an integer',
      'config.clockSkewSec: must be an integer from 0 to 3600',
      'routes[0].prefix: must be a plain path starting with "/"',
      `routes[0].scheme: unknown scheme "nope" (known: ${schemes.map((scheme) => scheme.id).join(', ')})`,
      'routes[0].keys: must be a non-empty array',
      'routes[1].prefix: must be a plain path starting with "/" (the path contains a dot-segment',
      'routes[1].options.foo: unknown field',
      'routes[1].keys[0]: needs exactly one of "file" or "env"',
      'routes[1].keys[1].env: must be an environment variable name',
      'routes[1].keys[1].id: duplicate key id "k"',
      'routes[2].keys[0].id: is required',
      'routes[3].keys[0].secret: unknown field',
      'routes[3].prefix: same prefix as routes[2]',
      "routes[4].expiredStatus: must be 410 or 403 (leave it out for the listener's)",
      'listeners[0].clientIpHeader: is required: route "/tv/" binds tokens to the client IP',
    ];
    for (const line of expected)
      expect(
        problems.some((p) => p.startsWith(line)),
        `${line}\n in\n${problems.join('\n')}`,
      ).toBe(true);
  });

  it('listeners for every front door: each source rule is checked with its path', () => {
    const route = { prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'K' }] };
    const problems = problemsOf({
      listeners: [
        { port: 0, clientIpHeader: 'X-Real-IP' },
        { port: 0, uriHeader: 'X-Original-URI', pathPrefix: '/tokengate', clientIpHeader: 'X-Real-IP' },
        { port: 0, pathPrefix: 'tokengate/', clientIpHeader: 'X-Real-IP' },
        { port: 0, protocol: 'envoy-grpc', uriHeader: 'X-Original-URI', clientIpHeader: 'x-envoy-external-address' },
        { port: 0, protocol: 'grpc', uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' },
        { name: 'dup', port: 0, uriHeader: 'X-Forwarded-Uri', clientIpHop: 2 },
        { name: 'dup', port: 0, uriHeader: 'X-Forwarded-Uri', clientIpHeader: 'X-Forwarded-For', clientIpHop: 0 },
      ],
      routes: [route],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'listeners[0]: needs exactly one of "uriHeader" (nginx, Traefik, Caddy) or "pathPrefix" (Envoy HTTP mode)',
        'listeners[1]: needs exactly one of "uriHeader" (nginx, Traefik, Caddy) or "pathPrefix" (Envoy HTTP mode)',
        'listeners[2].pathPrefix: must be a path like "/tokengate" (segments of letters, digits and ._~-; no trailing "/")',
        'listeners[3].uriHeader: does not apply to "envoy-grpc" (the URI is attributes.request.http.path)',
        'listeners[4].protocol: must be "http" or "envoy-grpc"',
        'listeners[5].clientIpHop: needs clientIpHeader (the header with the address list, e.g. X-Forwarded-For)',
        'listeners[5].clientIpHeader: is required: route "/tv/" binds tokens to the client IP',
        'listeners[6].clientIpHop: must be an integer from 1 to 16',
        'listeners[6].name: same name as listeners[5] (names label logs and metrics)',
      ]),
    );
    const valid = parseConfig({
      listeners: [
        { name: 'envoy-grpc', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address' },
        { name: 'envoy-http', port: 0, pathPrefix: '/tokengate/v1', clientIpHeader: 'X-Real-IP' },
        { name: 'caddy', port: 0, uriHeader: 'X-Forwarded-Uri', clientIpHeader: 'X-Forwarded-For', clientIpHop: 1 },
      ],
      routes: [route],
    });
    expect(Array.isArray(valid), JSON.stringify(valid)).toBe(false);
    const config = valid as Exclude<typeof valid, string[]>;
    expect(config.listeners.map((l) => [l.name, l.uriHeader, l.pathPrefix, l.clientIpHop])).toEqual([
      ['envoy-http', undefined, '/tokengate/v1', undefined],
      ['caddy', 'x-forwarded-uri', undefined, 1],
    ]);
    expect(config.grpcListeners.map((l) => [l.name, l.clientIpHeader])).toEqual([['envoy-grpc', 'x-envoy-external-address']]);
  });

  it('envoy-grpc: the client IP only from a header Envoy sets; connection limits validated, for gRPC listeners only', () => {
    const grpcListener = { protocol: 'envoy-grpc', port: 0 };
    const problems = problemsOf({
      listeners: [
        // Copied from an HTTP listener: in gRPC mode Envoy forwards the client's own X-Real-IP.
        { ...grpcListener, name: 'a', clientIpHeader: 'X-Real-IP' },
        { ...grpcListener, name: 'b', handshakeTimeoutMs: 0, idleTimeoutMs: 999, requestTimeoutMs: 60_001, maxConnections: 0 },
        { port: 0, uriHeader: 'X-Original-URI', idleTimeoutMs: 5000, maxConnections: 10 },
      ],
      routes: [{ prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] }],
    });
    expect(problems).toEqual([
      'listeners[0].clientIpHeader: "x-real-ip" is whatever the client sent (in gRPC mode Envoy forwards the client\'s headers and sets only x-forwarded-for and x-envoy-external-address): use "x-forwarded-for" with "clientIpHop": 1 (the address Envoy appends with use_remote_address: true), or "x-envoy-external-address"',
      'listeners[1].handshakeTimeoutMs: must be an integer from 100 to 60000',
      'listeners[1].idleTimeoutMs: must be an integer from 1000 to 3600000',
      'listeners[1].requestTimeoutMs: must be an integer from 100 to 60000',
      'listeners[1].maxConnections: must be an integer from 1 to 100000',
      'listeners[2].idleTimeoutMs: applies to "envoy-grpc" listeners only (HTTP listeners: 10 s idle, 1.5 s for a request head)',
      'listeners[2].maxConnections: applies to "envoy-grpc" listeners only (HTTP listeners: 10 s idle, 1.5 s for a request head)',
    ]);
    const valid = parseConfig({
      listeners: [
        { ...grpcListener, name: 'xff', clientIpHeader: 'X-Forwarded-For', clientIpHop: 1 },
        {
          ...grpcListener,
          name: 'external',
          clientIpHeader: 'x-envoy-external-address',
          idleTimeoutMs: 30_000,
          maxConnections: 64,
        },
      ],
      routes: [{ prefix: '/vod/', scheme: 'hmac', keys: [{ id: 'k', env: 'K' }] }],
    });
    expect(Array.isArray(valid), JSON.stringify(valid)).toBe(false);
    const limits = (valid as Exclude<typeof valid, string[]>).grpcListeners.map((l) => [
      l.clientIpHeader,
      l.handshakeTimeoutMs,
      l.idleTimeoutMs,
      l.requestTimeoutMs,
      l.maxConnections,
    ]);
    expect(limits).toEqual([
      ['x-forwarded-for', 2000, 10_000, 2000, 512],
      ['x-envoy-external-address', 2000, 30_000, 2000, 64],
    ]);
  });

  it('rejects a non-object root and empty sections', () => {
    expect(problemsOf(null)).toContain('config: must be an object');
    expect(problemsOf({})).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^listeners: must be a non-empty array/),
        expect.stringMatching(/^routes: must be a non-empty array/),
      ]),
    );
  });

  it('loads keys from files (relative to the config, one final newline stripped) and environment variables', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'azion.key'), 'mysecret\n');
    const file = writeConfig(dir, {
      listeners: [listener],
      routes: [
        route('a', '/my/', 'azion', [
          { id: 'new', env: 'NEW_KEY' },
          { id: 'old', file: 'azion.key' },
        ]),
      ],
    });
    const loaded = loadConfig(file, { NEW_KEY: 'another-long-secret' });
    expect(loaded.gate.routes[0]!.keyIds).toEqual(['new', 'old']);
    expect(authorize(loaded.gate, '/my/uri?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', undefined, 1470000000).verdict).toBe(
      Verdict.valid,
    );
    expect(loaded.warnings.join('\n')).toMatch(/"old" is shorter than 16 bytes/);
    // Keys from a file and the environment: no demo banner (it used to be found by matching a warning's text).
    expect(loaded.demoSecrets).toBe(false);
    expect(loaded.warnings.join('\n')).not.toMatch(/mysecret|another-long-secret/);
  });

  it('reports unreadable key files, unset variables and unusable secrets, never their contents', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'locked.key'), 'secret-content-xyz');
    chmodSync(join(dir, 'locked.key'), 0o000);
    writeFileSync(join(dir, 'binary.key'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    writeFileSync(join(dir, 'newline.key'), 'two\nlines\n');
    const file = writeConfig(dir, {
      listeners: [listener],
      routes: [
        {
          prefix: '/a/',
          scheme: 'azion',
          keys: [
            { id: 'missing', file: 'nope.key' },
            { id: 'unset', env: 'UNSET_KEY' },
            { id: 'bin', file: 'binary.key' },
          ],
        },
        {
          prefix: '/b/',
          scheme: 'alta',
          keys: [
            { id: 'nl', file: 'newline.key' },
            { id: 'locked', file: 'locked.key' },
          ],
        },
      ],
    });
    const problems = loadProblems(file);
    expect(problems[0]).toMatch(/^routes\[0\]\.keys\[0\]: cannot read key file .*nope\.key \(ENOENT\)$/);
    expect(problems[1]).toBe('routes[0].keys[1]: environment variable UNSET_KEY is not set or empty');
    expect(problems[2]).toBe('routes[0].keys[2]: the secret is not valid UTF-8 text');
    expect(problems[3]).toBe('routes[1].keys[0]: the secret contains a control character');
    // root reads any file regardless of mode; other users get EACCES.
    if (process.getuid?.() !== 0) expect(problems[4]).toMatch(/EACCES/);
    expect(problems.join('\n')).not.toMatch(/secret-content-xyz|two/);
  });

  it('reports an unreadable or invalid config file', () => {
    const dir = tempDir();
    expect(loadProblems(join(dir, 'absent.json'))[0]).toMatch(/cannot read config file \(ENOENT\)/);
    writeFileSync(join(dir, 'bad.json'), '{ "listeners": [');
    expect(loadProblems(join(dir, 'bad.json'))[0]).toMatch(/^not valid JSON/);
  });

  it.each([
    ['a hex key', 'cfbae06f6c5d2a1b9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d\n'],
    ['a base64 key', 'z8uuBvbF0qG56PemtcTT4vGgucjX5vWks8LR4Pmot8Y=\n'],
    ['a text secret', 'my-very-secret-text\n'],
    ['JSON with a secret after the error', '{"routes": [ "s3cr3t-qzxw" "qwk" ]}'],
    ['an unterminated string', '{"k": "s3cr3t-qzxw'],
  ])('never echoes file content when a config is not JSON: %s', (_name, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key.json'), content);
    const [problem] = loadProblems(join(dir, 'key.json'));
    expect(problem).toMatch(/^not valid JSON/);
    // No run of 3+ characters of the content appears in the message (40 bits of a key leaked before).
    const words = content.match(/[A-Za-z0-9+/=-]{3,}/g) ?? [];
    for (const word of words) for (let i = 0; i + 3 <= word.length; i++) expect(problem).not.toContain(word.slice(i, i + 3));
  });

  it.each([
    ['{ "listeners": [', 1, 17],
    ['{\n  "a": 1,\n  "b": x\n}', 3, 8],
    ['{\n  "routes": [\n    { "prefix": "/a/" },\n  ]\n}', 4, 3],
    ['{"a": 1}}', 1, 9],
    ['{"a": "s3cr3t\u0001"}', 1, 14],
    ['{"a": 01}', 1, 8],
    ['{"a": "\\x"}', 1, 9],
  ])('a JSON syntax error gives its line and column: %j', (content, line, column) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), content);
    expect(loadProblems(join(dir, 'bad.json'))).toEqual([`not valid JSON at line ${line}, column ${column}`]);
  });

  it('the JSON error scan agrees with JSON.parse on what is valid (5000 near-JSON texts)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json(),
          fc
            .array(fc.constantFrom(...'{}[]:,"\\ \n0123-.eEtrufalsn\u0001ab'.split('')), { maxLength: 30 })
            .map((c) => c.join('')),
          fc
            .tuple(fc.json(), fc.nat(40), fc.constantFrom('', ',', '}', '"', '\\', ']', ' '))
            .map(([t, at, insert]) => t.slice(0, at) + insert + t.slice(at + 1)),
        ),
        (text) => {
          let valid = true;
          try {
            JSON.parse(text);
          } catch {
            valid = false;
          }
          expect(jsonErrorOffset(text) === undefined).toBe(valid);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('an empty config file or TOKENGATE_CONFIG says "empty"', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'empty.json'), ' \n');
    expect(loadProblems(join(dir, 'empty.json'))).toEqual(['the config file is empty']);
    const fromEnv = await runCli(['sign', '--path', '/my/a', '--ttl', '60'], { TOKENGATE_CONFIG: '' });
    expect(fromEnv.code).toBe(64);
    expect(fromEnv.stderr).toMatch(/TOKENGATE_CONFIG is set but empty/);
    expect(fromEnv.stderr).not.toMatch(/EISDIR/);
    const fromFlag = await runCli(['serve', '--config', '']);
    expect(fromFlag.code).toBe(64);
    expect(fromFlag.stderr).toMatch(/--config is empty/);
  });

  it('refuses a base64-declared key that is all hex digits, and says "trailing newline" of a secret ending in one', () => {
    const hex = 'cfbae06f6c5d2a1b9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d';
    const dir = tempDir();
    const file = writeConfig(dir, {
      listeners: [listener],
      routes: [
        { prefix: '/v/', scheme: 'hmac', keys: [{ id: 'k', env: 'HEX', encoding: 'base64' }] },
        { prefix: '/a/', scheme: 'azion', keys: [{ id: 'k', env: 'NL' }] },
        { prefix: '/t/', scheme: 'alta', keys: [{ id: 'k', env: 'CRLF' }] },
      ],
    });
    const problems = loadProblems(file, { HEX: hex, NL: 'a-long-secret-value\n', CRLF: 'a-long-secret-value\r\n' });
    expect(problems[0]).toBe(
      'routes[0].keys[0]: the key is declared base64 but is all hex digits: set "encoding": "hex" (or give it in base64)',
    );
    expect(problems[1]).toMatch(/^routes\[1\]\.keys\[0\]: the secret ends with a trailing newline/);
    expect(problems[2]).toMatch(/^routes\[2\]\.keys\[0\]: the secret ends with a trailing newline/);
    expect(problems.join('\n')).not.toContain(hex.slice(0, 8));
    // The same key as hex, and real base64, load.
    for (const env of [
      { HEX: hex, encoding: 'hex' },
      { HEX: Buffer.from(hex, 'hex').toString('base64'), encoding: 'base64' },
    ]) {
      const ok = writeConfig(dir, {
        listeners: [listener],
        routes: [{ prefix: '/v/', scheme: 'hmac', keys: [{ id: 'k', env: 'HEX', encoding: env.encoding }] }],
      });
      expect(loadConfig(ok, { HEX: env.HEX }).gate.routes).toHaveLength(1);
    }
  });

  it('warns when the admin listener is not on loopback (its endpoints have no authentication)', () => {
    const dir = tempDir();
    const route = { prefix: '/a/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] };
    const env = { K: 'a-long-enough-secret' };
    const open = loadConfig(
      writeConfig(dir, { listeners: [listener], admin: { host: '0.0.0.0', port: 0 }, routes: [route] }),
      env,
    );
    expect(open.warnings).toContainEqual(
      expect.stringMatching(/^admin listener on 0\.0\.0\.0:0: \/metrics, \/healthz and \/readyz answer anyone/),
    );
    const v6 = loadConfig(writeConfig(dir, { listeners: [listener], admin: { host: '::', port: 0 }, routes: [route] }), env);
    expect(v6.warnings).toContainEqual(expect.stringMatching(/^admin listener on \[::\]:0: /));
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      const closed = loadConfig(writeConfig(dir, { listeners: [listener], admin: { host, port: 0 }, routes: [route] }), env);
      expect(closed.warnings.filter((w) => w.startsWith('admin listener'))).toEqual([]);
    }
  });

  it('sorts routes so the longest prefix wins, and denies paths no route covers', () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      listeners: [listener],
      routes: [
        { name: 'outer', prefix: '/v/', scheme: 'azion', keys: [{ id: 'k', env: 'A' }] },
        { name: 'inner', prefix: '/v/premium/', scheme: 'azion', keys: [{ id: 'k', env: 'B' }] },
      ],
    });
    const { gate } = loadConfig(file, { A: 'key-for-the-outer-route', B: 'key-for-the-inner-route' });
    expect(authorize(gate, '/v/premium/x?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', undefined, 0).route?.name).toBe('inner');
    expect(authorize(gate, '/v/free/x?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', undefined, 0).route?.name).toBe('outer');
    expect(authorize(gate, '/w/x?st=m6WCATfRgS_5lcyChCPgrw&e=1470055000', undefined, 0).verdict).toBe(Verdict.noRoute);
  });
});
