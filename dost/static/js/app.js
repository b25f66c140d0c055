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

  // After a fragment swap, move focus to the first error so screen readers and keyboards land on it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.querySelector) { return; }
    var invalid = target.querySelector("[aria-invalid='true']");
    if (invalid) { invalid.focus(); }
  });
})();
