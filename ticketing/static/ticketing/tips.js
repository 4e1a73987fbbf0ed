// The room page's live tips: announced tips arrive on the Space's socket (`tip` in rooms/PROTOCOL.md),
// and the host's own tips also on their /ws/me/ socket, so a host sees unannounced tips too.
const feed = document.getElementById("tip-feed");
const spaceId = Number(feed.dataset.space);
const seen = new Set();
const myId = Number(document.getElementById("room")?.dataset.user);
const note = document.getElementById("tip-note");

function show(event) {
  // The host gets an announced tip on both sockets; show it once.
  if (!event || event.type !== "tip" || event.space_id !== spaceId || seen.has(event.tip)) return;
  seen.add(event.tip);
  const item = document.createElement("li");
  item.className = "tip-item";
  item.textContent = `${event.from.name} (@${event.from.username}) tipped ${event.amount}`;
  if (!event.announced) item.textContent += " (only you see this)";
  feed.prepend(item);
  if (note && event.from.user_id === myId) note.textContent = `Your ${event.amount} tip went through. Thank you!`;
}

document.getElementById("room")?.addEventListener("room:socket", ({ detail }) => {
  detail.socket.addEventListener("message", (message) => {
    if (typeof message.data !== "string") return; // audio frames
    try { show(JSON.parse(message.data)); } catch { /* room.js reports bad messages */ }
  });
});
document.body.addEventListener("tip", ({ detail }) => show(detail));

// The tip form posts into a tab of its own (target="tip-checkout"): say so here, where the room keeps playing.
// An unannounced tip is not sent to the room, so only an announced one is promised here.
document.getElementById("tip-form")?.addEventListener("submit", (submitted) => {
  const announced = submitted.target.querySelector("[name=announce]")?.checked;
  note.textContent = announced
    ? "Checkout opened in a new tab. Pay there; your tip shows up here when it goes through."
    : "Checkout opened in a new tab. Pay there; its page says when your tip goes through.";
});
