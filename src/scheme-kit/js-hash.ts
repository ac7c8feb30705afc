/**
 * MD5 and SHA-1 of UTF-8 text in plain JavaScript, for the signature checks on the request path
 * (Azion's MD5, Alta's SHA-1).
 *
 * Why not node:crypto: measured inside a serving process (the decision-duration histogram under
 * wrk, distinct Azion tokens, Node 24, docs/performance.md "Digests in JavaScript"), a decision
 * that called crypto.hash took 16.1 µs against 2-3 µs in a tight loop: between two requests the
 * kernel and the HTTP parser evict OpenSSL's code and tables, and each call walks EVP's dispatch
 * again. The same decision with these functions took 10.1 µs there (`npm run bench:http-ab`, 8 alternated rounds), and the service answered
 * more requests a second. In a tight loop both cost about the same (≈1 µs for a 60-byte message).
 *
 * Constant time: every step depends on the message length only, never on the bytes (no branch
 * or table index on data). Results are written into one shared output per hash and are valid
 * until the next call: callers use them synchronously (every decision runs to completion).
 */

/** UTF-8 bytes of the message, then padding; grown (never shrunk) for longer messages. */
let scratch = new Uint8Array(4096);
const encoder = new TextEncoder();

/**
 * Writes `text` as UTF-8 into the scratch buffer, leaving room for the padding, and returns its
 * byte length. Lone surrogates become U+FFFD, as Node's 'utf8' encoding writes them. The message
 * holds a secret: the ASCII pass reads every character whatever it finds (no early exit), and
 * only text with some non-ASCII character is encoded again by TextEncoder, as V8 itself picks
 * its one-byte path for crypto.hash.
 */
function encode(text: string): number {
  const room = text.length * 3 + 72;
  if (scratch.length < room) scratch = new Uint8Array(Math.max(room, scratch.length * 2));
  const bytes = scratch;
  const length = text.length;
  let any = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    any |= code;
    bytes[i] = code;
  }
  return any < 0x80 ? length : encoder.encodeInto(text, bytes).written;
}

/** MD5-style padding: 0x80, zeros, then the bit length in 8 bytes (little- or big-endian). Returns the padded length. */
function pad(length: number, bigEndian: boolean): number {
  const bytes = scratch;
  const padded = (((length + 8) >>> 6) + 1) << 6;
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, padded);
  // Bit lengths above 2^32 cannot occur: messages are bounded by the request head (64 KiB).
  const bits = length * 8;
  if (bigEndian) {
    bytes[padded - 4] = bits >>> 24;
    bytes[padded - 3] = (bits >>> 16) & 0xff;
    bytes[padded - 2] = (bits >>> 8) & 0xff;
    bytes[padded - 1] = bits & 0xff;
  } else {
    bytes[padded - 8] = bits & 0xff;
    bytes[padded - 7] = (bits >>> 8) & 0xff;
    bytes[padded - 6] = (bits >>> 16) & 0xff;
    bytes[padded - 5] = bits >>> 24;
  }
  return padded;
}

