// Binary audio frames on the Space socket (see rooms/PROTOCOL.md, "Audio frames").
// Client frame: format u8, stream u32 LE, sequence u32 LE, capture time f64 LE (ms since the epoch), payload.
// A stream is one capture session; listeners start a fresh decoder and jitter buffer for a new one.
// Relayed frame: speaker index u8, then the client frame. Batch: 0xFF, then (u16 LE length, relayed frame)*.

export const FORMAT_OPUS = 1; // Opus, 20 ms, mono, 48 kHz
export const FORMAT_PCM16 = 2; // PCM16 LE, mono, 16 kHz (fallback without WebCodecs)
export const HEADER_BYTES = 17;
export const MAX_FRAME_BYTES = 4096;
export const BATCH_MARKER = 0xff;
export const FRAME_MS = 20;

export function nowMs() {
  return performance.timeOrigin + performance.now();
}

// A random stream id for a new capture session (never 0, so a missing id is obvious).
export function newStreamId() {
  const id = new Uint32Array(1);
  do crypto.getRandomValues(id); while (id[0] === 0);
  return id[0];
}

export function packFrame(format, stream, sequence, captureMs, payload) {
  const bytes = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, format);
  view.setUint32(1, stream >>> 0, true);
  view.setUint32(5, sequence >>> 0, true);
  view.setFloat64(9, captureMs, true);
  bytes.set(new Uint8Array(payload.buffer ?? payload, payload.byteOffset ?? 0, payload.byteLength), HEADER_BYTES);
  return bytes.buffer;
}

function parseRelayed(buffer, offset, length) {
  const view = new DataView(buffer, offset, length);
  return {
    speaker: view.getUint8(0),
    format: view.getUint8(1),
    stream: view.getUint32(2, true),
    sequence: view.getUint32(6, true),
    captureMs: view.getFloat64(10, true),
    payload: new Uint8Array(buffer, offset + 1 + HEADER_BYTES, length - 1 - HEADER_BYTES),
  };
}

// Every relayed frame in one websocket message (an ArrayBuffer), batched or not.
export function parseMessage(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length === 0) return [];
  if (bytes[0] !== BATCH_MARKER) {
    return bytes.length > 1 + HEADER_BYTES ? [parseRelayed(buffer, 0, bytes.length)] : [];
  }
  const frames = [];
  let at = 1;
  while (at + 2 <= bytes.length) {
    const length = bytes[at] | (bytes[at + 1] << 8);
    if (at + 2 + length > bytes.length || length <= 1 + HEADER_BYTES) break;
    frames.push(parseRelayed(buffer, at + 2, length));
    at += 2 + length;
  }
  return frames;
}
