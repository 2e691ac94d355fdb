/* Pipeline board: drag and drop with SortableJS on top of the no-JavaScript "Move…" form of each card.
 * A drop fills that card's form (stage, neighbours) and submits it through htmx: one POST, and the server answers
 * with the changed columns only (out-of-band swaps). Won/lost stages answer with a dialog asking for the amount or
 * the cause; cancelling it puts the card back where it was. A card changed by someone else since the board was
 * drawn answers 409 with its columns redrawn as they are now. */
(function () {
  "use strict";

  var lastDrag = null; // {item, from, oldIndex} of a drop waiting for the server or the close dialog
  var dialogDone = false;
  var focusDeal = null;

  function initLists(root) {
    if (typeof Sortable === "undefined" || !root.querySelectorAll) return;
    var lists = root.matches && root.matches(".board-cards") ? [root] : root.querySelectorAll(".board-cards");
    Array.prototype.forEach.call(lists, function (list) {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "deals",
        draggable: ".deal-card",
        sort: list.dataset.closed !== "1", // won/lost columns are ordered by closing date
        animation: 150,
        filter: "select, button, summary, input, textarea",
        preventOnFilter: false,
        ghostClass: "deal-card-ghost",
        chosenClass: "deal-card-chosen",
        dragClass: "deal-card-drag",
        onEnd: onDrop,
      });
    });
  }

  function onDrop(evt) {
    if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
    var item = evt.item;
    var form = item.querySelector("form.deal-move-form");
    if (!form) return;
    lastDrag = { item: item, from: evt.from, oldIndex: evt.oldIndex };
    var prev = item.previousElementSibling;
    var next = item.nextElementSibling;
    form.elements.stage.value = evt.to.dataset.stage;
    hidden(form, "before").value = next && next.dataset.deal ? next.dataset.deal : "";
    hidden(form, "after").value = prev && prev.dataset.deal ? prev.dataset.deal : "";
    item.classList.add("is-saving");
    dropLeftoverStyles();
    htmx.trigger(form, "submit");
  }

  // SortableJS animates cards through their style property and leaves style="" behind. htmx copies an old
  // element's attributes onto its swapped-in replacement, and setting a style attribute is what the
  // Content-Security-Policy forbids (style-src-attr): so the board drops those leftovers before each swap.
  function dropLeftoverStyles() {
    var board = document.querySelector(".board");
    if (!board) return;
    Array.prototype.forEach.call(board.querySelectorAll("[style]"), function (el) { el.removeAttribute("style"); });
  }

  function hidden(form, name) {
    // The neighbours of a drop; the form itself (the keyboard / no-JS path) does not send them.
    var input = form.elements[name];
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    return input;
  }

  function revertDrag() {
    if (!lastDrag) return;
    var item = lastDrag.item;
    var from = lastDrag.from;
    if (from.isConnected) {
      var ref = from.children[lastDrag.oldIndex] || null;
      from.insertBefore(item, ref);
    }
    item.classList.remove("is-saving");
    var form = item.querySelector("form.deal-move-form");
    if (form) {
      form.reset();
      ["before", "after"].forEach(function (name) { if (form.elements[name]) form.elements[name].value = ""; });
    }
    lastDrag = null;
  }

  function flash(text, kind) {
    var box = document.getElementById("messages");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "message message-" + (kind || "error");
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    div.textContent = text;
    box.appendChild(div);
    fadeLater(div);
  }

  function fadeLater(el) {
    if (el.dataset.fading) return;
    el.dataset.fading = "1";
    setTimeout(function () { el.remove(); }, 5000);
  }

  function text(key) {
    var form = document.getElementById("board-filters");
    return (form && form.dataset[key]) || key;
  }

  function dialog() { return document.getElementById("close-dialog"); }

  document.addEventListener("DOMContentLoaded", function () {
    htmx.onLoad(initLists);

    var dlg = dialog();
    if (dlg) {
      dlg.addEventListener("close", function () {
        if (!dialogDone) revertDrag();
        lastDrag = null;
        dialogDone = false;
        document.getElementById("close-dialog-body").innerHTML = "";
      });
      dlg.addEventListener("click", function (e) {
        if (e.target.closest("[data-dialog-cancel]")) { e.preventDefault(); dlg.close(); }
      });
    }

    document.body.addEventListener("pipeline-dialog-open", function () {
      var d = dialog();
      if (d && !d.open) d.showModal();
      var first = d && d.querySelector("select, input:not([type=hidden]), textarea");
      if (first) first.focus();
    });
    document.body.addEventListener("pipeline-dialog-close", function () {
      var d = dialog();
      dialogDone = true;
      if (d && d.open) d.close();
    });

    // A keyboard move through the card's own form keeps focus on that card once the columns are redrawn.
    document.body.addEventListener("htmx:beforeSwap", dropLeftoverStyles);  // an animation may have ended since
    document.body.addEventListener("htmx:oobBeforeSwap", dropLeftoverStyles);
    document.body.addEventListener("htmx:beforeRequest", function (e) {
      var form = e.detail.elt;
      if (form.classList && form.classList.contains("deal-move-form")) {
        focusDeal = form.closest(".deal-card") ? form.closest(".deal-card").dataset.deal : null;
        if (!lastDrag) focusDeal = "kbd:" + focusDeal;
      }
    });
    document.body.addEventListener("htmx:afterSettle", function () {
      Array.prototype.forEach.call(document.querySelectorAll("#messages .message"), fadeLater);
      if (focusDeal && focusDeal.indexOf("kbd:") === 0) {
        var card = document.getElementById("deal-" + focusDeal.slice(4));
        var link = card && card.querySelector(".deal-card-name");
        if (link) link.focus();
      }
      focusDeal = null;
      if (lastDrag && !(dialog() && dialog().open)) lastDrag = null; // the server redrew the columns
    });
    // 409: the deal changed since this page drew it. The answer is the card as it is now (its columns redrawn)
    // and a message, or the close form showing the current deal: swap it in like a success.
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      if (e.detail.xhr.status === 409) {
        e.detail.shouldSwap = true;
        e.detail.isError = false;
      }
    });
    document.body.addEventListener("htmx:responseError", function (e) {
      revertDrag();
      flash(e.detail.xhr.responseText || text("error"), "error");
    });
    document.body.addEventListener("htmx:sendError", function () {
      revertDrag();
      flash(text("offline"), "error");
    });

    // Suggest whose side a loss cause usually is on; the person closing can change it.
    document.body.addEventListener("change", function (e) {
      var select = e.target;
      if (select.name !== "cause") return;
      var form = select.form;
      if (!form || !form.dataset.causeSides || !form.elements.side) return;
      var sides = JSON.parse(form.dataset.causeSides);
      if (sides[select.value] && !form.elements.side.dataset.touched) form.elements.side.value = sides[select.value];
    });
    document.body.addEventListener("input", function (e) {
      if (e.target.name === "side") e.target.dataset.touched = "1";
    });
  });
})();
