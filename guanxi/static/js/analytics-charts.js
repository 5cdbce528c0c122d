/* Charts of the analytics pages, drawn with the vendored Chart.js (no CDN).
 *
 * A chart is a <canvas data-chart="chart-data-ID"> next to <script type="application/json"
 * id="chart-data-ID"> (the prefix keeps it apart from page elements named after the chart)
 * holding {type, labels, datasets: [{label, data}], money, percent}. The numbers are also
 * in a table on the page, so the chart is a picture of data the reader can reach anyway.
 */
(function () {
  "use strict";
  var palette = ["#b3261e", "#2f6db3", "#1d6b4f", "#8a4b00", "#6b3fa0", "#00838f", "#c2185b", "#5d6d1e",
                 "#37474f", "#ef6c00"];

  function colour(index, alpha) {
    var hex = palette[index % palette.length];
    var r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
    return "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
  }

  function draw(canvas) {
    if (typeof Chart === "undefined" || canvas.dataset.drawn) { return; }
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var spec;
    try { spec = JSON.parse(source.textContent); } catch (error) { return; }  // one bad chart spoils no other
    var round = spec.type === "pie" || spec.type === "doughnut";
    var datasets = spec.datasets.map(function (dataset, index) {
      var fill = round ? spec.labels.map(function (_label, item) { return colour(item, 0.8); }) : colour(index, 0.75);
      return {label: dataset.label, data: dataset.data, backgroundColor: fill,
              borderColor: round ? "#fff" : colour(index, 1), borderWidth: round ? 1 : 2,
              tension: 0.2, fill: false, yAxisID: dataset.axis || "y"};
    });
    var scales = {};
    if (!round) {
      scales = {y: {beginAtZero: true}};
      if (spec.datasets.some(function (dataset) { return dataset.axis === "y2"; })) {
        scales.y2 = {beginAtZero: true, position: "right", grid: {drawOnChartArea: false}};
      }
    }
    canvas.dataset.drawn = "1";
    new Chart(canvas, {
      type: spec.type,
      data: {labels: spec.labels, datasets: datasets},
      options: {responsive: true, maintainAspectRatio: false, animation: false, scales: scales,
                plugins: {legend: {display: round || datasets.length > 1, position: "bottom"}}}
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
