// The only hand-written script: the log view's Copy button (CSP forbids inline handlers).
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.textContent;
  const done = function () { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { select(source); });
  } else {
    select(source);
  }
  function select(node) {
    // Without the clipboard API (plain http on a LAN address) select it for Ctrl-C.
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    button.textContent = "Selected: press Ctrl-C";
  }
});

// Live updates: the server says which job or server changed; htmx re-fetches that part.
(function () {
  if (!window.EventSource || !document.body.dataset.live) return;
  const source = new EventSource("/events");
  function refresh(selector, name) {
    document.querySelectorAll(selector).forEach(function (node) {
      if (node.dataset.name === name) htmx.trigger(node, "refresh");
    });
  }
  source.addEventListener("job", function (event) {
    refresh("[data-live-job]", JSON.parse(event.data));
  });
  source.addEventListener("server", function (event) {
    refresh("[data-live-server]", JSON.parse(event.data));
  });
})();
