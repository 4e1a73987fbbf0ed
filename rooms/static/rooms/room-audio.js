// Live audio on the room page: everyone listens; a speaker goes on air with one control.
// The control socket, the person's seat and mute state, and whether they may speak (the server's `can`)
// come from room.js (`room:socket`, `room:me`, `room:can`).
// The host is on air as soon as the room opens (the microphone was checked before starting); someone
// brought on stage taps "Talk" once, which opens the microphone and unmutes. The page says "On air"
// only while frames are leaving, and "Muted by the host" only when someone else muted them.
import { mountMicCheck, startListening, startSpeaking } from "./audio/index.js";

const root = document.getElementById("room");
const stage = document.getElementById("audio-stage");
const micCheckBox = document.getElementById("mic-check");
const talkButton = document.getElementById("talk");
const enableButton = document.getElementById("enable-audio");
const audioStatus = document.getElementById("audio-status");
const onAirKey = `spaces:on-air:${root.dataset.space}`;
const isHost = root.dataset.host === root.dataset.user;

let socket = null;
let player = null;
let check = null;
let speaking = null;
let micError = null;
// A reload or a reconnect puts someone who was talking back on air; the host always starts on air.
let wantsToTalk = isHost || sessionStorage.getItem(onAirKey) === "1";
let me = null;
let can = new Set(); // what the server says this socket may send; `speak`: audio frames
let mutedByOthers = false;
let selfMutePending = false; // the person asked to mute; the next mute is theirs, not the host's
// The player reads these per frame, so a role change updates whose voice is skipped (your own).
const playerOptions = {
  levelRoot: document.body, // the stage and the mini-player (browse.js) both show who is speaking
  debugPanel: document.getElementById("audio-debug"),
  skipSpeakerIndex: undefined,
  onNeedsGesture: () => (enableButton.hidden = false),
  // `?record-audio` keeps the decoded audio in memory so it can be inspected (window.spacesAudioPlayer).
  record: new URLSearchParams(location.search).has("record-audio"),
};

const canSpeak = () => Boolean(me) && can.has("speak");
const sendControl = (type) => window.spacesRoom?.send({ type });

async function ensurePlayer() {
  if (player) {
    player.attach(socket);
    return;
  }
  player = await startListening(socket, playerOptions);
  window.spacesAudioPlayer = player;
  if (player.context.state === "running") enableButton.hidden = true;
  player.context.addEventListener("statechange", () => {
    if (player.context.state === "running") enableButton.hidden = true;
  });
}

async function stopTalking() {
  const was = speaking;
  speaking = null;
  if (was) await was.stop();
}

// Every call starts a new stream (rooms/PROTOCOL.md, "Streams"), so listeners pick it up at once.
async function startTalking() {
  await stopTalking();
  if (!socket || socket.readyState !== WebSocket.OPEN || !check) return;
  speaking = await startSpeaking(socket, { stream: check.stream() });
  window.spacesAudioSpeaker = speaking;
  speaking.setMuted(!!me.muted);
  showState();
}

// Role events can arrive while the microphone is still starting: apply them one at a time.
let syncing = Promise.resolve();
const sync = (step = applyRole) => (syncing = syncing.then(step, step));

async function applyRole() {
  stage.hidden = !canSpeak();
  if (!canSpeak()) {
    wantsToTalk = false;
    sessionStorage.removeItem(onAirKey);
    await stopTalking();
    if (check) await check.stop();
    check = null;
    showState();
    return;
  }
  if (!check && !micError) {
    try {
      check = await mountMicCheck(micCheckBox, {
        onSwitch: () => sync(switchDevice),
        deviceId: localStorage.getItem("spaces:microphone") || undefined, // chosen in the green room
      });
    } catch (error) {
      // No microphone, or permission refused: the person stays on stage, silent, and is told why.
      micError = error;
    }
  }
  if (wantsToTalk && !speaking && check) await startTalking();
  if (speaking) speaking.setMuted(!!me.muted);
  showState();
}

async function switchDevice() {
  if (speaking) await startTalking();
}

let lastSent = 0;
let flowingUntil = 0;
function showState() {
  if (!me) return; // the server drew the controls for the seat; `welcome` has not said otherwise yet
  let state = "off";
  let text = "";
  let label = "Talk";
  if (!canSpeak()) {
    talkButton.hidden = true;
  } else {
    talkButton.hidden = false;
    talkButton.disabled = !!micError;
    if (micError) {
      state = "no-mic";
      text = `Your microphone is not available (${micError.message}). Connect one or allow it, then reload.`;
    } else if (me.muted && mutedByOthers) {
      state = "muted-by-host";
      text = "Muted by the host. Tap Unmute to talk again.";
      label = "Unmute";
    } else if (me.muted && wantsToTalk) {
      state = "muted";
      text = "You are muted.";
      label = "Unmute";
    } else if (!wantsToTalk || !speaking) {
      state = "ready";
      text = wantsToTalk ? "Starting your microphone…" : "You're on stage. Tap Talk when you want to speak.";
    } else if (performance.now() < flowingUntil) {
      state = "on-air";
      text = "On air: everyone hears you.";
      label = "Mute";
    } else {
      state = "connecting";
      text = "Not on air yet: connecting your microphone…";
      label = "Mute";
    }
  }
  talkButton.textContent = label;
  talkButton.setAttribute("aria-pressed", String(state === "on-air" || state === "connecting"));
  root.dataset.onAir = state;
  if (audioStatus.textContent !== text) audioStatus.textContent = text;
}

// "On air" is a fact about frames leaving, checked twice a second.
setInterval(() => {
  const sent = speaking ? speaking.stats.framesSent : 0;
  if (speaking && sent > lastSent) flowingUntil = performance.now() + 1000;
  lastSent = sent;
  showState();
}, 500);

root.addEventListener("room:socket", async ({ detail }) => {
  socket = detail.socket;
  await ensurePlayer();
  // A new socket after a reconnect: talk on it (a new stream).
  sync(async () => {
    if (speaking || (wantsToTalk && canSpeak())) await startTalking();
  });
});

// A role change arrives as `room:me` (the new seat), then `room:can` (what it may do now).
async function follow() {
  if (!me.muted || !canSpeak()) mutedByOthers = false;
  playerOptions.skipSpeakerIndex = canSpeak() ? me.speaker_index : undefined;
  await sync();
}

root.addEventListener("room:me", async ({ detail }) => {
  const before = me;
  me = detail;
  if (me.muted && before && !before.muted && canSpeak()) {
    mutedByOthers = !selfMutePending;
    selfMutePending = false;
  }
  await follow();
});

root.addEventListener("room:can", async ({ detail }) => {
  can = new Set(detail.can);
  if (me) await follow(); // the first `welcome` says what the seat may do just before `room:me` names it
});

talkButton.addEventListener("click", async () => {
  if (!canSpeak()) return;
  if (wantsToTalk && !me.muted) {
    selfMutePending = true;
    sendControl("mute_self");
    return;
  }
  wantsToTalk = true;
  sessionStorage.setItem(onAirKey, "1");
  if (me.muted) sendControl("unmute");
  await sync();
});

enableButton.addEventListener("click", () => player?.context.resume());
window.spacesRoomAudio = { switchDevice: (deviceId) => check?.select(deviceId) };
