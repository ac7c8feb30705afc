import { describe, expect, it } from 'vitest';
import { isRejection, Verdict } from '../../src/base/verdict.js';
import { authorize } from '../../src/decision/authorize.js';
import { streamSignedPath } from '../../src/request/signed-path.js';
import { gateFor } from '../helpers/gates.js';
import { signedUrl } from '../helpers/signed-url.js';

describe('stream scope: one playlist token covers its stream directory', () => {
  it('depth counts directory segments after the prefix', () => {
    const channel = streamSignedPath('/tv/', { playlist: 'index.m3u8', depth: 1 });
    expect(channel('/tv/news/index.m3u8')).toBe('/tv/news/index.m3u8');
    expect(channel('/tv/news/720p/index.m3u8')).toBe('/tv/news/index.m3u8');
    expect(channel('/tv/news/720p/seg-00001.ts')).toBe('/tv/news/index.m3u8');
    expect(channel('/tv/news/')).toBe('/tv/news/index.m3u8');
    const shallow = channel('/tv/index.m3u8');
    expect(isRejection(shallow) && shallow.verdict).toBe(Verdict.noRoute);
    const two = streamSignedPath('/vod/', { playlist: 'manifest.mpd', depth: 2 });
    expect(two('/vod/2026/movie/video/1.m4s')).toBe('/vod/2026/movie/manifest.mpd');
    expect(isRejection(two('/vod/2026/manifest.mpd'))).toBe(true);
  });

  it('without depth, the playlist of the request directory', () => {
    const same = streamSignedPath('/hls/', { playlist: 'index.m3u8', depth: undefined });
    expect(same('/hls/a/b/seg1.ts')).toBe('/hls/a/b/index.m3u8');
    expect(same('/hls/x.ts')).toBe('/hls/index.m3u8');
  });

  it('end to end: a playlist token allows its segments, not another channel', () => {
    const gate = gateFor(
      [{ prefix: '/tv/', scheme: 'alta', keys: [{ id: 'k', env: 'K' }], stream: { playlist: 'index.m3u8', depth: 1 } }],
      {
        K: 'stream-scope-secret',
      },
    );
    const now = 1_800_000_000;
    const ip = '192.0.2.10';
    const url = signedUrl(gate, {
      path: '/tv/news/index.m3u8',
      expiresSec: now + 60,
      notBeforeSec: now,
      clientIp: ip,
    });
    const query = url.slice(url.indexOf('?') + 1);
    for (const file of ['index.m3u8', '720p/index.m3u8', '720p/seg-1.ts', 'audio/en/seg-9.aac']) {
      expect(authorize(gate, `/tv/news/${file}?${query}`, ip, now).verdict).toBe(Verdict.valid);
    }
    expect(authorize(gate, `/tv/sport/index.m3u8?${query}`, ip, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, `/tv/sport/720p/seg-1.ts?${query}`, ip, now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, `/tv/news/720p/seg-1.ts?${query}`, '192.0.2.11', now).verdict).toBe(Verdict.forged);
    expect(authorize(gate, `/tv/index.m3u8?${query}`, ip, now).verdict).toBe(Verdict.noRoute);
    expect(authorize(gate, `/tv/news/../sport/x.ts?${query}`, ip, now).verdict).toBe(Verdict.badUri);
  });

  it('config rejects unusable stream options', () => {
    expect(() =>
      gateFor(
        [{ prefix: '/tv', scheme: 'alta', keys: [{ id: 'k', env: 'K' }], stream: { playlist: 'a/b.m3u8', depth: 0, x: 1 } }],
        {
          K: 'k',
        },
      ),
    ).toThrow(
      /routes\[0\]\.stream\.playlist: must be a file name[\s\S]*routes\[0\]\.stream\.depth: must be an integer from 1 to 16[\s\S]*routes\[0\]\.stream\.depth: needs a route prefix that ends with "\/"[\s\S]*routes\[0\]\.stream\.x: unknown field/,
    );
  });
});
