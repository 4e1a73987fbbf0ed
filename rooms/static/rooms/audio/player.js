// Listener side: relayed frames -> one AudioDecoder per speaker -> jitter buffers and mixer (AudioWorklet).
import { resumeOnGesture } from "./capture.js";
import { FORMAT_OPUS, FORMAT_PCM16, nowMs, parseMessage } from "./protocol.js";

const DECODER_CONFIG = { codec: "opus", sampleRate: 48000, numberOfChannels: 1 };
const SPEAKING_LEVEL = 0.02;
// The server evicts a listener that has not acknowledged what it was sent a few seconds ago
// (rooms/PROTOCOL.md, "Slow listeners"), so the page reports how many audio messages it has read.
const ACK_INTERVAL_MS = 1000;
// How long a new audio context may take to start before the page asks for a click to allow sound.
const NEEDS_GESTURE_AFTER_MS = 500;

function pcm16ToFloat48k(payload) {
  // 16 kHz PCM16 -> 48 kHz float by linear interpolation (x3).
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = payload.byteLength >> 1;
  const out = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) {
    const a = view.getInt16(i * 2, true) / 32768;
    const b = i + 1 < count ? view.getInt16((i + 1) * 2, true) / 32768 : a;
    out[i * 3] = a;
    out[i * 3 + 1] = a + (b - a) / 3;
    out[i * 3 + 2] = a + ((b - a) * 2) / 3;
  }
  return out;
}

