// AudioWorklet: one adaptive jitter buffer per speaker, mixed into the output without clicks.
// Each buffer starts playing once it holds `startMs`; an underrun fades out, counts, raises the target by
// 20 ms (up to 200 ms) and restarts with a fade-in; a buffer that stays well above its target for two
// seconds sheds a frame, and ten seconds without an underrun lower the target again (not below 40 ms).
const FRAME = 960; // 20 ms at 48 kHz
const FADE = 96; // 2 ms ramps
const MIN_TARGET = 40 * 48;
const MAX_TARGET = 200 * 48;
const MAX_BUFFERED = 600 * 48;

class SpeakerBuffer {
  constructor(targetSamples) {
    this.chunks = [];
    this.offset = 0;
    this.buffered = 0;
    this.target = targetSamples;
    this.playing = false;
    this.fadeIn = 0;
    this.tail = 0; // last output sample, decayed after an underrun
    this.underruns = 0;
    this.shed = 0;
    this.minBuffered = Infinity;
    this.windowSamples = 0;
    this.quietSamples = 0;
    this.energy = 0;
    this.energySamples = 0;
  }

  push(samples, discontinuity) {
    if (discontinuity && this.chunks.length) {
      // Fade out the end of what is queued and fade in the next frame: a lost frame leaves a soft dip.
      const last = this.chunks[this.chunks.length - 1];
      const start = Math.max(last === this.chunks[0] ? this.offset : 0, last.length - FADE);
      for (let i = start; i < last.length; i++) last[i] *= (last.length - i) / (last.length - start);
      for (let i = 0; i < Math.min(FADE, samples.length); i++) samples[i] *= i / FADE;
    }
    this.chunks.push(samples);
    this.buffered += samples.length;
    while (this.buffered > MAX_BUFFERED && this.chunks.length > 1) this.dropOldest();
  }

  dropOldest() {
    const chunk = this.chunks.shift();
    this.buffered -= chunk.length - this.offset;
    this.offset = 0;
    this.shed += 1;
    this.fadeIn = 0;
  }

  mixInto(out, n) {
    if (!this.playing) {
      if (this.buffered >= this.target) {
        this.playing = true;
        this.fadeIn = 0;
      } else {
        for (let i = 0; i < n; i++) {
          this.tail *= 0.995;
          out[i] += this.tail;
        }
        return;
      }
    }
    for (let i = 0; i < n; i++) {
      if (!this.chunks.length) {
        this.playing = false;
        this.underruns += 1;
        this.quietSamples = 0;
        this.target = Math.min(MAX_TARGET, this.target + FRAME);
        for (let j = i; j < n; j++) {
          this.tail *= 0.995;
          out[j] += this.tail;
        }
        return;
      }
      const chunk = this.chunks[0];
      let sample = chunk[this.offset++];
      if (this.fadeIn < FADE) {
        sample = this.tail * (1 - this.fadeIn / FADE) + sample * (this.fadeIn / FADE);
        this.fadeIn += 1;
      }
      if (this.offset >= chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      this.buffered -= 1;
      this.tail = sample;
      this.energy += sample * sample;
      this.energySamples += 1;
      out[i] += sample;
    }
    this.adapt(n);
  }

  adapt(n) {
    this.minBuffered = Math.min(this.minBuffered, this.buffered);
    this.windowSamples += n;
    this.quietSamples += n;
    if (this.quietSamples > 48000 * 10 && this.target > MIN_TARGET) {
      this.target = Math.max(MIN_TARGET, this.target - FRAME / 2);
      this.quietSamples = 0;
    }
    if (this.windowSamples >= 48000 * 2) {
      if (this.minBuffered > this.target + 2 * FRAME && this.chunks.length > 1) this.dropOldest();
      this.minBuffered = Infinity;
      this.windowSamples = 0;
    }
  }

  level() {
    const rms = this.energySamples ? Math.sqrt(this.energy / this.energySamples) : 0;
    this.energy = 0;
    this.energySamples = 0;
    return rms;
  }
}

class MixerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.startSamples = Math.round(((options.processorOptions && options.processorOptions.startMs) || 60) * 48);
    this.speakers = new Map();
    this.mix = new Float32Array(128);
    this.sinceReport = 0;
    this.recordMix = !!(options.processorOptions && options.processorOptions.record);
    this.mixChunks = [];
    this.port.onmessage = ({ data }) => {
      if (data.type === "frame") {
        let buffer = this.speakers.get(data.speaker);
        if (!buffer) this.speakers.set(data.speaker, (buffer = new SpeakerBuffer(this.startSamples)));
        buffer.push(data.samples, data.discontinuity);
      } else if (data.type === "forget") {
        this.speakers.delete(data.speaker);
      } else if (data.type === "restart") {
        // The speaker's new stream gets a fresh buffer; the old one's last sample fades into it.
        const old = this.speakers.get(data.speaker);
        const buffer = new SpeakerBuffer(this.startSamples);
        if (old) {
          buffer.tail = old.tail;
          buffer.underruns = old.underruns;
        }
        this.speakers.set(data.speaker, buffer);
      }
    };
  }

  process(inputs, outputs) {
    const output = outputs[0];
    const n = output[0].length;
    if (this.mix.length !== n) this.mix = new Float32Array(n);
    const mix = this.mix;
    mix.fill(0);
    for (const buffer of this.speakers.values()) buffer.mixInto(mix, n);
    for (let i = 0; i < n; i++) {
      const x = mix[i];
      mix[i] = x > 0.9 || x < -0.9 ? Math.tanh(x) : x; // soft clip when several speakers add up
    }
    for (const channel of output) channel.set(mix);
    if (this.recordMix) this.mixChunks.push(mix.slice());
    this.sinceReport += n;
    if (this.sinceReport >= 2400) {
      this.sinceReport = 0;
      const speakers = {};
      for (const [index, buffer] of this.speakers) {
        speakers[index] = {
          level: buffer.level(),
          bufferedMs: buffer.buffered / 48,
          targetMs: buffer.target / 48,
          underruns: buffer.underruns,
          shed: buffer.shed,
          playing: buffer.playing,
        };
      }
      const report = { type: "report", speakers };
      if (this.recordMix) {
        report.mix = new Float32Array(this.mixChunks.reduce((total, chunk) => total + chunk.length, 0));
        let at = 0;
        for (const chunk of this.mixChunks) {
          report.mix.set(chunk, at);
          at += chunk.length;
        }
        this.mixChunks = [];
      }
      this.port.postMessage(report);
    }
    return true;
  }
}

registerProcessor("spaces-mixer", MixerProcessor);
