// AudioWorklet: hands the microphone's samples (channel 0) to the page in 20 ms blocks with their level.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.blockSize = Math.round((sampleRate * 20) / 1000);
    this.block = new Float32Array(this.blockSize);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    let at = 0;
    while (at < input.length) {
      const take = Math.min(input.length - at, this.blockSize - this.filled);
      this.block.set(input.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.blockSize) {
        let sum = 0;
        for (let i = 0; i < this.blockSize; i++) sum += this.block[i] * this.block[i];
        const samples = this.block;
        this.port.postMessage({ samples, rms: Math.sqrt(sum / this.blockSize), sampleRate }, [samples.buffer]);
        this.block = new Float32Array(this.blockSize);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("spaces-capture", CaptureProcessor);
