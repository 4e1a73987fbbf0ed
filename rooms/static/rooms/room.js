// The room page's control socket: participants by role, hands, reactions, pins, moderation.
// Reconnects by itself; the server keeps the role, so a reload comes back as the same speaker.
// Audio capture and playback live in rooms/static/rooms/audio/; they get this page's socket from the
// `room:socket` event (on every connect) and the person's role and mute state from `room:me`.
// What this person may do, and to whom, is the server's word (`can`, `can_target` in `welcome` and
// `permissions`, passed on to the page's other modules as `room:can`): the page offers those actions
// and works out no rule of its own.

import { CLOSE, FINAL } from "../js/close-codes.js";
import { el } from "./dom.js";

const root = document.getElementById("room");
const spaceId = root.dataset.space;
const myId = Number(root.dataset.user);
const scheme = location.protocol === "https:" ? "wss" : "ws";
const CLOSED_BECAUSE = {
  [CLOSE.UNAUTHENTICATED]: "Log in to join this Space.",
  [CLOSE.FORBIDDEN]: "You can't join this Space.",
  [CLOSE.NOT_FOUND]: "This Space doesn't exist.",
  [CLOSE.ENDED]: "This Space has ended.",
  [CLOSE.SUPERSEDED]: "This Space is open in too many of your tabs; this one was closed.",
};
const ROLE_NAMES = { host: "Host", cohost: "Co-host", speaker: "Speaker", listener: "Listener" };
// Said when this person's own role changes, replacing what the status said before ("You're invited to speak.").
const ROLE_NOW = { host: "You're the host now.", cohost: "You're a co-host now.", speaker: "You're a speaker now.", listener: "You're a listener now." };
const SPEAKING = new Set(["host", "cohost", "speaker"]); // who is shown on the stage

const people = new Map();
let me = null;
let can = new Set(); // the message types this socket may send
let canTarget = {}; // the actions this socket may aim at someone, by that person's role
let invited = false;
let mayRequest = true; // the Space's speaking policy lets this listener request to speak (`welcome`)
let blocked = new Set();
let socket = null;
let delay = 1000;
let stopped = false;
let extraListeners = 0;
let sentBack = false; // this socket was in the room and was sent back into line (`waiting` with `sent_back`)
let waitingCount = 0; // the hosts' view: people in line to get in (`waiting_count`)
let refusal = null; // the server's reason, sent just before it closes this socket for good (`error` with `refused`)
let pinning = null; // the post this page asked to pin: its box keeps the text until the pin shows
// Only the host's page carries this list (its Super Followers), rendered with the page.
const superFollowerData = document.getElementById("super-follower-ids");
const superFollowers = new Set(superFollowerData ? JSON.parse(superFollowerData.textContent) : []);

const $ = (id) => document.getElementById(id);
const status = $("connection-status");

function setStatus(text) { status.textContent = text; }

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  else setStatus("Not connected; trying again…");
}

function connect() {
  socket = new WebSocket(`${scheme}://${location.host}/ws/spaces/${spaceId}/`);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => {
    setStatus("Connected.");
    root.dispatchEvent(new CustomEvent("room:socket", { detail: { socket } }));
  });
  socket.addEventListener("message", (message) => {
    if (typeof message.data !== "string") return; // audio frames are the audio player's business
    handle(JSON.parse(message.data));
  });
  socket.addEventListener("close", (closed) => {
    root.dataset.connected = "false";
    if (closed.code === CLOSE.ENDED) { ended(root.dataset.roomUrl); return; }
    if (closed.code === CLOSE.UNAUTHENTICATED) { stopped = true; location.href = root.dataset.loginUrl; return; }
    if (FINAL.has(closed.code)) { stopped = true; shut(); refuse(refusal || CLOSED_BECAUSE[closed.code] || "You can't join this Space."); return; }
    if (stopped) return;
    // Jittered (half the delay plus up to half again): a restarted server's thousands of listeners come back
    // spread over the window, not all in the same second.
    const wait = Math.round(delay / 2 + Math.random() * delay / 2);
    setStatus(`Connection lost; reconnecting in ${Math.max(1, Math.round(wait / 1000))} s…`);
    setTimeout(connect, wait);
    delay = Math.min(delay * 2, 15000);
  });
}

