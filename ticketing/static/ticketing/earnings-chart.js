// Draws the dashboard's earnings per month (the creator's net by kind, refunds below zero) with the
// vendored Chart.js; the figures come from the page's `earnings-chart-data` JSON, in cents.
const data = JSON.parse(document.getElementById("earnings-chart-data").textContent);
const COLOURS = { super_follow: "#7c3aed", ticket: "#2563eb", tip: "#059669", refunds: "#dc2626" };
const dollars = (cents) => (cents / 100).toLocaleString(undefined, { style: "currency", currency: "USD" });

window.earningsChart = new window.Chart(document.getElementById("earnings-chart"), {
  type: "bar",
  data: {
    labels: data.months,
    datasets: data.series.map((series) => ({
      label: series.label,
      data: series.net_cents.map((cents) => cents / 100),
      backgroundColor: COLOURS[series.key],
      stack: "earnings",
    })),
  },
  options: {
    responsive: true,
    // The box around the canvas sets the height, so a phone gets a chart as tall as a desktop's.
    maintainAspectRatio: false,
    scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: (value) => dollars(value * 100) } } },
    plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${dollars(item.raw * 100)}` } } },
  },
});
