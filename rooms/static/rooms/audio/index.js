// The audio modules of a Space page: mic check, speaking, listening, and the frame format.
export { listInputs, mountMicCheck, startMicCheck } from "./mic-check.js";
export { opusEncodingSupported, resumeOnGesture, startSpeaking } from "./capture.js";
export { startListening } from "./player.js";
export { FORMAT_OPUS, FORMAT_PCM16, packFrame, parseMessage } from "./protocol.js";