function upsert(participant) {
  people.set(participant.user_id, { ...(people.get(participant.user_id) || {}), ...participant });
  if (participant.user_id === myId) {
    me = people.get(myId);
    root.dispatchEvent(new CustomEvent("room:me", { detail: { ...me } }));
  }
}

function handle(event) {
  // Other modules of the page (questions.js) take the events they own from here.
  root.dispatchEvent(new CustomEvent("room:event", { detail: event }));
  switch (event.type) {
    case "waiting": showLine(event); return;
    case "waiting_count": waitingCount = event.count; break;
    case "welcome":
      delay = 1000;
      showLine(null);
      invited = event.invited;
      mayRequest = event.may_request;
      allow(event); // before `room:me`, so the page's other modules know what the seat may do as they see it
      people.clear();
      for (const p of [...event.speakers, ...event.listeners]) upsert(p);
      upsert(event.me);
      // The count has this person in it; in a big Space the list the welcome sends may not.
      extraListeners = Math.max(0, event.listener_count - [...people.values()].filter((p) => !SPEAKING.has(p.role)).length);
      blocked = new Set(event.blocked_ids || event.blocked_speaker_ids);
      renderPins(event.pins);
      showHostPresence(event.host_away || { present: true });
      root.dataset.connected = "true";
      for (const button of root.querySelectorAll("button[data-send][disabled]")) button.disabled = false; // drawn waiting
      setStatus("Connected.");
      break;
    case "presence":
      // A batch is as old as its flush interval: never let it overwrite fresher hand or role events.
      for (const p of event.joined) if (!people.has(p.user_id)) upsert(p);
      for (const id of event.left) {
        const p = people.get(id);
        if (p && !SPEAKING.has(p.role) && !p.hand) people.delete(id);
      }
      break;
    case "permissions": allow(event); break;
    case "role_changed": {
      const before = people.get(event.participant.user_id)?.role;
      upsert(event.participant);
      if (event.participant.user_id === myId && before && before !== event.participant.role) setStatus(ROLE_NOW[event.participant.role]);
      break;
    }
    case "hand": {
      if (event.participant) upsert(event.participant);
      if (event.user_id === myId && event.declined) setStatus("Your request to speak was declined.");
      break;
    }
    case "invited":
      if (event.user_id === myId) { invited = true; setStatus("You're invited to speak."); }
      break;
    case "removed":
      people.delete(event.user_id);
      break;
    case "pinned":
      addPin(event.pin);
      if (event.pin.post_id === pinning) { pinning = null; $("pin-post").value = ""; setStatus("Pinned."); }
      break;
    case "unpinned": document.querySelector(`#pins li[data-post="${event.post_id}"]`)?.remove(); break;
    case "reactions": showReactions(event.counts); break;
    // Broadcast mode: everyone present (the stage too) every few seconds, instead of each coming and going.
    case "listener_count": extraListeners = Math.max(0, event.count - people.size); break;
    case "host_presence": showHostPresence(event); break;
    case "space_ended": ended(event.url); return;
    case "error":
      if (event.code === "refused") refusal = event.message;
      if (event.ref === "pin") pinning = null;
      setStatus(event.message);
      break;
    default: return;
  }
  render();
}

function allow(event) {
  can = new Set(event.can);
  canTarget = event.can_target;
  if (can.has("speak")) invited = false; // on the stage: the invitation is spent
  root.dispatchEvent(new CustomEvent("room:can", { detail: { can: [...can], canTarget } }));
}

// What this person may do to `p`, as the server said.
function mayDo(p) {
  return new Set(p.user_id === myId ? [] : canTarget[p.role] || []);
}

function action(label, type, userId, secondary = true) {
  const button = el("button", { type: "button", textContent: label, className: secondary ? "secondary small-button" : "small-button" });
  button.dataset.act = type;
  button.dataset.user = userId;
  return button;
}

function tags(p) {
  const box = el("span", { className: "room-tags" });
  if (p.role !== "listener") box.append(el("span", { className: `tag role-${p.role}`, textContent: ROLE_NAMES[p.role] }));
  if (superFollowers.has(p.user_id)) box.append(el("span", { className: "tag super-follower", textContent: "Super Follower" }));
  if (SPEAKING.has(p.role) && p.muted) box.append(el("span", { className: "tag muted-badge", textContent: "Muted" }));
  if (p.hand) box.append(el("span", { className: "tag hand", textContent: "Hand raised" }));
  if (blocked.has(p.user_id)) box.append(el("span", { className: "tag warn", textContent: "You blocked this account" }));
  return box;
}

