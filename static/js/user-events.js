// Keeps a signed-in page live: the bell count, new messages and the live bubbles.

import { CLOSE } from "./close-codes.js";

const scheme = location.protocol === "https:" ? "wss" : "ws";
let delay = 1000;

function connect() {
  const socket = new WebSocket(`${scheme}://${location.host}/ws/me/`);
  let opened = false;
  socket.addEventListener("open", () => {
    opened = true;
    delay = 1000;
    document.body.dataset.eventsConnected = "true";
  });
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    const dispatch = () => document.body.dispatchEvent(new CustomEvent(event.type, { detail: event, bubbles: true }));
    // A push to many people at once (a host's followers) says over how long to spread what the pages ask back.
    if (event.spread_ms > 0) setTimeout(dispatch, Math.random() * event.spread_ms);
    else dispatch();
  });
  socket.addEventListener("close", (closed) => {
    document.body.dataset.eventsConnected = "false";
    if (closed.code === CLOSE.UNAUTHENTICATED) {
      // Signed out while the page was open (the account suspended, say): show the page as it now is.
      if (opened) location.reload();
      return;
    }
    // Jittered, so a restarted server's sockets do not all come back at once.
    setTimeout(connect, Math.round(delay / 2 + Math.random() * delay / 2));
    delay = Math.min(delay * 2, 30000);
  });
}

connect();
