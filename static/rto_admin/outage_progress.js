// Live progress of an outage's rescheduling on its admin page (polls the progress URL).
(function () {
  "use strict";
  var box = document.getElementById("outage-progress");
  if (!box || !window.fetch || box.dataset.finished === "true") { return; }
  var bar = document.getElementById("outage-progress-bar");
  function set(id, value) { document.getElementById(id).textContent = value; }
  function show(data) {
    bar.max = data.bar_max;
    bar.value = data.bar_value;
    bar.textContent = data.percent + "%";
    var state = document.getElementById("progress-state");
    state.textContent = data.state_label;
    state.className = "state-" + data.state;
    set("progress-affected", data.affected);
    set("progress-moved", data.moved);
    set("progress-needs-new-slot", data.needs_new_slot);
    set("progress-notified", data.notified);
    set("progress-percent", data.percent + "%");
    document.getElementById("progress-error").hidden = !data.failed;
    set("progress-error-text", data.last_error);
    box.dataset.finished = data.finished ? "true" : "false";
    var undo = document.getElementById("outage-undo-form");
    if (undo && (data.finished || data.failed) && !data.resolved) {
      undo.hidden = false;
      var help = document.getElementById("outage-undo-help");
      if (help) { help.hidden = true; }
    }
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        show(data);
        if (!data.finished) { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();

// The undo button asks before it acts (no inline handler: the page's CSP forbids them);
// without JavaScript the form leads to a confirmation page instead.
(function () {
  "use strict";
  var undo = document.getElementById("outage-undo-form");
  if (!undo) { return; }
  undo.addEventListener("submit", function (event) {
    if (!window.confirm(undo.dataset.confirm)) { event.preventDefault(); return; }
    // Confirmed here: skip the confirmation page the form leads to without JavaScript.
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "yes";
    undo.appendChild(confirmed);
  });
})();