// Host tools and "Report" live in a menu on the person, not in a row of buttons under everyone.
function personMenu(p) {
  if (p.user_id === myId) return null;
  const may = mayDo(p);
  const items = el("div", { className: "person-menu-items" });
  // A raised hand is approved from the queue instead; "Remove co-host" is already how a co-host becomes a listener.
  if (may.has("invite") && !p.hand) items.append(action("Invite to speak", "invite", p.user_id));
  if (may.has("mute") && !p.muted) items.append(action("Mute", "mute", p.user_id));
  if (may.has("make_listener") && !may.has("remove_cohost")) items.append(action("Make listener", "make_listener", p.user_id));
  if (may.has("add_cohost")) items.append(action("Make co-host", "add_cohost", p.user_id));
  if (may.has("remove_cohost")) items.append(action("Remove co-host", "remove_cohost", p.user_id));
  if (may.has("remove")) items.append(action("Remove", "remove", p.user_id));
  items.append(el("a", { href: `/spaces/${spaceId}/report/?user=${p.user_id}`, textContent: "Report", className: "small" }));
  const summary = el("summary", { className: "person-menu-button" }, el("span", { ariaHidden: "true", textContent: "⋯" }),
    el("span", { className: "visually-hidden", textContent: `Options for ${p.name}` }));
  const menu = el("details", { className: "person-menu" }, summary, items);
  menu.dataset.menuFor = p.user_id;
  return menu;
}

function person(p, className) {
  const li = el("li", { className });
  li.dataset.user = p.user_id;
  li.dataset.role = p.role;
  if (SPEAKING.has(p.role) && p.muted) li.dataset.muted = "true";
  const avatar = el("span", { className: "avatar", textContent: p.initial, ariaHidden: "true" });
  if (SPEAKING.has(p.role) && p.speaker_index != null) avatar.dataset.speakerIndex = p.speaker_index;
  li.append(avatar, el("span", { className: "person-name" }, el("strong", { textContent: p.name }), " ",
    el("span", { className: "muted small", textContent: `@${p.username}` })));
  li.append(tags(p));
  const menu = personMenu(p);
  if (menu) li.append(menu);
  return li;
}

function waited(p) {
  if (!p.hand_at) return "";
  const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(p.hand_at)) / 60000));
  return minutes < 1 ? "waiting less than a minute" : `waiting ${minutes} min`;
}

function handRow(p, position) {
  const li = person(p, "room-person");
  li.prepend(el("span", { className: "queue-position", textContent: `${position}.` }));
  li.insertBefore(el("span", { className: "small muted hand-wait", textContent: waited(p) }), li.querySelector(".room-tags"));
  const may = mayDo(p);
  const buttons = [];
  if (may.has("approve")) buttons.push(action("Approve", "approve", p.user_id, false));
  if (may.has("decline")) buttons.push(action("Decline", "decline", p.user_id));
  if (buttons.length) li.insertBefore(el("span", { className: "actions" }, ...buttons), li.lastChild);
  return li;
}

// Every room event re-renders, and a click whose press and release land on two different nodes (the button
// replaced in between) reaches neither: a host's Approve was lost that way. Lists that did not change keep
// their nodes, the server's first among them (rooms/room_page.py draws the page as `welcome` will find it).
const rendered = new WeakMap();
const drawn = (nodes) => nodes.map((node) => node.outerHTML).join("");
for (const id of ["speakers", "listeners", "hands"]) rendered.set($(id), drawn([...$(id).children]));
function replaceIfChanged(list, nodes) {
  const html = drawn(nodes);
  if (rendered.get(list) === html) return;
  rendered.set(list, html);
  list.replaceChildren(...nodes);
}

