import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import wabtInit from 'wabt';

interface Exports {
  memory: { buffer: ArrayBuffer };
  midstate(dst: number, block: number): void;
  hmac(key: number, length: number): void;
}

/** HMAC-SHA256 in WebAssembly, resuming from precomputed ipad/opad midstates (sha256.wat). */
export async function wasmMidstateHmac(secret: Buffer): Promise<(message: string) => Buffer> {
  const wabt = await wabtInit();
  const source = readFileSync(resolve('bench/hmac-midstate/sha256.wat'), 'utf8');
  const binary = wabt.parseWat('sha256.wat', source, { bulk_memory: true }).toBinary({}).buffer;
  // @types/node declares no WebAssembly namespace; the global is there in every Node.
  const { WebAssembly } = globalThis as unknown as {
    WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }> };
  };
  const { instance } = await WebAssembly.instantiate(binary);
  const wasm = instance.exports as unknown as Exports;
  const memory = Buffer.from(wasm.memory.buffer);
  const block = Buffer.alloc(64);
  (secret.length > 64 ? hash('sha256', secret, 'buffer') : secret).copy(block);
  const slot = 1024;
  for (let i = 0; i < 64; i++) memory[768 + i] = block[i]! ^ 0x36;
  wasm.midstate(slot, 768);
  for (let i = 0; i < 64; i++) memory[768 + i] = block[i]! ^ 0x5c;
  wasm.midstate(slot + 32, 768);
  const out = memory.subarray(64, 96);
  return (message) => {
    wasm.hmac(slot, memory.write(message, 8192, 'latin1'));
    return out;
  };
}