function concat(chunks) {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function newStats() {
  return {
    framesReceived: 0,
    framesDecoded: 0,
    bytesReceived: 0,
    framesLost: 0,
    framesLate: 0,
    framesStale: 0, // from a stream the speaker has already replaced
    streams: 0, // streams started (one per speaker, plus one per reload, reconnect, device switch or unmute)
    gaps: 0,
    underruns: 0,
    decodeErrors: 0,
    undecodable: 0,
    latencyMs: null, // capture -> receipt, last frame
    latencyAvgMs: null, // moving average
    latencyMaxMs: null,
    playoutLatencyMs: null, // capture -> receipt + jitter buffer
    contextState: null,
    speakers: {},
  };
}

/**
 * Play the Space's audio arriving on `socket` (an open WebSocket). Options:
 *   jitterStartMs       initial jitter buffer per speaker (default 60)
 *   skipSpeakerIndex    do not play this speaker (your own voice)
 *   levelRoot           element holding avatars marked data-speaker-index="N"; they get the CSS variable
 *                       --audio-level (0..1) and the class "is-speaking"
 *   onLevels(levels)    { speakerIndex: rms } about 20 times a second
 *   onNeedsGesture()    the browser wants a click before audio may play (Safari); resumed on the next one
 *   debugPanel          element to show live stats in
 *   record              keep the decoded audio (tests): recording(speakerIndex) and mixRecording() return
 *                       Float32Arrays at 48 kHz
 * Returns { stats, context, attach(socket), recording(i), mixRecording(), stop() }; stats is also window.spacesAudioStats.
 */
export async function startListening(socket, opts = {}) {
  const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await context.audioWorklet.addModule(new URL("./mixer-worklet.js", import.meta.url));
  const mixer = new AudioWorkletNode(context, "spaces-mixer", {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [2],
    processorOptions: { startMs: opts.jitterStartMs ?? 60, record: !!opts.record },
  });
  mixer.connect(context.destination);
  const stats = newStats();
  window.spacesAudioStats = stats;
  stats.contextState = context.state;
  context.onstatechange = () => (stats.contextState = context.state);
  if (context.state !== "running") {
    const resumed = context.resume().catch(() => {});
    if (context.state === "suspended") {
      resumeOnGesture(context);
      // A new context is suspended until it starts, which most browsers do at once: asking for a click then
      // showed "Turn on sound" for a moment on every page (and moved the stage under it twice).
      const grace = new Promise((done) => setTimeout(done, NEEDS_GESTURE_AFTER_MS));
      Promise.race([resumed, grace]).then(() => { if (context.state === "suspended") opts.onNeedsGesture?.(); });
    }
  }

  const speakers = new Map();
  const recordings = new Map();
  const mixChunks = [];
  const canDecodeOpus = typeof AudioDecoder !== "undefined";

  const deliver = (speaker, samples, discontinuity) => {
    stats.framesDecoded += 1;
    const perSpeaker = stats.speakers[speaker];
    if (perSpeaker) {
      perSpeaker.framesDecoded = (perSpeaker.framesDecoded ?? 0) + 1;
      perSpeaker.lastDecodedAt = nowMs();
      if (perSpeaker.streamFirstDecodedAt === null) {
        perSpeaker.streamFirstDecodedAt = perSpeaker.lastDecodedAt;
        // How long the listener waited from the new stream's first capture to hearing it.
        perSpeaker.resumeMs = perSpeaker.lastDecodedAt - perSpeaker.streamFirstCaptureMs;
        if (perSpeaker.streams > 1) {
          const before = perSpeaker.previousDecodedAt;
          perSpeaker.resumes.push({
            resumeMs: perSpeaker.resumeMs,
            receiptMs: perSpeaker.streamFirstLatencyMs,
            gapMs: before === null ? null : perSpeaker.lastDecodedAt - before,
          });
        }
      }
    }
    if (opts.record) {
      if (!recordings.has(speaker)) recordings.set(speaker, []);
      recordings.get(speaker).push(samples.slice());
    }
    mixer.port.postMessage({ type: "frame", speaker, samples, discontinuity }, [samples.buffer]);
  };

  const speakerState = (index, replaced = null) => {
    let state = speakers.get(index);
    if (state && !replaced) return state;
    state = {
      stream: null,
      ended: replaced ? [...replaced.ended, replaced.stream].slice(-8) : [],
      lastSequence: null,
      framesReceived: replaced ? replaced.framesReceived : 0,
      framesLost: replaced ? replaced.framesLost : 0,
      discontinuities: [],
      decoder: null,
    };
    if (canDecodeOpus) {
      state.decoder = new AudioDecoder({
        output: (audio) => {
          const samples = new Float32Array(audio.numberOfFrames);
          audio.copyTo(samples, { planeIndex: 0, format: "f32-planar" });
          audio.close();
          deliver(index, samples, state.discontinuities.shift() ?? false);
        },
        error: () => {
          stats.decodeErrors += 1;
          state.decoder = null; // a closed decoder is rebuilt on the next frame
          speakers.delete(index);
        },
      });
      state.decoder.configure(DECODER_CONFIG);
    }
    speakers.set(index, state);
    stats.speakers[index] = stats.speakers[index] ?? { framesReceived: 0, framesLost: 0, framesDecoded: 0, streams: 0, resumes: [] };
    return state;
  };

  // A new stream from a speaker (they reloaded, reconnected, switched device or unmuted): drop the old
  // decoder and jitter buffer and start afresh, as for someone who just began talking.
  const startStream = (index, frame) => {
    let state = speakerState(index);
    if (state.stream === frame.stream) return state;
    if (state.ended.includes(frame.stream)) return null; // a straggler from a stream already replaced
    if (state.stream !== null) {
      if (state.decoder && state.decoder.state !== "closed") state.decoder.close();
      mixer.port.postMessage({ type: "restart", speaker: index });
      state = speakerState(index, state);
    }
    state.stream = frame.stream;
    stats.streams += 1;
    const perSpeaker = stats.speakers[index];
    perSpeaker.streams += 1;
    perSpeaker.stream = frame.stream;
    perSpeaker.previousDecodedAt = perSpeaker.lastDecodedAt ?? null;
    perSpeaker.streamFirstCaptureMs = frame.captureMs;
    perSpeaker.streamFirstLatencyMs = nowMs() - frame.captureMs; // capture -> receipt of its first frame
    perSpeaker.streamFirstDecodedAt = null;
    return state;
  };

  const onFrame = (frame) => {
    if (frame.speaker === opts.skipSpeakerIndex) return;
    const state = startStream(frame.speaker, frame);
    if (!state) {
      stats.framesStale += 1;
      return;
    }
    let discontinuity = false;
    if (state.lastSequence !== null) {
      const step = (frame.sequence - state.lastSequence) >>> 0;
      if (step === 0 || step > 0x7fffffff) {
        stats.framesLate += 1; // duplicate or late: already past it
        return;
      }
      if (step > 1) {
        stats.gaps += 1;
        stats.framesLost += step - 1;
        state.framesLost += step - 1;
        discontinuity = true;
      }
    }
    state.lastSequence = frame.sequence;
    state.framesReceived += 1;
    stats.framesReceived += 1;
    stats.speakers[frame.speaker].framesReceived = state.framesReceived;
    stats.speakers[frame.speaker].framesLost = state.framesLost;
    const latency = nowMs() - frame.captureMs;
    stats.latencyMs = latency;
    stats.latencyAvgMs = stats.latencyAvgMs === null ? latency : stats.latencyAvgMs * 0.95 + latency * 0.05;
    stats.latencyMaxMs = Math.max(stats.latencyMaxMs ?? latency, latency);
    if (frame.format === FORMAT_OPUS && state.decoder) {
      state.discontinuities.push(discontinuity);
      state.decoder.decode(
        new EncodedAudioChunk({ type: "key", timestamp: frame.sequence * 20000, data: frame.payload }),
      );
    } else if (frame.format === FORMAT_PCM16) {
      deliver(frame.speaker, pcm16ToFloat48k(frame.payload), discontinuity);
    } else {
      stats.undecodable += 1; // Opus without WebCodecs in this browser, or an unknown format
    }
  };

  let current = null;
  let received = 0; // binary messages read on the current socket
  let acked = 0;
  const onMessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return; // JSON control events belong to the room page
    received += 1;
    stats.bytesReceived += event.data.byteLength;
    for (const frame of parseMessage(event.data)) onFrame(frame);
  };

  const attach = (next) => {
    if (current) current.removeEventListener("message", onMessage);
    current = next;
    received = acked = 0; // the server counts per socket
    current.binaryType = "arraybuffer";
    current.addEventListener("message", onMessage);
  };
  attach(socket);
  const ackTimer = setInterval(() => {
    if (received === acked || current.readyState !== WebSocket.OPEN) return;
    current.send(JSON.stringify({ type: "media_ack", received }));
    acked = received;
  }, ACK_INTERVAL_MS);

  mixer.port.onmessage = ({ data }) => {
    if (data.type !== "report") return;
    if (data.mix && stats.framesDecoded > 0) mixChunks.push(data.mix);
    const levels = {};
    let underruns = 0;
    let buffered = 0;
    for (const [index, report] of Object.entries(data.speakers)) {
      levels[index] = report.level;
      underruns += report.underruns;
      buffered = Math.max(buffered, report.bufferedMs);
      const speaker = (stats.speakers[index] = stats.speakers[index] ?? {});
      Object.assign(speaker, report);
      speaker.peakLevel = Math.max(speaker.peakLevel ?? 0, report.level);
    }
    stats.underruns = underruns;
    if (stats.latencyAvgMs !== null) stats.playoutLatencyMs = stats.latencyAvgMs + buffered;
    opts.onLevels?.(levels);
    if (opts.levelRoot) {
      for (const [index, level] of Object.entries(levels)) {
        for (const el of opts.levelRoot.querySelectorAll(`[data-speaker-index="${index}"]`)) {
          el.style.setProperty("--audio-level", Math.min(1, level * 5).toFixed(3));
          el.classList.toggle("is-speaking", level > SPEAKING_LEVEL);
        }
      }
    }
  };

  let panelTimer = null;
  if (opts.debugPanel) {
    const pre = document.createElement("pre");
    pre.className = "audio-debug";
    opts.debugPanel.replaceChildren(pre);
    const fmt = (v) => (v === null ? "–" : Math.round(v));
    panelTimer = setInterval(() => {
      const lines = [
        `context ${stats.contextState}  frames ${stats.framesReceived} recv / ${stats.framesDecoded} decoded`,
        `lost ${stats.framesLost}  late ${stats.framesLate}  underruns ${stats.underruns}  decode errors ${stats.decodeErrors}`,
        `latency ${fmt(stats.latencyMs)} ms (avg ${fmt(stats.latencyAvgMs)}, max ${fmt(stats.latencyMaxMs)}), playout ${fmt(stats.playoutLatencyMs)} ms`,
        ...Object.entries(stats.speakers).map(
          ([i, s]) => `speaker ${i}: ${s.framesReceived ?? 0} frames, buffer ${fmt(s.bufferedMs ?? null)}/${fmt(s.targetMs ?? null)} ms, level ${(s.level ?? 0).toFixed(3)}`,
        ),
      ];
      pre.textContent = lines.join("\n");
    }, 500);
  }

  return {
    stats,
    context,
    attach,
    recording(index) {
      return concat(recordings.get(index) ?? []);
    },
    mixRecording() {
      return concat(mixChunks);
    },
    async stop() {
      if (current) current.removeEventListener("message", onMessage);
      if (panelTimer) clearInterval(panelTimer);
      clearInterval(ackTimer);
      for (const state of speakers.values()) if (state.decoder && state.decoder.state !== "closed") state.decoder.close();
      await context.close();
    },
  };
}