function render() {
  const all = [...people.values()];
  const speakers = all.filter((p) => SPEAKING.has(p.role)).sort((a, b) => (a.speaker_index ?? 99) - (b.speaker_index ?? 99));
  const listeners = all.filter((p) => !SPEAKING.has(p.role));
  // The queue: hands in the order they went up (someone without a time, from an older event, goes last).
  const hands = all.filter((p) => p.hand).sort((a, b) => (Date.parse(a.hand_at) || Infinity) - (Date.parse(b.hand_at) || Infinity));
  // Re-rendering must not close a menu someone has open.
  const open = document.querySelector(".person-menu[open]");
  const openFor = open ? `${open.closest("ul").id}:${open.dataset.menuFor}` : null;
  replaceIfChanged($("speakers"), speakers.map((p) => person(p, "stage-person")));
  replaceIfChanged($("listeners"), listeners.map((p) => person(p, "listener-tile")));
  replaceIfChanged($("hands"), hands.map((p, i) => handRow(p, i + 1)));
  const next = hands.find((p) => mayDo(p).has("approve"));
  // Always there for those who may approve (room.css keeps the queue a row's room): a hand going up moves nothing.
  $("next-speaker").hidden = !can.has("approve");
  $("next-speaker").disabled = !next;
  if (next) $("next-speaker").dataset.user = next.user_id;
  if (openFor) {
    const [list, user] = openFor.split(":");
    const again = document.querySelector(`#${list} .person-menu[data-menu-for="${user}"]`);
    if (again) again.open = true;
  }
  $("hand-count").textContent = hands.length;
  $("listener-count").textContent = listeners.length + extraListeners;
  $("waiting-count").textContent = waitingCount ? `${waitingCount} waiting to get in` : "";

  const role = me ? me.role : "listener";
  $("my-role").textContent = ROLE_NAMES[role];
  // `data-show` names a message type this socket may send, or one of these states.
  const flags = {
    // On the stage a hand is a question signal, not a request to speak.
    "can-ask": can.has("raise_hand") && !can.has("speak") && mayRequest && !(me && me.hand) && !invited,
    "hand-up": Boolean(me && me.hand),
    invited: can.has("accept_invite") && invited,
  };
  for (const node of document.querySelectorAll("[data-show]")) {
    const show = node.dataset.show;
    node.hidden = !(show in flags ? flags[show] : can.has(show));
  }
  for (const unpin of $("pins").querySelectorAll("[data-unpin]")) unpin.hidden = !can.has("unpin");
  $("waiting-count").hidden = !waitingCount; // only the hosts and co-hosts are sent the count
  const warnings = speakers.filter((p) => blocked.has(p.user_id) && p.user_id !== myId);
  $("warnings").replaceChildren(...warnings.map((p) => el("p", { className: "flash-error", textContent: `${p.name} (@${p.username}), whom you blocked, is speaking.` })));
}

function addPin(pin) {
  if (document.querySelector(`#pins li[data-post="${pin.post_id}"]`)) return;
  const unpin = el("button", { type: "button", className: "secondary small-button", textContent: "Unpin", hidden: !can.has("unpin") });
  unpin.dataset.unpin = pin.post_id;
  const li = el("li", {}, el("a", { href: pin.url, textContent: `@${pin.author}: ${pin.body}` }), " ", unpin);
  li.dataset.post = pin.post_id;
  $("pins").prepend(li);
}

function renderPins(pins) {
  $("pins").replaceChildren();
  for (const pin of [...pins].reverse()) addPin(pin);
}

// The server is full: this person waits in line (no audio yet) until a place frees; `welcome` lets them in.
// A listener sent back into line because the server fell behind (`sent_back`) is told why until let in again.
function showLine(event) {
  root.dataset.waiting = String(Boolean(event));
  $("waiting-line").hidden = !event;
  if (!event) {
    sentBack = false;
    return;
  }
  sentBack ||= Boolean(event.sent_back);
  $("waiting-full").hidden = sentBack;
  $("waiting-sent-back").hidden = !sentBack;
  delay = 1000; // a socket that got this far is not failing: a reconnect later starts from the short delay
  $("waiting-seconds").textContent = event.seconds == null ? "" : `: about ${event.seconds} ${event.seconds === 1 ? "second" : "seconds"}`;
  $("waiting-position").textContent = event.position === 1 ? "You're next." : `${event.position - 1} ${event.position === 2 ? "person is" : "people are"} ahead of you.`;
  setStatus("Waiting for a place in the room…");
}

// This page's socket is closed for good (removed, blocked, another tab took its place): it may do nothing more in
// the room, so it offers nothing but the way out (the microphone stops with `room:can`), instead of buttons that
// answered "Not connected; trying again…" while nothing tried.
function shut() {
  invited = false;
  allow({ can: [], can_target: {} });
  render();
  document.querySelector(".dock-react").hidden = true;
}

