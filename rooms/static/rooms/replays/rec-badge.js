// The REC badge: told on joining (a polite announcement once the room connects), kept in step with the host.
// A speaker on stage in a recorded Space (the server's `can` holds `speak`; the host's page has no question:
// they chose to record) is asked whether their voice goes into the replay.
const rec = document.getElementById("rec");
const badge = document.getElementById("rec-badge");
const announce = document.getElementById("rec-announce");
const consent = document.getElementById("rec-consent");
const room = document.getElementById("room");
let onStage = false;

function showConsent() {
  if (consent) consent.hidden = !(onStage && rec.dataset.active === "true");
}

function show(active, tell) {
  rec.dataset.active = String(active);
  badge.hidden = !active;
  if (tell) announce.textContent = active ? "This Space is being recorded." : "Recording stopped.";
  showConsent();
}

function sayRecorded(recorded) {
  consent.dataset.recorded = String(recorded);
  consent.dataset.answered = "true";
  document.getElementById("rec-consent-state").replaceChildren(
    Object.assign(document.createElement("strong"), {
      textContent: recorded ? "Your voice is recorded." : "Your voice is not recorded.",
    }),
  );
}

if (consent) {
  const form = document.getElementById("rec-consent-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const choice = event.submitter ? event.submitter.value : "accept";
    const body = new FormData(form);
    body.set("choice", choice);
    const state = document.getElementById("rec-consent-state");
    try {
      const response = await fetch(form.action, { method: "POST", body, headers: { Accept: "application/json" } });
      const answer = await response.json();
      if (answer.ok) sayRecorded(choice === "accept");
      else state.textContent = answer.error;
    } catch {
      state.textContent = "Your choice could not be sent; check your connection and try again.";
    }
  });
}

if (rec && room) {
  let told = false;
  room.addEventListener("room:can", ({ detail }) => {
    const wasOnStage = onStage;
    onStage = detail.can.includes("speak");
    showConsent();
    if (onStage && !wasOnStage && consent && rec.dataset.active === "true") {
      announce.textContent = consent.dataset.recorded === "true"
        ? "You are on stage in a recorded Space: your voice is recorded unless you decline."
        : "You are on stage in a recorded Space: your voice is not recorded unless you accept.";
    }
  });
  room.addEventListener("room:socket", ({ detail }) => {
    if (!told && rec.dataset.active === "true") {
      told = true;
      show(true, true);
    }
    detail.socket.addEventListener("message", ({ data }) => {
      if (typeof data !== "string") return;
      let event;
      try { event = JSON.parse(data); } catch { return; }
      if (event.type === "recording") show(Boolean(event.active), true);
    });
  });
}
