// Purple bubbles on the home timeline appear and vanish live, driven by `live_bubble` events
// from the person's /ws/me/ socket (static/js/user-events.js turns them into DOM events).
const strip = document.getElementById("live-bubbles");

function bubble(event) {
  const link = document.createElement("a");
  link.className = "bubble";
  link.href = event.url;
  link.dataset.user = event.user_id;
  const avatar = document.createElement("span");
  avatar.className = "avatar live";
  avatar.setAttribute("aria-hidden", "true");
  avatar.textContent = event.initial;
  const name = document.createElement("span");
  name.textContent = event.name;
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = ` is live: ${event.title}`;
  link.append(avatar, name, hidden);
  return link;
}

if (strip) {
  document.body.addEventListener("live_bubble", (dom) => {
    const event = dom.detail;
    const existing = strip.querySelector(`.bubble[data-user="${Number(event.user_id)}"]`);
    if (event.action === "add") {
      if (existing) existing.replaceWith(bubble(event));
      else strip.prepend(bubble(event));
    } else if (existing && existing.getAttribute("href") === event.url) {
      existing.remove();
    }
  });
}
