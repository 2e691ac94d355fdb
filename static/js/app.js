/* Behaviour every page shares, kept out of the markup so that the Content-Security-Policy can forbid inline
 * scripts, handlers and style attributes (script-src 'self'; style-src 'self'):
 *   - computed sizes from data attributes, set through the CSSOM (which CSP allows):
 *       data-width-pct="42.5" → width: 42.5%     data-left-pct="30" → left: 30%
 *       data-height-px="260"  → height: 260px
 *   - <button data-print> prints the page;
 *   - <form data-confirm="Question?"> asks before it is sent;
 *   - a scrolling region with nothing focusable inside takes the focus (tabindex="0") while it scrolls;
 *   - a changed <select data-refresh-post="URL" data-refresh-target="#id"> posts its form there with
 *     action=refresh and swaps the answer in for #id (listening on the document, so a control HTMX has swapped in
 *     a moment ago and not yet processed still counts: a rule row changed as soon as it appears);
 *   - Escape in the header search closes its drop-down.
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

  // A region that scrolls (a wide table on a phone, the board) and holds no link or control of its own takes the
  // keyboard's focus while it scrolls, so the arrow keys can scroll it (WCAG 2.1.1; axe: scrollable-region-focusable).
  var SCROLLERS = ".table-wrap, table, .board, pre";
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  function scrolls(el) {
    var style = window.getComputedStyle(el);
    var sideways = /auto|scroll/.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    var down = /auto|scroll/.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    return sideways || down;
  }

  function focusableScrollers() {
    document.querySelectorAll(SCROLLERS).forEach(function (el) {
      var marked = el.hasAttribute("data-scroll-focus");
      if (scrolls(el) && !marked && !el.hasAttribute("tabindex") && !el.querySelector(FOCUSABLE)) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-scroll-focus", "");
      } else if (marked && !scrolls(el)) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-scroll-focus");
      }
    });
  }

  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!window.htmx || !el.dataset || !el.dataset.refreshPost) return;
    window.htmx.ajax("POST", el.dataset.refreshPost, {
      source: el.form, target: el.dataset.refreshTarget, swap: "outerHTML", values: { action: "refresh" },
    });
  });

  // The header search's drop-down: Escape empties it and keeps the focus in the box (the drop-down shows only
  // while it has content, static/css/app.css).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !e.target.closest || !e.target.closest(".topsearch")) return;
    var live = document.getElementById("search-live");
    if (live && live.firstElementChild) {
      live.replaceChildren();
      document.getElementById("topsearch-q").focus();
    }
  });

  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(focusableScrollers, 200);
  });

  applySizes(document);
  document.addEventListener("DOMContentLoaded", function () { applySizes(document); setUpNavToggle(); focusableScrollers(); });
  document.addEventListener("htmx:load", function (e) { applySizes(e.target); });
  document.addEventListener("htmx:afterSettle", focusableScrollers);
})();
