// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  function showToast(message, level) {
    var region = document.getElementById("toasts");
    if (!region || !message) { return; }
    var toast = document.createElement("p");
    toast.className = "toast toast--" + (level || "success");
    var icon = document.createElement("span");
    icon.className = "alert__icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = level === "error" ? "!" : "\u2714";
    toast.appendChild(icon);
    toast.appendChild(document.createTextNode(" " + message));
    region.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, 6000);
  }

  document.addEventListener("showToast", function (event) {
    var detail = event.detail || {};
    showToast(detail.message, detail.level);
  });

  // After a fragment swap, move focus to the first error so screen readers and keyboards land on it;
  // otherwise to the title of a new wizard step, so reading and Tab continue from there.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.target;
    if (!target || !target.querySelector || !document.body.contains(target)) { return; }
    var invalid = target.querySelector("[aria-invalid='true']");
    if (invalid) { invalid.focus(); return; }
    var title = target.querySelector("[data-step-title]");
    if (title) { title.focus(); }
  });

  // Busy state for every request the person waits for: the page shows a progress bar (CSS delays it, so quick
  // swaps never flash it) and the region being replaced is aria-busy. Polling is not waiting.
  var pending = 0;
  function isPolling(elt) {
    var trigger = (elt && elt.getAttribute && elt.getAttribute("hx-trigger")) || "";
    return trigger.indexOf("every ") === 0;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var detail = event.detail || {};
    if (isPolling(detail.elt)) { return; }
    pending += 1;
    document.documentElement.classList.add("is-busy");
    if (detail.target && detail.target.setAttribute && detail.target !== document.body) {
      detail.target.setAttribute("aria-busy", "true");
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail || {};
    if (isPolling(detail.elt)) { return; }
    pending = Math.max(0, pending - 1);
    if (pending === 0) { document.documentElement.classList.remove("is-busy"); }
    if (detail.target && detail.target.removeAttribute) { detail.target.removeAttribute("aria-busy"); }
  });
})();
