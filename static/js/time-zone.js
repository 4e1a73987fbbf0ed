// Tells the server the browser's time zone: a cookie for every visitor, and the account's setting once.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone) {
  document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
  const body = document.body;
  if (body.dataset.signedIn === "true" && !body.dataset.timeZone) {
    // Once the person has clicked, typed or left, a reload would undo what they did (or take them back from
    // the page they are opening): their next page is drawn in local time instead. Listened for only until
    // the server answers (a `beforeunload` listener can keep a page out of the back-forward cache).
    let busy = false;
    const listening = new AbortController();
    for (const type of ["pointerdown", "keydown", "beforeunload"]) {
      addEventListener(type, () => (busy = true), { capture: true, once: true, signal: listening.signal });
    }
    const form = new FormData();
    form.append("time_zone", zone);
    fetch(body.dataset.timeZoneUrl, {
      method: "POST",
      body: form,
      headers: { "X-CSRFToken": body.dataset.csrf },
    })
      .then((response) => {
        if (!response.ok) return; // the next page asks again
        // Drawn in another zone (UTC, with no cookie yet): draw it again in local time, once. A page drawn from
        // the cookie a page before sign-in set is already in local time.
        if (!busy && zone !== body.dataset.drawnIn && document.querySelector("time")) {
          location.reload();
          return;
        }
        body.dataset.timeZone = zone;
      })
      .catch(() => {}) // offline: the next page asks again
      .finally(() => listening.abort());
  }
}
