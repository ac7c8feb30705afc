/**
 * Envoy gRPC mode: the built service's `envoy.service.auth.v3.Authorization/Check`, driven by a
 * real gRPC client (@grpc/grpc-js over loopback) with CheckRequests encoded by hand from Envoy's
 * field numbers (test/helpers/envoy-wire.ts), answers read the way Envoy reads them.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiresIn, hmacSigner } from '../../src/library/hmac-signer.js';
import { type EnvoyCheck, encodeCheckRequest, envoyClient } from '../helpers/envoy-wire.js';
import { type RunningService, startService } from '../helpers/service-process.js';
import { altaSigner } from '../helpers/signed-url.js';
import { configIn, route, uwsPool } from '../helpers/test-config.js';

const hmacKey = '3c'.repeat(32);
const altaKey = 'grpc-test-alta-secret';
const client = '198.51.100.7';
const hmac = hmacSigner({ keyId: 'k', key: hmacKey });
const alta = altaSigner('/tv/', altaKey);

let service: RunningService;
let external: ReturnType<typeof envoyClient>;
let forwarded: ReturnType<typeof envoyClient>;

/** The service these tests ask: gRPC on the main thread beside two uws workers. */
function startGrpcService(): Promise<RunningService> {
  const { file } = configIn(
    { 'hmac.hex': hmacKey },
    {
      ...uwsPool,
      listeners: [
        // An HTTP listener on two uws worker threads beside them: gRPC is served by the main thread.
        { name: 'nginx', port: 0, pathPrefix: '/tokengate', clientIpInPath: true },
        { name: 'envoy-grpc', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-envoy-external-address' },
        { name: 'envoy-grpc-xff', protocol: 'envoy-grpc', port: 0, clientIpHeader: 'x-forwarded-for', clientIpHop: 1 },
      ],
      routes: [
        route('vod', '/vod/', 'hmac', [{ id: 'k', file: 'hmac.hex' }]),
        route('live', '/tv/', 'alta', [{ id: 'a', env: 'TG_ALTA' }]),
      ],
    },
  );
  return startService(['serve', '--config', file], { TG_ALTA: altaKey }, 4);
}

beforeAll(async () => {
  service = await startGrpcService();
  external = envoyClient(service.ports.get('envoy-grpc')!);
  forwarded = envoyClient(service.ports.get('envoy-grpc-xff')!);
});

afterAll(async () => {
  external?.close();
  forwarded?.close();
  await service?.stop();
});

const ask = (check: EnvoyCheck, via = external) => via.check(encodeCheckRequest({ method: 'GET', ...check }));
/** 'answered' for an answer (its code when not OK), else the gRPC error code. */
const grpcCode = (promise: Promise<{ code: number }>) =>
  promise.then(
    (verdict) => (verdict.code === 0 ? 'answered' : `answered ${verdict.code}`),
    (error: grpc.ServiceError) => error.code,
  );

describe('Envoy gRPC mode (envoy.service.auth.v3.Authorization/Check)', () => {
  it('allow is status OK with an ok_response', async () => {
    const verdict = await ask({
      path: hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) }),
      headers: { 'x-envoy-external-address': client },
    });
    expect(verdict).toEqual({ code: 0, kind: 'ok', httpStatus: 0, headers: { 'x-token-status': 'valid' } });
  });

  it('deny is PERMISSION_DENIED with denied_response 403 or 410 and the X-Token-Status and Cache-Control headers', async () => {
    const expired = hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(-60) });
    const forged = hmac.sign({ path: '/vod/a.mp4', expiresSec: expiresIn(600) }).replace('/vod/a.mp4', '/vod/b.mp4');
    const headers = { 'x-envoy-external-address': client };
    expect(await ask({ path: expired, headers })).toEqual({
      code: 7,
      kind: 'denied',
      httpStatus: 410,
      headers: { 'x-token-status': 'expired', 'cache-control': 'no-store' },
    });
    expect(await ask({ path: forged, headers })).toMatchObject({ code: 7, kind: 'denied', httpStatus: 403 });
    expect(await ask({ path: '/vod/a.mp4', headers })).toMatchObject({
      code: 7,
      httpStatus: 403,
      headers: { 'x-token-status': 'missing' },
    });
  });

  it('the path carries the query; it is taken raw, never decoded', async () => {
    const url = hmac.sign({ path: '/vod/a%20b.mp4', expiresSec: expiresIn(600) });
    expect(await ask({ path: url, headers: { 'x-envoy-external-address': client } })).toMatchObject({ code: 0 });
    expect(await ask({ path: url.replace('%20', ' '), headers: { 'x-envoy-external-address': client } })).toMatchObject({
      code: 7,
      headers: { 'x-token-status': 'bad-uri' },
    });
    expect(await ask({ path: '/vod/%2e%2e/a.mp4?tg=x', headers: { 'x-envoy-external-address': client } })).toMatchObject({
      code: 7,
      headers: { 'x-token-status': 'bad-uri' },
    });
  });

  it('the client IP is x-envoy-external-address, never source.address alone', async () => {
    const url = alta('/tv/ch/seg.ts', client);
    expect(await ask({ path: url, headers: { 'x-envoy-external-address': client } })).toMatchObject({ code: 0 });
    expect(await ask({ path: url, headers: { 'x-envoy-external-address': '203.0.113.9' } })).toMatchObject({
      code: 7,
      httpStatus: 403,
    });
    // The peer that connected to Envoy is not the client: without the header, Envoy is misconfigured.
    expect(await grpcCode(ask({ path: url, sourceAddress: client, headers: {} }))).toBe(grpc.status.UNAVAILABLE);
    // Envoy joins a repeated header with ","; two values are not one client.
    expect(await grpcCode(ask({ path: url, headers: { 'x-envoy-external-address': `${client},${client}` } }))).toBe(
      grpc.status.UNAVAILABLE,
    );
  });

  it('or the configured trusted X-Forwarded-For hop: the address Envoy appended, not what the client sent', async () => {
    const url = alta('/tv/ch/seg.ts', client);
    // A client-sent XFF first, Envoy's own append (the connection's peer) last.
    expect(await ask({ path: url, headers: { 'x-forwarded-for': `203.0.113.9, ${client}` } }, forwarded)).toMatchObject({
      code: 0,
    });
    expect(await ask({ path: url, headers: { 'x-forwarded-for': `${client}, 203.0.113.9` } }, forwarded)).toMatchObject({
      code: 7,
      httpStatus: 403,
    });
    expect(await grpcCode(ask({ path: url, headers: {} }, forwarded))).toBe(grpc.status.UNAVAILABLE);
  });

  it('a malformed or empty CheckRequest is an error, never an allow, and the service keeps answering', async () => {
    const garbage = await grpcCode(external.check(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    // grpc-js refuses what does not decode before the handler runs; Envoy answers status_on_error.
    expect(garbage).toBe(grpc.status.INTERNAL);
    // attributes twice (a conforming decoder merges them, protobufjs kept the last): refused as undecodable.
    const genuine = encodeCheckRequest({
      method: 'GET',
      path: hmac.sign({ path: '/vod/twice.mp4', expiresSec: expiresIn(600) }),
      headers: { 'x-envoy-external-address': client },
    });
    expect(await grpcCode(external.check(Buffer.concat([encodeCheckRequest({ method: 'GET' }), genuine])))).toBe(
      grpc.status.INTERNAL,
    );
    // Decodes, but says nothing: tokengate cannot decide.
    expect(await grpcCode(external.check(Buffer.alloc(0)))).toBe(grpc.status.UNAVAILABLE);
    expect(await grpcCode(ask({ headers: { 'x-envoy-external-address': client } }))).toBe(grpc.status.UNAVAILABLE);
    expect(
      await ask({
        path: hmac.sign({ path: '/vod/after.mp4', expiresSec: expiresIn(600) }),
        headers: { 'x-envoy-external-address': client },
      }),
    ).toMatchObject({
      code: 0,
    });
  });

  it('deadlines: a call with one is answered; calls whose deadline passes fail on the client, and nothing else changes', async () => {
    const url = hmac.sign({ path: '/vod/d.mp4', expiresSec: expiresIn(600) });
    const request = encodeCheckRequest({ method: 'GET', path: url, headers: { 'x-envoy-external-address': client } });
    // A deadline far above the answer's time: what it excludes is a call that is never answered.
    expect(await external.check(request, 5000)).toMatchObject({ code: 0 });
    const outcomes = await Promise.all(Array.from({ length: 100 }, () => grpcCode(external.check(request, 1))));
    // Each either got its (correct) answer or hit its deadline; nothing else.
    expect(new Set(outcomes.filter((o) => o !== 'answered'))).toEqual(
      new Set(outcomes.some((o) => o !== 'answered') ? [grpc.status.DEADLINE_EXCEEDED] : []),
    );
    expect(await external.check(request, 5000)).toMatchObject({ code: 0 });
  });

  it('concurrent calls each get their own verdict', async () => {
    const calls = Array.from({ length: 300 }, (_, i) => {
      const valid = i % 3 !== 0;
      const path = hmac.sign({ path: `/vod/c-${i}.mp4`, expiresSec: expiresIn(valid ? 600 : -60) });
      return ask({ path, headers: { 'x-envoy-external-address': client } }).then((v) => [valid, v.code, v.httpStatus]);
    });
    const results = await Promise.all(calls);
    expect(results.filter(([valid, code, status]) => (valid ? code !== 0 : code !== 7 || status !== 410))).toEqual([]);
  });

  it('the gRPC listeners show in the same metrics as the HTTP ones', async () => {
    const before = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
    const count = (text: string, verdict: string) =>
      Number(
        new RegExp(
          `^tokengate_requests_total\\{listener="envoy-grpc",route="vod",scheme="hmac",verdict="${verdict}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    for (let i = 0; i < 5; i++)
      await ask({
        path: hmac.sign({ path: `/vod/m-${i}.mp4`, expiresSec: expiresIn(600) }),
        headers: { 'x-envoy-external-address': client },
      });
    await ask({
      path: hmac.sign({ path: '/vod/m.mp4', expiresSec: expiresIn(-60) }),
      headers: { 'x-envoy-external-address': client },
    });
    const after = await (await fetch(`http://127.0.0.1:${service.ports.get('admin')}/metrics`)).text();
    expect(count(after, 'valid') - count(before, 'valid')).toBe(5);
    expect(count(after, 'expired') - count(before, 'expired')).toBe(1);
  });

  it('SIGTERM with gRPC calls in flight: every call answered or refused as unavailable, exit 0', async () => {
    // A service of its own: the others' tests keep theirs, in whatever order they run.
    const stopping = await startGrpcService();
    const grpcClient = envoyClient(stopping.ports.get('envoy-grpc')!);
    const url = hmac.sign({ path: '/vod/stop.mp4', expiresSec: expiresIn(600) });
    const request = encodeCheckRequest({ method: 'GET', path: url, headers: { 'x-envoy-external-address': client } });
    // The deadline only ends a call left hanging (the process exits within about 1 s): DEADLINE_EXCEEDED reads "error 4".
    const calls = Array.from({ length: 200 }, (_, i) =>
      new Promise((resolve) => setTimeout(resolve, i)).then(() =>
        grpcClient.check(request, 10_000).then(
          (verdict) => (verdict.code === 0 ? 'allowed' : `denied ${verdict.code}`),
          (error: grpc.ServiceError) => `error ${error.code}`,
        ),
      ),
    );
    // Stop once the first call is answered (not after a fixed sleep): the calls sent after it are then in flight.
    await Promise.race(calls);
    const exit = stopping.stop();
    const outcomes = await Promise.all(calls);
    grpcClient.close();
    expect(await exit).toBe(0);
    expect(outcomes.filter((o) => o !== 'allowed' && o !== `error ${grpc.status.UNAVAILABLE}`)).toEqual([]);
    expect(outcomes).toContain('allowed');
  });
});
