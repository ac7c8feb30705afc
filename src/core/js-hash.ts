/**
 * MD5 and SHA-1 of UTF-8 text in plain JavaScript, for the signature checks on the request path
 * (Azion's MD5, Alta's SHA-1).
 *
 * Why not node:crypto: measured inside a serving process (the decision-duration histogram under
 * wrk, distinct Azion tokens, Node 24, docs/performance.md "Digests in JavaScript"), a decision
 * that called crypto.hash took 15.6 µs against 3 µs in a tight loop: between two requests the
 * kernel and the HTTP parser evict OpenSSL's code and tables, and each call walks EVP's dispatch
 * again. The same decision with these functions took 9.8 µs there, and the service answered
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
