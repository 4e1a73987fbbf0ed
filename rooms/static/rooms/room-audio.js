// Live audio on the room page: everyone listens; a speaker checks their microphone, then talks.
// The control socket and the person's role come from room.js (`room:socket`, `room:me`).
import { mountMicCheck, startListening, startSpeaking } from "./audio/index.js";

const SPEAKING = new Set(["host", "cohost", "speaker"]);
const root = document.getElementById("room");
const stage = document.getElementById("audio-stage");
const micCheckBox = document.getElementById("mic-check");
const talkButton = document.getElementById("start-talking");
const enableButton = document.getElementById("enable-audio");
const audioStatus = document.getElementById("audio-status");

let socket = null;
let player = null;
let check = null;
let speaking = null;
let wantsToTalk = false;
let me = null;
// The player reads these per frame, so a role change updates whose voice is skipped (your own).
const playerOptions = {
  levelRoot: root,
  debugPanel: document.getElementById("audio-debug"),
  skipSpeakerIndex: undefined,
  onNeedsGesture: () => (enableButton.hidden = false),
  // `?record-audio` keeps the decoded audio in memory so it can be inspected (window.spacesAudioPlayer).
  record: new URLSearchParams(location.search).has("record-audio"),
};

const canSpeak = () => me && SPEAKING.has(me.role);

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
  if (speaking) await speaking.stop();
  speaking = null;
}

async function startTalking() {
  await stopTalking();
  speaking = await startSpeaking(socket, { stream: check.stream() });
  window.spacesAudioSpeaker = speaking;
  speaking.setMuted(!!me.muted);
  audioStatus.textContent = me.muted ? "You are muted." : "You are live: everyone hears you.";
}

// Role events can arrive while the microphone is still starting: apply them one at a time.
let syncing = Promise.resolve();
const sync = () => (syncing = syncing.then(applyRole, applyRole));

async function applyRole() {
  stage.hidden = !canSpeak();
  if (!canSpeak()) {
    wantsToTalk = false;
    await stopTalking();
    if (check) await check.stop();
    check = null;
    return;
  }
  if (!check) {
    try {
      check = await mountMicCheck(micCheckBox);
    } catch (error) {
      // No microphone, or permission refused: the person stays on stage, silent, and is told why.
      talkButton.hidden = true;
      audioStatus.textContent = `Your microphone is not available (${error.message}). Connect one or allow it, then reload.`;
      return;
    }
  }
  talkButton.hidden = wantsToTalk;
  if (wantsToTalk && !speaking && socket) await startTalking();
  if (speaking) {
    speaking.setMuted(!!me.muted);
    audioStatus.textContent = me.muted ? "You are muted." : "You are live: everyone hears you.";
  }
}

root.addEventListener("room:socket", async ({ detail }) => {
  socket = detail.socket;
  await ensurePlayer();
  // A new socket after a reconnect: keep talking on it.
  syncing = syncing.then(() => (speaking ? startTalking() : null));
});

root.addEventListener("room:me", async ({ detail }) => {
  me = detail;
  playerOptions.skipSpeakerIndex = canSpeak() ? me.speaker_index : undefined;
  await sync();
});

talkButton.addEventListener("click", async () => {
  wantsToTalk = true;
  await sync();
});

enableButton.addEventListener("click", () => player?.context.resume());
