/* Passkeys (WebAuthn) on the hosted pages: the one script they run, loaded with the page's CSP nonce.
 *
 * Contract with the templates (templates/_passkey.html):
 * - <form data-passkey="create|get" data-passkey-options="{JSON options}" hidden> with a hidden input
 *   name="credential": the ceremony runs when one of the form's [data-passkey-start] buttons is clicked
 *   (or, for "get" with data-passkey-conditional, on page load through conditional mediation, the
 *   browser offering the passkeys in the username field's autofill); the browser's answer, as JSON, goes
 *   in "credential" and the form is posted. No fetch: the server checks the answer against the challenge
 *   it kept.
 * - Elements with [data-passkey-only] are hidden until this script finds WebAuthn in the browser;
 *   elements with [data-passkey-absent] are shown when it does not; elements with [data-passkey-error]
 *   (role=alert) are shown when a ceremony fails or is cancelled, hiding any [data-passkey-server-error]
 *   (the server's message about an earlier attempt).
 * - Submitting the form (Enter in one of its fields) runs its ceremony rather than posting no answer.
 * Pages work without it: the passkey buttons never appear then.
 */
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    document.querySelectorAll("[data-passkey-absent]").forEach(function (el) {
      el.hidden = false;
    });
    return;
  }

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: toBytes(d.id) });
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function answer(credential) {
    if (typeof credential.toJSON === "function") {
      try {
        return JSON.stringify(credential.toJSON());
      } catch (e) {
        /* fall through to the manual encoding */
      }
    }
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    });
  }

  function showError() {
    document.querySelectorAll("[data-passkey-server-error]").forEach(function (el) {
      el.hidden = true; /* one message at a time: this attempt's */
    });
    document.querySelectorAll("[data-passkey-error]").forEach(function (el) {
      el.hidden = false;
    });
  }

  function post(form, credential) {
    form.querySelector('input[name="credential"]').value = answer(credential);
    form.submit();
  }

  var pendingConditional = null;

  function run(form, mediation) {
    var json = JSON.parse(form.getAttribute("data-passkey-options"));
    var kind = form.getAttribute("data-passkey");
    var call;
    if (kind === "create") {
      call = navigator.credentials.create({ publicKey: creationOptions(json) });
    } else {
      var request = { publicKey: requestOptions(json) };
      if (mediation) {
        pendingConditional = new AbortController();
        request.mediation = mediation;
        request.signal = pendingConditional.signal;
      }
      call = navigator.credentials.get(request);
    }
    return call.then(function (credential) {
      if (credential) {
        post(form, credential);
      }
    });
  }

  document.querySelectorAll("[data-passkey-only]").forEach(function (el) {
    el.hidden = false;
  });

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    /* Enter in a field of the form (e.g. the passkey's name) starts the ceremony instead of posting an empty answer;
       post() submits with form.submit(), which fires no submit event. */
    form.addEventListener("submit", function (event) {
      if (!form.querySelector('input[name="credential"]').value) {
        event.preventDefault();
        run(form, null).catch(showError);
      }
    });
    document.querySelectorAll('[data-passkey-start="' + form.id + '"]').forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        if (pendingConditional) {
          pendingConditional.abort();
          pendingConditional = null;
        }
        run(form, null).catch(showError);
      });
    });
    if (form.hasAttribute("data-passkey-conditional") && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) {
          run(form, "conditional").catch(function (error) {
            if (!error || error.name !== "AbortError") {
              showError();
            }
          });
        }
      });
    }
  });
})();
