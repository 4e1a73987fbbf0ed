// The replay player: the transcript beside it highlighted as it plays, click a line (or a #t= link) to jump,
// next speaker, 1x/1.5x/2x, listens counted on the first play. Keyboard: every control is a button or a link,
// and "n" skips to the next speaker when focus is not in a text field.
const section = document.getElementById("replay");
const audio = document.getElementById("replay-audio");
const status = document.getElementById("replay-status");
const lines = [...document.querySelectorAll("#transcript li[data-start-ms]")];
const nextSpeaker = document.getElementById("replay-next-speaker");
let current = null;
let listened = false;

const say = (text) => { status.textContent = text; };
const clock = (s) => new Date(Math.max(0, s) * 1000).toISOString().slice(11, 19);

function lineAt(seconds) {
  const ms = seconds * 1000;
  let found = null;
  for (const line of lines) {
    if (Number(line.dataset.startMs) > ms) break;
    found = line;
  }
  return found;
}

function highlight() {
  const line = lineAt(audio.currentTime);
  const playing = line && audio.currentTime * 1000 <= Number(line.dataset.endMs) + 1500 ? line : null;
  if (playing === current) return;
  current?.classList.remove("current");
  current?.removeAttribute("aria-current");
  current = playing;
  if (current) {
    current.classList.add("current");
    current.setAttribute("aria-current", "true");
    const list = current.parentElement;
    if (list.scrollHeight > list.clientHeight) {
      list.scrollTop = current.offsetTop - list.offsetTop - list.clientHeight / 3;
    }
  }
}

function seek(seconds, { play = true } = {}) {
  const duration = Number.isFinite(audio.duration) ? audio.duration : Number(audio.dataset.durationMs) / 1000;
  if (seconds > duration) {
    say(`That moment (${clock(seconds)}) is past the end of the replay (${clock(duration)}).`);
    return false;
  }
  audio.currentTime = Math.max(0, seconds);
  history.replaceState(null, "", `#t=${Math.floor(seconds)}`);
  if (play) audio.play().catch(() => say("Press play to listen."));
  highlight();
  return true;
}

function fromHash() {
  const match = /^#t=(\d+(?:\.\d+)?)$/.exec(location.hash);
  if (match) seek(Number(match[1]), { play: false });
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a.replay-seek");
  if (!link) return;
  event.preventDefault();
  seek(Number(link.closest("li").dataset.startMs) / 1000);
});

for (const button of section.querySelectorAll("[data-rate]")) {
  button.addEventListener("click", () => {
    audio.playbackRate = Number(button.dataset.rate);
    for (const other of section.querySelectorAll("[data-rate]")) other.setAttribute("aria-pressed", String(other === button));
    say(`Playing at ${button.textContent}.`);
  });
}

function skipToNextSpeaker() {
  const here = lineAt(audio.currentTime);
  const start = here ? lines.indexOf(here) : -1;
  const speaker = here?.dataset.speaker;
  const next = lines.slice(start + 1).find((line) => line.dataset.speaker !== speaker);
  if (!next) {
    say("Nobody else speaks after this point.");
    return;
  }
  seek(Number(next.dataset.startMs) / 1000);
  say(`${next.querySelector("strong")?.textContent || "Next speaker"} at ${clock(Number(next.dataset.startMs) / 1000)}.`);
}

nextSpeaker.addEventListener("click", skipToNextSpeaker);
nextSpeaker.disabled = lines.length === 0;
document.addEventListener("keydown", (event) => {
  if (event.key !== "n" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  skipToNextSpeaker();
});

audio.addEventListener("timeupdate", highlight);
audio.addEventListener("seeked", highlight);
audio.addEventListener("loadedmetadata", fromHash);
window.addEventListener("hashchange", fromHash);
audio.addEventListener("play", () => {
  if (listened) return;
  listened = true;
  const token = section.querySelector("[name=csrfmiddlewaretoken]")?.value || "";
  fetch(section.dataset.listenUrl, { method: "POST", headers: { "X-CSRFToken": token } }).catch(() => {});
});
audio.addEventListener("error", async () => {
  try {
    const response = await fetch(audio.currentSrc, { headers: { Range: "bytes=0-0" } });
    say(response.ok ? "The replay could not be played in this browser." : await response.text());
  } catch {
    say("The replay could not be loaded; check your connection and reload.");
  }
});
document.getElementById("clip-from-now")?.addEventListener("click", () => {
  document.getElementById("clip-start").value = audio.currentTime.toFixed(1);
});
// Pinned posts appear at the moment they were pinned: the latest one pinned by now is marked and announced.
const pins = [...document.querySelectorAll("#replay-pins li[data-at-ms]")];
let pinnedNow = null;
function showPins() {
  const ms = audio.currentTime * 1000;
  let latest = null;
  for (const pin of pins) {
    const reached = Number(pin.dataset.atMs) <= ms;
    pin.classList.toggle("not-yet", !reached);
    if (reached) latest = pin;
  }
  if (latest === pinnedNow) return;
  pinnedNow?.classList.remove("pinned-now");
  pinnedNow = latest;
  if (latest) {
    latest.classList.add("pinned-now");
    if (!audio.paused) say(`Pinned: ${latest.querySelector("a:last-of-type").textContent}`);
  }
}
document.addEventListener("click", (event) => {
  const link = event.target.closest("a.replay-seek-pin");
  if (!link) return;
  event.preventDefault();
  seek(Number(link.closest("li").dataset.atMs) / 1000);
});

// The host's listener curve shares the replay's time axis: a playhead follows the audio, a click seeks.
const curve = document.getElementById("curve-svg");
const playhead = document.getElementById("curve-playhead");
function movePlayhead() {
  if (!curve) return;
  const duration = Number(curve.closest("[data-duration-ms]").dataset.durationMs) / 1000;
  const x = Math.min(1, audio.currentTime / duration) * curve.viewBox.baseVal.width;
  playhead.setAttribute("x1", x);
  playhead.setAttribute("x2", x);
}
curve?.addEventListener("click", (event) => {
  const box = curve.getBoundingClientRect();
  const duration = Number(curve.closest("[data-duration-ms]").dataset.durationMs) / 1000;
  seek(((event.clientX - box.left) / box.width) * duration);
});
for (const type of ["timeupdate", "seeked", "loadedmetadata"]) {
  audio.addEventListener(type, showPins);
  audio.addEventListener(type, movePlayhead);
}
showPins();

window.spacesReplay = { seek, skipToNextSpeaker, lines };
