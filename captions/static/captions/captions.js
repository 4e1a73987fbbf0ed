// Live captions on the room page: caption events from the room socket (`caption`, `caption_notice`,
// rooms/PROTOCOL.md) shown with speaker labels in a polite live region; on/off, pause with
// scroll-back, appearance and (for speakers) consent saved per person through the settings form.
const root = document.getElementById("room");
const panel = document.getElementById("captions");
const $ = (id) => document.getElementById(id);
const toggle = $("captions-toggle");
const pauseButton = $("captions-pause");
const view = $("captions-view");
const log = $("captions-log");
const partial = $("captions-partial");
const notice = $("captions-notice");
const form = $("captions-settings");
const saved = $("captions-saved");
const consent = $("captions-consent");
const alertWords = $("captions-alert-words");
const alerts = $("captions-alerts");
const KEEP_LINES = 500;

let paused = false;
let held = []; // captions that arrived while paused, shown on resume
let socket = null;
let noticeTimer = null;
// For tests and assistive tooling: what reached this page.
window.spacesCaptions = { received: [], notices: [], alerts: [] };

function applyAppearance() {
  const enabled = form.elements.enabled.checked;
  panel.dataset.enabled = String(enabled);
  panel.dataset.size = form.elements.text_size.value;
  panel.dataset.position = form.elements.position.value;
  // Sticky at the top or the bottom of the viewport; first or last in the room so it sticks there.
  if (panel.dataset.position === "top") root.prepend(panel);
  else root.append(panel);
  panel.dataset.contrast = String(form.elements.high_contrast.checked);
  // An action, not a status: the button says what pressing it does.
  toggle.textContent = enabled ? "Turn captions off" : "Turn captions on";
  view.hidden = !enabled;
  pauseButton.hidden = !enabled;
  if (!enabled && paused) resume();
}

function showErrors(errors) {
  for (const box of form.querySelectorAll(".error")) { box.hidden = true; box.textContent = ""; }
  for (const field of form.querySelectorAll("[data-field]")) field.classList.remove("has-error");
  for (const [name, messages] of Object.entries(errors)) {
    const box = form.querySelector(`[data-field="${name}"] .error`);
    if (!box) { saved.textContent = messages.join(" "); continue; }
    box.textContent = messages.join(" ");
    box.hidden = false;
    box.closest("[data-field]").classList.add("has-error");
  }
}

async function save() {
  applyAppearance();
  saved.textContent = "Saving…";
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (answer.ok) { showErrors({}); saved.textContent = "Caption settings saved."; }
    else { showErrors(answer.errors || {}); saved.textContent = "Not saved: please fix the marked field."; }
  } catch (error) {
    saved.textContent = `Not saved (${error.message}); try again.`;
  }
}

function line(event) {
  const p = document.createElement("p");
  p.className = "caption-line";
  p.dataset.speaker = String(event.speaker_id);
  const who = document.createElement("span");
  who.className = "caption-speaker";
  who.textContent = `${event.speaker_name || "Speaker"}: `;
  p.append(who, document.createTextNode(event.text));
  return p;
}

function append(events) {
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  for (const event of events) log.append(line(event));
  while (log.childElementCount > KEEP_LINES) log.firstElementChild.remove();
  if (nearBottom || !paused) log.scrollTop = log.scrollHeight;
}

function resume() {
  paused = false;
  pauseButton.textContent = "Pause";
  pauseButton.setAttribute("aria-pressed", "false");
  append(held);
  held = [];
  log.scrollTop = log.scrollHeight;
}

function pause() {
  paused = true;
  pauseButton.textContent = "Resume live";
  pauseButton.setAttribute("aria-pressed", "true");
  log.focus(); // scroll back with the arrow keys
}

function showNotice(event) {
  window.spacesCaptions.notices.push(event);
  const who = event.speaker_name ? `${event.speaker_name}: ` : "";
  notice.textContent = `${who}${event.message}`;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.textContent = ""), 15000);
}

const partials = new Map(); // speaker id -> the line being spoken, replaced in place until its final

function showPartials() {
  // One line per speaker: settled words as they are, the unsettled tail underlined with dots (it may still change).
  const lines = [...partials.values()].flatMap(({ settled, tentative }, i) => {
    const tail = document.createElement("span");
    tail.className = "caption-tentative";
    tail.textContent = tentative;
    return [...(i ? ["\n"] : []), settled, tail];
  });
  partial.replaceChildren(...lines);
}

let epoch = 0; // the newest captioner's lease token: an older captioner's late captions are ignored

function onCaption(event) {
  if ((event.epoch ?? 0) < epoch) return;
  epoch = Math.max(epoch, event.epoch ?? 0);
  window.spacesCaptions.received.push(event);
  if (!form.elements.enabled.checked) return;
  const who = String(event.speaker_id);
  if (!event.final) {
    const settled = `${event.speaker_name || "Speaker"}: ${event.text}`;
    partials.set(who, { settled, tentative: event.tentative ? `${event.text ? " " : ""}${event.tentative}` : "" });
    if (!paused) showPartials();
    return;
  }
  partials.delete(who);
  showPartials();
  if (paused) {
    held.push(event);
    pauseButton.textContent = `Resume live (${held.length} new)`;
  } else {
    append([event]);
  }
}

function showAlert(event) {
  // Only hosts and co-hosts are sent these: a keyword of the host's list was said on stage.
  window.spacesCaptions.alerts.push(event);
  const p = document.createElement("p");
  p.className = "caption-alert";
  const strong = document.createElement("strong");
  strong.textContent = `“${event.word}” — ${event.speaker_name || "Speaker"}: `;
  p.append(strong, document.createTextNode(event.text));
  alerts.prepend(p);
  while (alerts.childElementCount > 5) alerts.lastElementChild.remove();
}

function onMessage(message) {
  if (typeof message.data !== "string") return;
  let event;
  try { event = JSON.parse(message.data); } catch { return; }
  if (event.type === "caption") onCaption(event);
  else if (event.type === "caption_notice") showNotice(event);
  else if (event.type === "caption_alert") showAlert(event);
}

root.addEventListener("room:socket", ({ detail }) => {
  socket?.removeEventListener("message", onMessage);
  socket = detail.socket;
  socket.addEventListener("message", onMessage);
});

// Consent to captioning concerns whoever may speak (the server's `can`, rooms/PROTOCOL.md).
root.addEventListener("room:can", ({ detail }) => {
  consent.hidden = !detail.can.includes("speak");
});
root.addEventListener("room:me", ({ detail }) => {
  alertWords.hidden = !["host", "cohost"].includes(detail.role);
});

toggle.addEventListener("click", () => {
  form.elements.enabled.checked = !form.elements.enabled.checked;
  save();
});
pauseButton.addEventListener("click", () => (paused ? resume() : pause()));
form.addEventListener("change", save);
alertWords.querySelector("input")?.addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); save(); }
});
form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
log.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && paused) { resume(); pauseButton.focus(); }
});
applyAppearance();
