// The FPS page: asks the gateway every 2 seconds whether the payment has
// landed, and reloads the page (which then shows the receipt or the
// outcome) when it has. Without JavaScript, the "Check again" link does
// the same by hand.
(function () {
  "use strict";
  var print = document.getElementById("print-receipt");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
  var status = document.getElementById("pay-status");
  if (!status) { return; }
  var url = "/pay/" + encodeURIComponent(status.dataset.bill) +
    "/status?payment=" + encodeURIComponent(status.dataset.payment);
  var tries = 0;
  function check() {
    tries += 1;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.payment && s.payment !== "pending" && s.payment !== "created") {
          window.location.reload();
          return;
        }
        // About 20 minutes, longer than a code lives.
        if (tries < 600) { window.setTimeout(check, 2000); }
      })
      .catch(function () { window.setTimeout(check, 5000); });
  }
  window.setTimeout(check, 2000);
})();
