/** Random client ids for idempotent sends: 22 characters of the protocol's cid alphabet. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Uses Web Crypto (a global in browsers and Node ≥ 19), so no Node import on the browser path. */
export function randomCid(): string {
  const bytes = new Uint8Array(22);
  globalThis.crypto.getRandomValues(bytes);
  let cid = '';
  for (const byte of bytes) cid += ALPHABET[byte & 63];
  return cid;
}
