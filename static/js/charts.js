/* Draws every <canvas data-chart="…json…"> with the vendored Chart.js; re-runs after HTMX swaps.
   The JSON is Chart.js's own config ({type, data, options}); the server escapes it with json_script. */
(function () {
  "use strict";
  var palette = ["#1d4ed8", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#f97316", "#64748b", "#ec4899"];
  var font = 'system-ui, "Hiragino Sans", "Noto Sans JP", "Noto Sans CJK JP", Meiryo, sans-serif';

  function draw(root) {
    if (!window.Chart) return;
    Chart.defaults.font.family = font;
    Chart.defaults.maintainAspectRatio = false;
    (root || document).querySelectorAll("canvas[data-chart-id]").forEach(function (canvas) {
      if (canvas._chart) return;
      var source = document.getElementById(canvas.getAttribute("data-chart-id"));
      if (!source) return;
      var config = JSON.parse(source.textContent);
      (config.data.datasets || []).forEach(function (ds, i) {
        var color = ds.color || palette[i % palette.length];
        if (!ds.backgroundColor) ds.backgroundColor = config.type === "line" ? color + "33" : (ds.colors || color);
        if (!ds.borderColor) ds.borderColor = color;
        delete ds.color; delete ds.colors;
      });
      canvas._chart = new Chart(canvas, config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });
})();
