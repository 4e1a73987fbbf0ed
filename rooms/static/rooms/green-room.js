// The green room on a scheduled Space's page: the host checks the microphone before starting, then
// "Start now" opens the room with the host on air on that device.
import { mountMicCheck } from "./audio/index.js";

const box = document.getElementById("green-room-mic");
const status = document.getElementById("green-room-status");
const DEVICE_KEY = "spaces:microphone";

try {
  const check = await mountMicCheck(box, { deviceId: localStorage.getItem(DEVICE_KEY) || undefined });
  status.textContent = "Speak and watch the meter move. Starting the Space puts you on air with this microphone.";
  box.querySelector("select").addEventListener("change", () => localStorage.setItem(DEVICE_KEY, check.deviceId()));
  document.getElementById("start-form")?.addEventListener("submit", () => {
    localStorage.setItem(DEVICE_KEY, check.deviceId());
    check.stop();
  });
} catch (error) {
  status.textContent = `Your microphone is not available (${error.message}). Connect one or allow it; you can still start, and listeners will hear you once it works.`;
}
