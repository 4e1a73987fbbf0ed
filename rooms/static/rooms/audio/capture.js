// Speaker side: microphone -> 20 ms Opus frames (WebCodecs) or 16 kHz PCM16 (fallback) -> the Space socket.
import { FORMAT_OPUS, FORMAT_PCM16, FRAME_MS, newStreamId, nowMs, packFrame } from "./protocol.js";

const OPUS_CONFIG = {
  codec: "opus",
  sampleRate: 48000,
  numberOfChannels: 1,
  bitrate: 32000,
  // "audio", not "voip": the voip mode's speech shaping costs the captioner words (WER 0.125 against 0.105 at the
  // same 32 kbps, bench/captions_wer.py), and listeners hear no worse.
  opus: { frameDuration: FRAME_MS * 1000, complexity: 5, application: "audio" },
};

export const microphoneConstraints = (deviceId) => ({
  audio: {
    deviceId: deviceId ? { exact: deviceId } : undefined,
    channelCount: 1,
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
  },
});

export async function opusEncodingSupported() {
  if (typeof AudioEncoder === "undefined" || typeof AudioData === "undefined") return false;
  try {
    const { supported } = await AudioEncoder.isConfigSupported(OPUS_CONFIG);
    return !!supported;
  } catch {
    return false;
  }
}

// Linear resampling of one 20 ms block (blocks are long enough that edge effects stay inaudible).
function resample(samples, fromRate, toRate) {
  if (fromRate === toRate) return samples;
  const ratio = fromRate / toRate;
  const out = new Float32Array(Math.round(samples.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const position = i * ratio;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = samples[index];
    const b = index + 1 < samples.length ? samples[index + 1] : a;
    out[i] = a + (b - a) * fraction;
  }
  return out;
}

function toPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  return new Uint8Array(out.buffer);
}

/**
 * Start sending the microphone to `socket` (an open WebSocket). Options:
 *   deviceId        input device (from listInputs()); default device otherwise
 *   stream          an existing MediaStream to send instead of opening the microphone
 *   forcePcm        use the 16 kHz PCM16 fallback even where WebCodecs exists
 *   onLevel(rms)    called every 20 ms with the input level (0..1)
 *   onError(err)    encoder or socket errors
 * Returns { format, setMuted(bool), get muted, stats, stop() }.
 */
export async function startSpeaking(socket, opts = {}) {
  socket.binaryType = "arraybuffer";
  const stream = opts.stream ?? (await navigator.mediaDevices.getUserMedia(microphoneConstraints(opts.deviceId)));
  const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "spaces-capture", { numberOfInputs: 1, numberOfOutputs: 0 });
  source.connect(node);
  if (context.state === "suspended") resumeOnGesture(context);

  const useOpus = !opts.forcePcm && (await opusEncodingSupported());
  // Every capture session is a new stream (rooms/PROTOCOL.md, "Streams"): listeners already playing this
  // speaker start a fresh decoder and jitter buffer instead of waiting for the old sequence to come back.
  const stats = { format: useOpus ? "opus" : "pcm16", framesSent: 0, bytesSent: 0, framesSkipped: 0, level: 0, stream: newStreamId(), streams: 1 };
  let sequence = 0;
  let muted = false;
  let stopped = false;
  const pending = []; // capture times of blocks handed to the encoder, in order

  const send = (format, payload, captureMs) => {
    if (socket.readyState !== WebSocket.OPEN) {
      stats.framesSkipped += 1;
      return;
    }
    const frame = packFrame(format, stats.stream, sequence, captureMs, payload);
    sequence = (sequence + 1) >>> 0;
    socket.send(frame);
    stats.framesSent += 1;
    stats.bytesSent += frame.byteLength;
  };

  let encoder = null;
  if (useOpus) {
    encoder = new AudioEncoder({
      output: (chunk) => {
        const captureMs = pending.shift() ?? nowMs();
        const payload = new Uint8Array(chunk.byteLength);
        chunk.copyTo(payload);
        if (!muted && !stopped) send(FORMAT_OPUS, payload, captureMs);
      },
      error: (err) => opts.onError?.(err),
    });
    encoder.configure(OPUS_CONFIG);
  }
  let timestampUs = 0;

  node.port.onmessage = ({ data }) => {
    stats.level = data.rms;
    opts.onLevel?.(muted ? 0 : data.rms);
    if (muted || stopped) return; // self-mute stops at the source: nothing is encoded or sent
    const captureMs = nowMs() - FRAME_MS;
    if (encoder) {
      const samples = data.sampleRate === 48000 ? data.samples : resample(data.samples, data.sampleRate, 48000);
      pending.push(captureMs);
      const audio = new AudioData({
        format: "f32",
        sampleRate: 48000,
        numberOfFrames: samples.length,
        numberOfChannels: 1,
        timestamp: timestampUs,
        data: samples,
      });
      timestampUs += Math.round((samples.length / 48000) * 1e6);
      encoder.encode(audio);
      audio.close();
    } else {
      send(FORMAT_PCM16, toPcm16(resample(data.samples, data.sampleRate, 16000)), captureMs);
    }
  };

  return {
    format: stats.format,
    stats,
    get muted() {
      return muted;
    },
    setMuted(value) {
      const unmuting = muted && !value;
      muted = !!value;
      stream.getAudioTracks().forEach((track) => (track.enabled = !muted));
      if (muted) pending.length = 0;
      if (unmuting) {
        // Talking again after a pause is a new stream: listeners start it afresh, with no stale buffer.
        stats.stream = newStreamId();
        stats.streams += 1;
        sequence = 0;
      }
    },
    async stop() {
      stopped = true;
      node.port.onmessage = null;
      source.disconnect();
      if (encoder && encoder.state !== "closed") encoder.close();
      if (!opts.stream) stream.getTracks().forEach((track) => track.stop());
      await context.close();
    },
  };
}

export function resumeOnGesture(context, onResumed) {
  // On the click, not the pointer going down: resuming hides the "Turn on sound" button, and a page that
  // moves between pointerdown and pointerup loses the click someone was making (a tap too: touchend comes first).
  const events = ["click", "keydown"];
  const resume = () => {
    context.resume().then(() => {
      if (context.state === "running") {
        events.forEach((name) => document.removeEventListener(name, resume, true));
        onResumed?.();
      }
    });
  };
  events.forEach((name) => document.addEventListener(name, resume, true));
}
