/* Phone simulator: places a call through /api/v1/contact-center/simulator, shows what the
 * IVR says, sends the keys pressed, and follows the call once it queues. Text only. */
(function () {
  "use strict";

  var dialForm = document.getElementById("dial-form");
  if (!dialForm) {
    return;
  }
  var API = "/api/v1/contact-center";
  var labels = JSON.parse(document.getElementById("sim-labels").textContent);
  var inCall = document.getElementById("in-call");
  var transcript = document.getElementById("transcript");
  var status = document.getElementById("call-status");
  var errorBox = document.getElementById("sim-error");
  var keys = document.getElementById("keys");
  var callId = null;
  var follow = null;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function api(method, path, body) {
    errorBox.textContent = "";
    return fetch(API + path, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var reason = data.detail || response.statusText;
          if (data.errors) {
            reason += " " + Object.keys(data.errors).map(function (key) { return data.errors[key].join(" "); }).join(" ");
          }
          errorBox.textContent = labels.error.replace("%(reason)s", reason);
          throw new Error(reason);
        }
        return data;
      });
    });
  }

  function showTranscript(entries) {
    transcript.textContent = "";
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      if (entry.say) {
        item.textContent = labels.ivr + ": " + entry.say;
      } else if (Object.prototype.hasOwnProperty.call(entry, "keys")) {
        item.textContent = labels.caller + ": " + (entry.keys || labels.no_input);
      } else {
        return;
      }
      transcript.appendChild(item);
    });
    transcript.scrollTop = transcript.scrollHeight;
  }

  function showCall(call) {
    var text = "";
    if (call.state === "queued") {
      text = labels.queued;
    } else if (call.state === "ringing") {
      text = labels.ringing;
    } else if (call.state === "connected" || call.state === "held") {
      text = labels.connected.replace("%(agent)s", call.agent_id ? "#" + call.agent_id : "");
    } else if (call.state === "ended") {
      text = labels.ended.replace("%(reason)s", call.end_reason);
    }
    status.textContent = text;
    status.dataset.state = call.state;
    document.getElementById("keys-form").hidden = call.state !== "ivr";
    if (call.state === "ended" && follow) {
      window.clearInterval(follow);
      follow = null;
    }
  }

  function update(data) {
    callId = data.call.id;
    inCall.hidden = false;
    showTranscript(data.transcript);
    showCall(data.call);
    if (!data.waiting_for_keys && data.call.state !== "ended" && !follow) {
      follow = window.setInterval(function () {
        api("GET", "/calls/" + callId).then(showCall).catch(function () {});
      }, 1000);
    }
    keys.value = "";
    if (data.waiting_for_keys) {
      keys.focus();
    }
  }

  dialForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (follow) {
      window.clearInterval(follow);
      follow = null;
    }
    api("POST", "/simulator/calls", {
      ani: document.getElementById("id_ani").value, dnis: document.getElementById("id_dnis").value
    }).then(update).catch(function () {});
  });

  document.getElementById("keys-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/simulator/calls/" + callId + "/keys", {digits: keys.value}).then(update).catch(function () {});
  });

  document.getElementById("no-input").addEventListener("click", function () {
    api("POST", "/simulator/calls/" + callId + "/keys", {no_input: true}).then(update).catch(function () {});
  });

  document.getElementById("hang-up").addEventListener("click", function () {
    api("POST", "/simulator/calls/" + callId + "/hangup").then(update).catch(function () {});
  });

  Array.prototype.forEach.call(document.querySelectorAll(".keypad [data-key]"), function (key) {
    key.addEventListener("click", function () { keys.value += key.dataset.key; keys.focus(); });
  });
})();
