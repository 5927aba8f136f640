// The card page: tokenises the card at the acquirer with its publishable
// key (the card details never reach the gateway), asks the gateway to
// start the payment with the token, lets the acquirer's script (Stripe.js)
// run 3-D Secure when the bank asks for it, then waits for the outcome on
// the gateway's own page.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) { return; }
  var d = form.dataset;
  var status = document.getElementById("card-status");
  var button = document.getElementById("card-pay");
  function value(id) { return document.getElementById(id).value.replace(/\s+/g, ""); }
  function fail(message) {
    status.textContent = message;
    button.disabled = false;
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    status.textContent = d.working;
    var card = new URLSearchParams();
    card.set("card[number]", value("card-number"));
    card.set("card[exp_month]", value("card-month"));
    card.set("card[exp_year]", value("card-year"));
    card.set("card[cvc]", value("card-cvc"));
    card.set("key", d.pk);
    fetch(d.api + "/v1/tokens", { method: "POST", body: card })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (token) {
        if (!token.ok || !token.body.card || !token.body.card.id) { throw d.invalid; }
        var start = new URLSearchParams();
        start.set("csrf", d.csrf);
        start.set("payment_method", token.body.card.id);
        start.set("lang", d.lang);
        return fetch(d.start, {
          method: "POST", body: start, credentials: "same-origin",
          headers: { "Accept": "application/json" },
        });
      })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (started) {
        if (!started.ok) { throw started.body.message || d.failed; }
        var next = started.body;
        if (next.client_secret && window.Stripe) {
          // 3-D Secure, run by the acquirer's script; the outcome reaches
          // the gateway from the acquirer either way.
          return window.Stripe(d.pk).confirmCardPayment(next.client_secret)
            .then(function () { window.location.assign(next.wait_url); });
        }
        window.location.assign(next.wait_url);
      })
      .catch(function (message) { fail(typeof message === "string" ? message : d.failed); });
  });
})();
