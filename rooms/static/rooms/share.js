// "Copy link" buttons on Space and clip pages.
for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const status = button.parentElement.querySelector("[data-copy-status]");
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      if (status) status.textContent = "Link copied.";
    } catch {
      if (status) status.textContent = `Copy this link: ${button.dataset.copy}`;
    }
  });
}
