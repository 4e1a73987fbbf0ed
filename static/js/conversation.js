// An open conversation shows new messages as they arrive: /ws/me/ says one came (user-events.js turns it into
// a "message" event on <body>), and the page fetches the server-rendered messages after the last it has.
const thread = document.getElementById("thread");
let fetching = Promise.resolve();

function lastId() {
  const items = thread.querySelectorAll("li[data-id]");
  return items.length ? items[items.length - 1].dataset.id : "0";
}

async function fetchNew() {
  const response = await fetch(`${thread.dataset.newUrl}?after=${lastId()}`, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const html = (await response.text()).trim();
  if (html) {
    thread.insertAdjacentHTML("beforeend", html);
    thread.lastElementChild.scrollIntoView({ block: "nearest" });
  }
}

document.body.addEventListener("message", (event) => {
  if (String(event.detail.conversation) !== thread.dataset.conversation) return;
  // One fetch at a time, so two quick messages are not inserted twice.
  fetching = fetching.then(fetchNew, fetchNew);
});
