/* Behaviour every page shares, kept out of the markup so that the Content-Security-Policy can forbid inline
 * scripts, handlers and style attributes (script-src 'self'; style-src 'self'):
 *   - computed sizes from data attributes, set through the CSSOM (which CSP allows):
 *       data-width-pct="42.5" → width: 42.5%     data-left-pct="30" → left: 30%
 *       data-height-px="260"  → height: 260px
 *   - <button data-print> prints the page;
 *   - <form data-confirm="Question?"> asks before it is sent.
 * Runs on the first load and on every piece of content HTMX swaps in. */
(function () {
  "use strict";

  var SIZES = [
    ["widthPct", "width", "%"],
    ["leftPct", "left", "%"],
    ["heightPx", "height", "px"],
  ];

  function applySizes(root) {
    if (!root || !root.querySelectorAll) return;
    SIZES.forEach(function (size) {
      var attr = "data-" + size[0].replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); });
      var nodes = Array.prototype.slice.call(root.querySelectorAll("[" + attr + "]"));
      if (root.hasAttribute && root.hasAttribute(attr)) nodes.push(root);
      nodes.forEach(function (el) {
        var value = parseFloat(el.dataset[size[0]]);
        if (isFinite(value)) el.style.setProperty(size[1], value + size[2]);
      });
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-print]");
    if (button) {
      e.preventDefault();
      window.print();
    }
  });

  // The phone menu: the button is hidden until this script runs, so without JS the navigation stays visible.
  function setUpNavToggle() {
    var toggle = document.querySelector(".navtoggle");
    if (!toggle || !toggle.hidden) return;
    var topbar = toggle.closest(".topbar");
    toggle.hidden = false;
    topbar.classList.add("has-navtoggle");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      topbar.classList.toggle("nav-open", open);
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form && form.dataset ? form.dataset.confirm : "";
    if (question && !window.confirm(question)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  applySizes(document);
  document.addEventListener("DOMContentLoaded", function () { applySizes(document); setUpNavToggle(); });
  document.addEventListener("htmx:load", function (e) { applySizes(e.target); });
})();
