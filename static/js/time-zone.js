// Tells the server the browser's time zone: a cookie for every visitor, and the account's setting once.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone) {
  document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
  const body = document.body;
  if (body.dataset.signedIn === "true" && !body.dataset.timeZone) {
    // Once the person has clicked, typed or left, a reload would undo what they did (or take them back
    // from the page they are opening): their next page is drawn in local time instead.
    let busy = false;
    const engaged = () => {
      busy = true;
    };
    for (const type of ["pointerdown", "keydown", "beforeunload"]) {
      addEventListener(type, engaged, { capture: true, once: true });
    }
    const form = new FormData();
    form.append("time_zone", zone);
    fetch(body.dataset.timeZoneUrl, {
      method: "POST",
      body: form,
      headers: { "X-CSRFToken": body.dataset.csrf },
    }).then((response) => {
      if (!response.ok) return;
      // The page was drawn in UTC: draw it again in local time, once.
      if (!busy && zone !== "UTC" && document.querySelector("time")) {
        location.reload();
        return;
      }
      body.dataset.timeZone = zone;
    });
  }
}
