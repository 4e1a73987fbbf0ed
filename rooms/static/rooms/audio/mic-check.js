// Mic check before joining the stage: choose the input device and watch its level.
import { microphoneConstraints } from "./capture.js";

export async function listInputs() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices.filter((d) => d.kind === "audioinput").map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
}

/**
 * Open the chosen microphone and report its level (0..1) about 30 times a second.
 * Returns { stream, stop() }; pass `stream` on to startSpeaking({stream}) to keep the same device.
 */
export async function startMicCheck({ deviceId, onLevel } = {}) {
  const stream = await navigator.mediaDevices.getUserMedia(microphoneConstraints(deviceId));
  const context = new AudioContext();
  if (context.state === "suspended") await context.resume().catch(() => {});
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    onLevel?.(Math.sqrt(sum / samples.length));
  }, 33);
  return {
    stream,
    async stop({ keepStream = false } = {}) {
      clearInterval(timer);
      if (!keepStream) stream.getTracks().forEach((t) => t.stop());
      await context.close();
    },
  };
}

/**
 * A ready-made mic check in `container`: a device <select> and a level meter (<meter>).
 * `onSwitch(stream)` is called after the person picks another device (a speaker on air restarts on it).
 * Resolves to { deviceId(), stream(), select(deviceId), stop() }.
 */
export async function mountMicCheck(container, { onSwitch, deviceId } = {}) {
  container.classList.add("mic-check");
  const select = document.createElement("select");
  select.setAttribute("aria-label", "Microphone");
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = 1;
  meter.low = 0.05;
  meter.high = 0.6;
  meter.setAttribute("aria-label", "Microphone level");
  container.replaceChildren(select, meter);
  const onLevel = (rms) => (meter.value = Math.min(1, rms * 4));
  // The device chosen last time, if it is still there; otherwise the default one.
  let check;
  try {
    check = await startMicCheck({ deviceId, onLevel });
  } catch (error) {
    if (!deviceId) throw error;
    check = await startMicCheck({ onLevel });
  }
  for (const input of await listInputs()) select.append(new Option(input.label, input.deviceId));
  const inUse = check.stream.getAudioTracks()[0]?.getSettings().deviceId;
  if (inUse && [...select.options].some((o) => o.value === inUse)) select.value = inUse;
  const change = async () => {
    const previous = check;
    check = await startMicCheck({ deviceId: select.value, onLevel: (rms) => (meter.value = Math.min(1, rms * 4)) });
    await onSwitch?.(check.stream);
    await previous.stop();
  };
  select.addEventListener("change", change);
  return {
    deviceId: () => select.value,
    stream: () => check.stream,
    async select(deviceId) {
      select.value = deviceId;
      await change();
    },
    stop: (options) => check.stop(options),
  };
}