// The Space ended: its page becomes the ended one. Someone listening while browsing another page (browse.js keeps
// the room hidden) stays on that page, told in the mini-player, whose link now loads the ended page: reloading
// the page they were on lost what they were typing there.
function ended(url) {
  if (stopped) return;
  stopped = true;
  setStatus("This Space has ended.");
  if (window.spacesBrowse && !window.spacesBrowse.roomShown) {
    $("mini-return").dataset.leave = "";
    $("mini-leave").textContent = "Close";
    return;
  }
  location.href = url;
}

// Refused for good: say why. Someone who was in line is no longer waiting for anything, so the line says so too
// (the room stays hidden: they never were inside).
function refuse(reason) {
  setStatus(reason);
  if (root.dataset.waiting !== "true") return;
  $("waiting-heading").textContent = reason;
  for (const id of ["waiting-position", "waiting-full", "waiting-sent-back"]) $(id).hidden = true;
}

// The host's last socket closed: say so at once, with the time left before the Space ends without them.
let hostTimer = null;
function showHostPresence(event) {
  const banner = $("host-presence");
  clearInterval(hostTimer);
  root.dataset.hostPresent = String(event.present);
  if (event.present) {
    banner.hidden = true;
    banner.textContent = "";
    return;
  }
  const endsAt = Date.parse(event.ends_at);
  const tick = () => {
    const left = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
    const clock = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    banner.textContent = `The host is reconnecting. The Space ends in ${clock} unless they're back.`;
  };
  tick();
  banner.hidden = false;
  hostTimer = setInterval(tick, 1000);
}

// Reactions float up over the stage; a burst is aggregated into one bubble per emoji with its count.
const floating = new Map();
function showReactions(counts) {
  const layer = $("reaction-float");
  $("reaction-feed").textContent = Object.entries(counts).map(([emoji, n]) => `${emoji} ${n}`).join(", ");
  for (const [emoji, n] of Object.entries(counts)) {
    let bubble = floating.get(emoji);
    if (bubble) {
      bubble.count += n;
      clearTimeout(bubble.timer);
    } else {
      const node = el("span", { className: "reaction-bubble" });
      node.style.left = `${10 + Math.random() * 75}%`;
      layer.append(node);
      bubble = { node, count: n };
      floating.set(emoji, bubble);
    }
    bubble.node.textContent = bubble.count > 1 ? `${emoji} ${bubble.count}` : emoji;
    bubble.node.classList.remove("pop");
    void bubble.node.offsetWidth; // restart the float animation
    bubble.node.classList.add("pop");
    bubble.timer = setTimeout(() => { bubble.node.remove(); floating.delete(emoji); }, 3000);
  }
}

root.addEventListener("click", (click) => {
  const target = click.target.closest("button");
  if (!target) return;
  if (target.closest(".person-menu")) target.closest(".person-menu").open = false;
  if (target.dataset.send) {
    if (target.dataset.confirm && !confirm(target.dataset.confirm)) return;
    send({ type: target.dataset.send });
  } else if (target.id === "next-speaker") {
    send({ type: "approve", user_id: Number(target.dataset.user) });
  } else if (target.dataset.unpin) {
    send({ type: "unpin", post_id: Number(target.dataset.unpin) });
  } else if (target.dataset.act) {
    send({ type: target.dataset.act, user_id: Number(target.dataset.user) });
  } else if (target.dataset.react) {
    send({ type: "react", emoji: target.dataset.react });
  }
});

// The host leaving on purpose ends the Space: without them it only waited out the grace period, its listeners told
// "The host is reconnecting" by a host who had gone.
root.querySelector(".dock [data-leave]").addEventListener("click", (click) => {
  if (!can.has("end")) return;
  click.preventDefault();
  if (confirm("Leaving ends this Space for everyone. End it and leave?")) send({ type: "end" });
});

$("pin-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  const input = $("pin-post");
  const numbers = input.value.match(/\d+/g);
  if (!numbers) { setStatus("Enter a post link or number to pin."); return; }
  pinning = Number(numbers[numbers.length - 1]);
  send({ type: "pin", post_id: pinning });
});

// How long each raised hand has waited, kept current.
setInterval(() => { if ([...people.values()].some((p) => p.hand)) render(); }, 30000);

window.spacesRoom = { get socket() { return socket; }, get me() { return me; }, send };
// No render() before `welcome`: the server drew the room as it will find it, and drawing it empty moved the page.
connect();
