// "Skan et": reads a notice's QR code with the camera (BarcodeDetector, else the vendored jsQR) or from a photo,
// and opens the result only when the code points to the official host's /v/ page (never a foreign address).
(function () {
  "use strict";

  var root = document.getElementById("scan");
  if (!root) { return; }
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var statusEl = document.getElementById("scan-status");
  var startBtn = document.getElementById("scan-start");
  var stopBtn = document.getElementById("scan-stop");
  var fileField = document.getElementById("scan-file-field");
  var fileInput = document.getElementById("scan-file");
  var officialHost = (root.getAttribute("data-official-host") || "").toLowerCase();
  var stream = null;
  var timer = null;
  var detector = null;
  var decoderPromise = null;

  function msg(name) { return root.getAttribute("data-msg-" + name) || ""; }

  function say(text, level) {
    statusEl.textContent = text;
    statusEl.className = "scan__status" + (level ? " scan__status--" + level : "");
  }

  function loadJsQR() {
    if (window.jsQR) { return Promise.resolve(window.jsQR); }
    if (!decoderPromise) {
      decoderPromise = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = root.getAttribute("data-decoder");
        script.onload = function () { resolve(window.jsQR); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return decoderPromise;
  }

  function getDetector() {
    if (detector !== null) { return Promise.resolve(detector); }
    if (!("BarcodeDetector" in window)) { detector = false; return Promise.resolve(false); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      detector = formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : false;
      return detector;
    }, function () { detector = false; return false; });
  }

  // The decoded text decides where to go: only this service's own /v/ page, on the official host.
  function handle(text) {
    var url;
    try { url = new URL(text); } catch (e) { return false; }
    var host = url.host.toLowerCase();
    if ((url.protocol === "https:" || url.protocol === "http:") && host === officialHost &&
        url.pathname.indexOf("/v/") === 0) {
      stop();
      say(msg("found"), "ok");
      window.location.assign(url.pathname);
      return true;
    }
    stop();
    say(msg("foreign") + " " + (host || text.slice(0, 80)), "err");
    return true;
  }

  function decodeFrom(source, width, height) {
    return getDetector().then(function (det) {
      if (det) {
        return det.detect(source).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      }
      return loadJsQR().then(function (jsQR) {
        canvas.width = width;
        canvas.height = height;
        var ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(source, 0, 0, width, height);
        var image = ctx.getImageData(0, 0, width, height);
        var code = jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
        return code ? code.data : null;
      });
    });
  }

  function tick() {
    if (!stream) { return; }
    if (video.readyState < 2 || !video.videoWidth) { timer = window.setTimeout(tick, 200); return; }
    decodeFrom(video, video.videoWidth, video.videoHeight).then(function (text) {
      if (text && handle(text)) { return; }
      if (stream) { timer = window.setTimeout(tick, 250); }
    }, function () { if (stream) { timer = window.setTimeout(tick, 500); } });
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { say(msg("nocamera"), "err"); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      startBtn.hidden = true;
      stopBtn.hidden = false;
      return video.play();
    }).then(function () {
      say(msg("looking"));
      tick();
    }, function () {
      stop();
      say(msg("nocamera"), "err");
    });
  }

  function stop() {
    if (timer) { window.clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.srcObject = null;
    video.hidden = true;
    stopBtn.hidden = true;
    startBtn.hidden = false;
  }

  function fromFile() {
    var file = fileInput.files && fileInput.files[0];
    if (!file) { return; }
    var img = new Image();
    var objectUrl = URL.createObjectURL(file);
    img.onload = function () {
      // Large photos are scaled down: decoding is faster and QR codes stay readable.
      var scale = Math.min(1, 1600 / Math.max(img.naturalWidth, img.naturalHeight));
      var w = Math.round(img.naturalWidth * scale);
      var h = Math.round(img.naturalHeight * scale);
      decodeFrom(scale === 1 ? img : scaled(img, w, h), w, h).then(function (text) {
        URL.revokeObjectURL(objectUrl);
        if (!text || !handle(text)) { say(msg("notfound"), "err"); }
      }, function () { URL.revokeObjectURL(objectUrl); say(msg("notfound"), "err"); });
    };
    img.onerror = function () { URL.revokeObjectURL(objectUrl); say(msg("notfound"), "err"); };
    img.src = objectUrl;
  }

  function scaled(img, w, h) {
    var c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    c.getContext("2d").drawImage(img, 0, 0, w, h);
    return c;
  }

  startBtn.hidden = false;
  fileField.hidden = false;
  say(msg("ready"));
  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", function () { stop(); say(msg("ready")); });
  fileInput.addEventListener("change", fromFile);
  window.addEventListener("pagehide", stop);
})();
