// Charts of the service dashboard, drawn from the figures the page embeds as JSON.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  if (typeof Chart === "undefined") {
    return; // the table below the charts carries the same figures
  }
  const accent = "#b3261e", ok = "#2e7d32", muted = "#5c6bc0";
  const common = {responsive: true, maintainAspectRatio: false, animation: false};
  new Chart(document.getElementById("flow-chart"), {
    type: "line",
    data: {
      labels: data.flow.map((row) => row.day),
      datasets: [
        {label: labels.opened, data: data.flow.map((row) => row.opened), borderColor: accent, tension: 0.2},
        {label: labels.resolved, data: data.flow.map((row) => row.resolved), borderColor: ok, tension: 0.2},
      ],
    },
    options: common,
  });
  new Chart(document.getElementById("age-chart"), {
    type: "bar",
    data: {labels: data.age.map((row) => row.label),
           datasets: [{label: labels.open_cases, data: data.age.map((row) => row.count), backgroundColor: muted}]},
    options: common,
  });
  new Chart(document.getElementById("csat-chart"), {
    type: "line",
    data: {labels: data.csat_trend.map((row) => row.week),
           datasets: [{label: "CSAT", data: data.csat_trend.map((row) => row.csat), borderColor: ok}]},
    options: {...common, scales: {y: {min: 1, max: 5}}},
  });
  const statuses = Object.keys(data.backlog.by_status);
  new Chart(document.getElementById("status-chart"), {
    type: "doughnut",
    data: {labels: statuses.map((key) => labels.statuses[key] || key),
           datasets: [{data: statuses.map((key) => data.backlog.by_status[key])}]},
    options: common,
  });
})();
