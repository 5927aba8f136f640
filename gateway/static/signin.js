// Passkey sign-in and registration for the gateway's sign-in page.
// No third-party code: WebAuthn through the browser, JSON to the gateway.
"use strict";
(function () {
  const box = document.getElementById("signin-box");
  if (!box) return;
  const status = document.getElementById("status");
  const error = document.getElementById("error");
  const buttons = box.querySelectorAll("button");
  const msg = (name) => box.dataset["msg" + name];

  const enc = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const dec = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(json.error || "failed");
    return json;
  }

  function busy(on) {
    buttons.forEach((b) => { b.disabled = on; });
    status.textContent = on ? msg("Working") : "";
    if (on) error.textContent = "";
  }

  function done() {
    const flow = box.dataset.flow;
    if (box.dataset.after === "reload") {
      window.location.reload();
    } else if (flow) {
      window.location.assign("/signin/continue?flow=" + encodeURIComponent(flow));
    } else {
      status.textContent = msg("SignedIn");
    }
  }

  function fail(e) {
    busy(false);
    error.textContent = e && e.name === "NotAllowedError" ? msg("Cancelled") : msg("Failed");
  }

  async function register() {
    stopConditional();
    busy(true);
    try {
      const begin = await post("/signin/passkey/register/begin", {});
      const pk = begin.options.publicKey;
      pk.challenge = dec(pk.challenge);
      pk.user.id = dec(pk.user.id);
      (pk.excludeCredentials || []).forEach((c) => { c.id = dec(c.id); });
      const credential = await navigator.credentials.create({ publicKey: pk });
      await post("/signin/passkey/register/finish", {
        ceremony: begin.ceremony,
        name: navigator.platform || "",
        credential: {
          id: credential.id,
          rawId: enc(credential.rawId),
          type: credential.type,
          extensions: {},
          response: {
            attestationObject: enc(credential.response.attestationObject),
            clientDataJSON: enc(credential.response.clientDataJSON),
          },
        },
      });
      done();
    } catch (e) {
      fail(e);
    }
  }

  // Conditional UI: where the browser offers it, passkeys also appear in
  // the suggestions of the field marked `autocomplete="username webauthn"`.
  // A button press cancels that quiet request first.
  let conditional = null;
  function stopConditional() {
    if (conditional) conditional.abort();
    conditional = null;
  }

  async function getAndFinish(mediation) {
    // Made before the first await, so that a button press during `begin`
    // already cancels this request.
    const controller = mediation ? new AbortController() : null;
    if (controller) conditional = controller;
    const begin = await post("/signin/passkey/begin", {});
    const pk = begin.options.publicKey;
    pk.challenge = dec(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = dec(c.id); });
    const request = { publicKey: pk };
    if (controller) {
      request.mediation = mediation;
      request.signal = controller.signal;
    }
    const credential = await navigator.credentials.get(request);
    if (mediation) busy(true);
    await finish(begin, credential);
  }

  async function conditionalSignIn() {
    const field = document.getElementById("autofill");
    if (!field || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable().catch(() => false))) return;
    field.hidden = false;
    try {
      await getAndFinish("conditional");
      done();
    } catch (e) {
      if (e && e.name !== "AbortError") fail(e);
    }
  }

  async function signIn() {
    stopConditional();
    busy(true);
    try {
      await getAndFinish(null);
      done();
    } catch (e) {
      fail(e);
    }
  }

  async function finish(begin, credential) {
    const r = credential.response;
    await post("/signin/passkey/finish", {
      ceremony: begin.ceremony,
      credential: {
        id: credential.id,
        rawId: enc(credential.rawId),
        type: credential.type,
        extensions: {},
        response: {
          authenticatorData: enc(r.authenticatorData),
          clientDataJSON: enc(r.clientDataJSON),
          signature: enc(r.signature),
          userHandle: r.userHandle ? enc(r.userHandle) : null,
        },
      },
    });
  }

  // Smart ID card through the card-reader app on this computer: the
  // gateway's challenge goes to the app, which signs it with the card's
  // key; the signature and the card's certificates go back to the gateway.
  const helperButton = document.getElementById("card-helper");
  async function cardHelper() {
    stopConditional();
    busy(true);
    helperButton.disabled = true;
    try {
      const challenge = await post("/signin/card/challenge", { intent: box.dataset.intent || "sign_in" });
      let answer;
      try {
        const response = await fetch(box.dataset.helper.replace(/\/$/, "") + "/v1/sign", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ origin: challenge.origin, to_be_signed: challenge.to_be_signed, algorithms: challenge.algorithms }),
        });
        if (!response.ok) throw new Error("helper");
        answer = await response.json();
      } catch (e) {
        throw Object.assign(new Error("helper"), { helper: true });
      }
      const result = await post("/signin/card/finish", {
        ceremony: challenge.ceremony,
        algorithm: answer.algorithm,
        signature: answer.signature,
        certificates: answer.certificates,
      });
      if (box.dataset.after === "reload") {
        window.location.assign(window.location.pathname + "?card=" + encodeURIComponent(result.status));
      } else if (box.dataset.flow) {
        done();
      } else {
        window.location.assign("/account/passkeys?card=signed_in");
      }
    } catch (e) {
      busy(false);
      helperButton.disabled = false;
      error.textContent = e && e.helper ? msg("HelperMissing") : msg("CardFailed");
    }
  }
  if (helperButton && box.dataset.helper) helperButton.addEventListener("click", cardHelper);

  if (!window.PublicKeyCredential) {
    error.textContent = msg("Unsupported");
    buttons.forEach((b) => { b.disabled = true; });
    return;
  }
  const registerButton = document.getElementById("register");
  const signInButton = document.getElementById("signin");
  if (registerButton) registerButton.addEventListener("click", register);
  if (signInButton) {
    signInButton.addEventListener("click", signIn);
    conditionalSignIn();
  }
})();
