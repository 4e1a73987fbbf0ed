// The REC badge: told on joining (a polite announcement once the room connects), kept in step with the host.
const rec = document.getElementById("rec");
const badge = document.getElementById("rec-badge");
const announce = document.getElementById("rec-announce");
const room = document.getElementById("room");

function show(active, tell) {
  rec.dataset.active = String(active);
  badge.hidden = !active;
  if (tell) announce.textContent = active ? "This Space is being recorded." : "Recording stopped.";
}

if (rec && room) {
  let told = false;
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
