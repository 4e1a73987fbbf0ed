// Listen while browsing: while a Space plays, a link followed from the page opens in place (the page's main
// content and header are swapped; the document never unloads), so the room's socket and AudioContext keep
// running. The room waits, hidden, with everything it had, and a mini-player docks at the bottom of the
// screen with the speakers, a way back and a leave button. Going back to the Space shows the same room:
// same socket, same player, no reconnect. Anything that can't open in place (another site, a download, a
// form posting elsewhere, a page that fails) is an ordinary navigation, which leaves the Space.

const root = document.getElementById("room");
const main = document.getElementById("main");
const mini = document.getElementById("mini-player");
const roomPath = new URL(document.getElementById("mini-return").href).pathname;
// Never fetched in place: the socket's own paths, leaving, accounts' sign-out, files and the admin.
const NOT_IN_PLACE = /^\/(ws|static|media|admin|accounts\/logout)\//;

// The room's content waits here, in the document (its scripts look their elements up by id), before the
// header so that an id a browsed page happens to reuse never shadows the room's own.
const stash = document.createElement("div");
stash.id = "room-stash";
stash.hidden = true;
document.querySelector(".site-header").before(stash);
document.body.append(mini);

const roomTitle = document.title;
let roomHeader = document.querySelector(".site-header");
let roomShown = true;
let visits = 0;
let navigation = 0;

history.replaceState({ spacesBrowse: true }, "", location.href);
main.tabIndex = -1; // focus moves to the new content, as a page load would put it at the top

const playing = () => root.dataset.connected === "true";

function inPlace(link, click) {
  if (click.defaultPrevented || click.button !== 0 || click.metaKey || click.ctrlKey || click.shiftKey || click.altKey) return false;
  if (!link.href || link.hasAttribute("download") || (link.target && link.target !== "_self")) return false;
  if (link.closest("[data-leave]")) return false;
  // A link htmx answers on click is htmx's (the bell's hx-get only answers a `notification` event).
  if ((link.hasAttribute("hx-get") || link.hasAttribute("hx-post")) && !link.hasAttribute("hx-trigger")) return false;
  const url = new URL(link.href);
  if (url.origin !== location.origin || NOT_IN_PLACE.test(url.pathname)) return false;
  // A jump within the page shown (the dock's Captions and Share) stays an ordinary jump.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return false;
  return playing() || !roomShown;
}

function showRoom() {
  if (roomShown) return;
  document.querySelector(".site-header").replaceWith(roomHeader);
  main.replaceChildren(...stash.childNodes);
  roomShown = true;
  mini.hidden = true;
  document.title = roomTitle;
  root.dispatchEvent(new CustomEvent("room:shown"));
}

function loadPageScripts(doc) {
  const present = new Set([...document.querySelectorAll("link[rel=stylesheet]")].map((link) => link.href));
  for (const link of doc.querySelectorAll("head link[rel=stylesheet]")) {
    if (!present.has(link.href)) document.head.append(document.importNode(link));
  }
  // A module runs once per document and URL: a page's own modules are imported under a fresh URL each visit.
  visits += 1;
  for (const script of doc.querySelectorAll("body script[type=module][src]")) {
    if (script.hasAttribute("data-once")) continue;
    const url = new URL(script.getAttribute("src"), location.href);
    url.searchParams.set("visit", visits);
    import(url.href).catch((error) => console.warn("a page script failed", error));
  }
}

async function open(href, { push = true } = {}) {
  const url = new URL(href, location.href);
  const mine = ++navigation;
  if (url.pathname === roomPath) {
    showRoom();
    if (push) history.pushState({ spacesBrowse: true }, "", url.href);
    if (url.hash) document.getElementById(url.hash.slice(1))?.scrollIntoView();
    return;
  }
  let response;
  let doc;
  try {
    response = await fetch(url.href, { credentials: "same-origin", headers: { "X-Spaces-In-Place": "1" } });
    if (!(response.headers.get("content-type") || "").startsWith("text/html")) throw new Error("not a page");
    doc = new DOMParser().parseFromString(await response.text(), "text/html");
    if (!doc.getElementById("main")) throw new Error("not a page of this site");
    // Another Space's room: a room per document, so going there is an ordinary navigation (and leaves this one).
    if (doc.getElementById("room") && new URL(response.url).pathname !== roomPath) throw new Error("another room");
  } catch {
    location.href = url.href;
    return;
  }
  if (mine !== navigation) return; // a later click won
  const landed = new URL(response.url);
  if (landed.pathname === roomPath) { showRoom(); if (push) history.pushState({ spacesBrowse: true }, "", landed.href); return; }
  if (roomShown) {
    stash.append(...main.childNodes);
    roomHeader = document.querySelector(".site-header");
    roomShown = false;
  }
  document.querySelector(".site-header").replaceWith(document.adoptNode(doc.querySelector(".site-header")));
  main.replaceChildren(...[...doc.getElementById("main").childNodes].map((node) => document.adoptNode(node)));
  document.title = doc.title;
  if (push) history.pushState({ spacesBrowse: true }, "", landed.href + url.hash);
  window.htmx?.process(document.querySelector(".site-header"));
  window.htmx?.process(main);
  loadPageScripts(doc);
  mini.hidden = false;
  window.scrollTo(0, 0);
  main.focus({ preventScroll: true });
  document.dispatchEvent(new CustomEvent("spaces:page-shown", { detail: { url: landed.href } }));
}

document.addEventListener("click", (click) => {
  const link = click.target.closest("a[href]");
  if (!link || !inPlace(link, click)) return;
  click.preventDefault();
  open(link.href);
});

window.addEventListener("popstate", (pop) => {
  if (pop.state?.spacesBrowse) open(location.href, { push: false });
});

// Leaving from the mini-player: the page shown is loaded for real, which closes the room's socket.
document.getElementById("mini-leave").addEventListener("click", () => location.reload());

// The mini-player mirrors the stage: who is on it, and whether the room is still connected.
function mirrorSpeakers() {
  const items = [...document.querySelectorAll("#speakers .stage-person")].map((person) => {
    const li = document.createElement("li");
    li.className = "mini-speaker";
    if (person.dataset.muted === "true") li.dataset.muted = "true";
    const avatar = person.querySelector(".avatar").cloneNode(true);
    li.append(avatar, person.querySelector(".person-name strong").textContent);
    return li;
  });
  document.getElementById("mini-speakers").replaceChildren(...items);
}
function mirrorStatus() {
  const text = document.getElementById("connection-status").textContent;
  document.getElementById("mini-status").textContent = text === "Connected." ? "Playing" : text;
}
new MutationObserver(mirrorSpeakers).observe(document.getElementById("speakers"), { childList: true });
new MutationObserver(mirrorStatus).observe(document.getElementById("connection-status"), { childList: true, characterData: true, subtree: true });
mirrorSpeakers();
mirrorStatus();

window.spacesBrowse = { open, get roomShown() { return roomShown; } };