const md5Shifts = new Int32Array([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16,
  23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);
const md5Constants = new Int32Array(64).map((_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const md5Words = new Int32Array(16);
const md5Out = new Uint8Array(16);

/** MD5 of `text` (UTF-8): 16 bytes, valid until the next call. */
export function md5Utf8(text: string): Uint8Array {
  const padded = pad(encode(text), false);
  const bytes = scratch;
  const m = md5Words;
  const k = md5Constants;
  const s = md5Shifts;
  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  for (let offset = 0; offset < padded; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const at = offset + 4 * i;
      m[i] = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    }
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      f = (f + a + k[i]! + m[g]!) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((f << s[i]!) | (f >>> (32 - s[i]!)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  const out = md5Out;
  writeLittleEndian(out, 0, a0);
  writeLittleEndian(out, 4, b0);
  writeLittleEndian(out, 8, c0);
  writeLittleEndian(out, 12, d0);
  return out;
}

const sha1Words = new Int32Array(80);
const sha1Out = new Uint8Array(20);

/** SHA-1 of `text` (UTF-8): 20 bytes, valid until the next call. */
export function sha1Utf8(text: string): Uint8Array {
  const padded = pad(encode(text), true);
  const bytes = scratch;
  const w = sha1Words;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let offset = 0; offset < padded; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const at = offset + 4 * i;
      w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = sha1Out;
  writeBigEndian(out, 0, h0);
  writeBigEndian(out, 4, h1);
  writeBigEndian(out, 8, h2);
  writeBigEndian(out, 12, h3);
  writeBigEndian(out, 16, h4);
  return out;
}

function writeLittleEndian(out: Uint8Array, at: number, word: number): void {
  out[at] = word & 0xff;
  out[at + 1] = (word >>> 8) & 0xff;
  out[at + 2] = (word >>> 16) & 0xff;
  out[at + 3] = word >>> 24;
}

function writeBigEndian(out: Uint8Array, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = (word >>> 16) & 0xff;
  out[at + 2] = (word >>> 8) & 0xff;
  out[at + 3] = word & 0xff;
}

const sha256Constants = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const sha256Initial = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const sha256Words = new Int32Array(64);

/** SHA-256 compression of the 64-byte blocks of `bytes[0, length)` into `state` (8 words). */
function sha256Blocks(state: Int32Array, bytes: Uint8Array, length: number): void {
  const w = sha256Words;
  const k = sha256Constants;
  for (let offset = 0; offset < length; offset += 64) {
    for (let i = 0; i < 16; i++) {
      const at = offset + 4 * i;
      w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = state[0]!;
    let b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    let f = state[5]!;
    let g = state[6]!;
    let h = state[7]!;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + k[i]! + w[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + b) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
    state[5] = (state[5]! + f) | 0;
    state[6] = (state[6]! + g) | 0;
    state[7] = (state[7]! + h) | 0;
  }
}

/** Pads `length` message bytes in the scratch as SHA-256 does, counting `prefix` bytes already compressed. */
function padAfter(length: number, prefix: number): number {
  const bytes = scratch;
  const padded = (((length + 8) >>> 6) + 1) << 6;
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, padded);
  const bits = (length + prefix) * 8;
  bytes[padded - 4] = bits >>> 24;
  bytes[padded - 3] = (bits >>> 16) & 0xff;
  bytes[padded - 2] = (bits >>> 8) & 0xff;
  bytes[padded - 1] = bits & 0xff;
  return padded;
}

/**
 * HMAC-SHA256 keyed once: the states after the key's inner and outer pad blocks are computed
 * here, so a message costs its own blocks plus one outer block. Returns the 32-byte MAC of UTF-8
 * text, valid until the next call of any key's function.
 */
export function hmacSha256Utf8(secret: Uint8Array): (text: string) => Uint8Array {
  const block = new Uint8Array(64);
  if (secret.length > 64) {
    if (scratch.length < secret.length + 72) scratch = new Uint8Array(secret.length + 72);
    scratch.set(secret);
    const state = sha256Initial.slice();
    sha256Blocks(state, scratch, padAfter(secret.length, 0));
    for (let i = 0; i < 8; i++) writeBigEndian(block, 4 * i, state[i]!);
  } else {
    block.set(secret);
  }
  const pads = new Uint8Array(64);
  const innerStart = sha256Initial.slice();
  const outerStart = sha256Initial.slice();
  for (let i = 0; i < 64; i++) pads[i] = block[i]! ^ 0x36;
  sha256Blocks(innerStart, pads, 64);
  for (let i = 0; i < 64; i++) pads[i] = block[i]! ^ 0x5c;
  sha256Blocks(outerStart, pads, 64);
  const state = new Int32Array(8);
  const out = new Uint8Array(32);
  return (text) => {
    state.set(innerStart);
    // Encoded first: a long text replaces the scratch buffer.
    const padded = padAfter(encode(text), 64);
    sha256Blocks(state, scratch, padded);
    for (let i = 0; i < 8; i++) writeBigEndian(scratch, 4 * i, state[i]!);
    state.set(outerStart);
    sha256Blocks(state, scratch, padAfter(32, 64));
    for (let i = 0; i < 8; i++) writeBigEndian(out, 4 * i, state[i]!);
    return out;
  };
}
