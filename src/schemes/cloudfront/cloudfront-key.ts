import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { RouteKey } from '../../scheme-kit/scheme-definition.js';

/** A route's key as CloudFront uses it: the public key that a Key-Pair-Id names. */
export interface CloudFrontKey {
  readonly id: string;
  readonly publicKey: KeyObject;
  readonly ec: boolean;
  /** The private key when the file holds one (signing for tests and migrations). */
  readonly privateKey: KeyObject | undefined;
}

/** The route's key file: a public key (RSA 2048+ or ECDSA P-256), or a private key whose public half it holds; else why not. */
export function readCloudFrontKey(id: string, pem: Buffer): CloudFrontKey | string {
  let publicKey: KeyObject;
  let privateKey: KeyObject | undefined;
  const text = pem.toString('utf8');
  try {
    if (text.includes('PRIVATE KEY')) {
      privateKey = createPrivateKey(text);
      publicKey = createPublicKey(privateKey);
    } else publicKey = createPublicKey(text);
  } catch {
    return 'the key file is not a PEM public key (or private key) that Node can read';
  }
  const details = publicKey.asymmetricKeyDetails ?? {};
  if (publicKey.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) return 'the RSA key is shorter than 2048 bits';
    return { id, publicKey, ec: false, privateKey };
  }
  if (publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return { id, publicKey, ec: true, privateKey };
  return 'the key must be RSA (2048 bits or more) or ECDSA P-256';
}

/** The route's keys by id. */
export function cloudFrontKeys(keys: readonly RouteKey[]): ReadonlyMap<string, CloudFrontKey> {
  const byId = new Map<string, CloudFrontKey>();
  for (const key of keys) {
    const read = readCloudFrontKey(key.id, key.secret);
    // keyProblem refused unreadable keys at load; this cannot fail for a loaded route.
    if (typeof read !== 'string') byId.set(key.id, read);
  }
  return byId;
}
