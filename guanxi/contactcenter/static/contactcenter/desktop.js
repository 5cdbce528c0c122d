/* Agent desktop.
 *
 * Listens on /ws/contact-center/desktop/ (guanxi/contactcenter/consumers.py): the screen
 * pop arrives as "contactcenter.offer" the moment a call rings at this agent; any other
 * change as "contactcenter.changed", after which the desktop re-reads
 * /api/v1/contact-center/desktop. Buttons act through the REST API with the session and
 * the CSRF token. Pushed text is inserted with textContent only, never as HTML.
 */
(function () {
  "use strict";

  var cards = document.getElementById("call-cards");
  if (!cards) {
    return;
  }
  var API = "/api/v1/contact-center";
  var labels = JSON.parse(document.getElementById("desk-labels").textContent);
  var dispositions = JSON.parse(document.getElementById("desk-dispositions").textContent);
  var stateForm = document.getElementById("state-form");
  var agentId = stateForm.dataset.agentId;
  var notice = document.getElementById("desk-notice");
  var errorBox = document.getElementById("desk-error");
  var noCalls = document.getElementById("no-calls");
  var transferOptions = document.getElementById("transfer-options");
  var calls = {};
  var retryDelay = 1000;

  function format(template, values) {
    return (template || "").replace(/%\((\w+)\)s/g, function (match, name) {
      return values[name] !== undefined ? values[name] : match;
    });
  }

  function announce(text) {
    notice.textContent = "";
    window.setTimeout(function () { notice.textContent = text; }, 50);
  }

  function showError(text) {
    errorBox.textContent = text || "";
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function api(method, path, body) {
    showError("");
    return fetch(API + path, {
      method: method,
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var reason = data.detail || response.statusText;
          if (data.errors) {
            reason += " " + Object.keys(data.errors).map(function (key) {
              return data.errors[key].join(" ");
            }).join(" ");
          }
          showError(format(labels.error, {reason: reason}));
          throw new Error(reason);
        }
        return data;
      });
    });
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null && text !== "") {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function button(text, onClick, className) {
    var node = element("button", text, className);
    node.type = "button";
    node.addEventListener("click", function () {
      node.disabled = true;
      Promise.resolve(onClick()).catch(function () { /* shown in the error box */ }).finally(function () {
        node.disabled = false;
      });
    });
    return node;
  }

  function row(list, term, value) {
    if (value === undefined || value === null || value === "") {
      return;
    }
    list.appendChild(element("dt", term));
    list.appendChild(element("dd", String(value)));
  }

  function customerBlock(card, pop) {
    var customer = pop.customer || {};
    var facts = element("dl");
    row(facts, "☎", pop.ani);
    if (customer.known) {
      row(facts, labels.account, customer.account);
      if (customer.value_tier_label) {
        facts.appendChild(element("dt", labels.value_tier));
        var tier = element("dd");
        tier.appendChild(element("span", customer.value_tier_label, "tier tier-" + customer.value_tier));
        facts.appendChild(tier);
      }
      row(facts, labels.lifecycle, customer.lifecycle_stage);
      row(facts, labels.interactions, customer.interactions);
    } else if (customer.matches > 1) {
      row(facts, "", format(labels.matches, {count: customer.matches}));
    }
    row(facts, labels.queue, pop.queue);
    if (pop.waited_seconds !== null && pop.waited_seconds !== undefined) {
      row(facts, labels.waited, Math.round(pop.waited_seconds) + " " + labels.seconds);
    }
    card.appendChild(facts);
    var links = element("p");
    if (customer.known) {
      var open = element("a", labels.open_360);
      open.href = customer.url;
      open.target = "_blank";
      open.rel = "noopener";
      links.appendChild(open);
    } else if (customer.create_url) {
      var create = element("a", labels.create_contact);
      create.href = customer.create_url;
      create.setAttribute("role", "button");
      create.className = "secondary";
      links.appendChild(create);
    }
    card.appendChild(links);
    if (customer.recent && customer.recent.length) {
      card.appendChild(element("h3", labels.recent));
      var recent = element("ul");
      customer.recent.forEach(function (item) {
        recent.appendChild(element("li", new Date(item.at).toLocaleDateString() + " · " + item.channel +
          (item.subject ? " · " + item.subject : "") + (item.outcome ? " → " + item.outcome : "")));
      });
      card.appendChild(recent);
    }
    (customer.sections || []).forEach(function (section) {
      card.appendChild(element("h3", section.title));
      var list = element("ul");
      (section.items || []).forEach(function (item) {
        var entry = element("li");
        if (item.url) {
          var link = element("a", item.label);
          link.href = item.url;
          entry.appendChild(link);
        } else {
          entry.appendChild(element("span", item.label));
        }
        if (item.detail) {
          entry.appendChild(element("span", " · " + item.detail));
        }
        list.appendChild(entry);
      });
      card.appendChild(list);
    });
  }

  function ivrBlock(card, pop) {
    if (!pop.ivr || !pop.ivr.length) {
      return;
    }
    card.appendChild(element("h3", labels.ivr));
    var list = element("dl", "", "ivr-data");
    pop.ivr.forEach(function (item) { row(list, item.label, item.value); });
    card.appendChild(list);
  }

  function scriptsBlock(card, pop) {
    if (!pop.scripts || !pop.scripts.length) {
      return;
    }
    var details = element("details");
    details.appendChild(element("summary", labels.scripts));
    pop.scripts.forEach(function (script) {
      details.appendChild(element("h4", script.name));
      details.appendChild(element("p", script.body, "script-body"));
    });
    card.appendChild(details);
  }

  function dispositionForm(callId, scripts) {
    var form = element("form", "", "disposition-form");
    var selectId = "disposition-" + callId;
    var label = element("label", labels.disposition);
    label.htmlFor = selectId;
    var select = element("select");
    select.id = selectId;
    select.appendChild(element("option", "—"));
    select.options[0].value = "";
    dispositions.forEach(function (item) {
      var option = element("option", item.label);
      option.value = item.id;
      select.appendChild(option);
    });
    var notesId = "notes-" + callId;
    var notesLabel = element("label", labels.notes);
    notesLabel.htmlFor = notesId;
    var notes = element("textarea");
    notes.id = notesId;
    notes.rows = 3;
    form.appendChild(label);
    form.appendChild(select);
    form.appendChild(notesLabel);
    form.appendChild(notes);
    var save = element("button", labels.save);
    save.type = "submit";
    form.appendChild(save);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {notes: notes.value};
      if (select.value) {
        body.disposition_id = parseInt(select.value, 10);
      }
      if (scripts && scripts.length) {
        body.script_id = scripts[0].id;
      }
      save.disabled = true;
      api("POST", "/calls/" + callId + "/disposition", body).then(function () {
        announce(labels.saved);
        return refresh();
      }).catch(function () {}).finally(function () { save.disabled = false; });
    });
    return form;
  }

  function actionsBlock(card, pop) {
    var actions = element("div", "", "call-actions");
    var id = pop.call_id;
    if (pop.state === "ringing") {
      actions.appendChild(button(labels.answer, function () {
        return api("POST", "/calls/" + id + "/answer").then(refresh);
      }));
      actions.appendChild(button(labels.decline, function () {
        return api("POST", "/calls/" + id + "/decline").then(refresh);
      }, "secondary"));
    } else if (pop.state === "connected" || pop.state === "held") {
      if (pop.state === "connected") {
        actions.appendChild(button(labels.hold, function () {
          return api("POST", "/calls/" + id + "/hold").then(refresh);
        }, "secondary"));
      } else {
        actions.appendChild(button(labels.unhold, function () {
          return api("POST", "/calls/" + id + "/unhold").then(refresh);
        }, "secondary"));
      }
      actions.appendChild(button(labels.hangup, function () {
        return api("POST", "/calls/" + id + "/hangup").then(refresh);
      }, "contrast"));
      var queueSelect = element("select");
      queueSelect.setAttribute("aria-label", labels.transfer_queue);
      queueSelect.appendChild(element("option", labels.transfer_queue));
      queueSelect.options[0].value = "";
      Array.prototype.forEach.call(transferOptions.content.children, function (option) {
        queueSelect.appendChild(option.cloneNode(true));
      });
      var number = element("input");
      number.type = "tel";
      number.placeholder = labels.transfer_number;
      number.setAttribute("aria-label", labels.transfer_number);
      actions.appendChild(queueSelect);
      actions.appendChild(number);
      actions.appendChild(button(labels.transfer, function () {
        var body = queueSelect.value ? {queue_id: parseInt(queueSelect.value, 10)} : {number: number.value};
        return api("POST", "/calls/" + id + "/transfer", body).then(refresh);
      }, "secondary"));
      actions.appendChild(button(labels.conference, function () {
        return api("POST", "/calls/" + id + "/conference", {number: number.value}).then(function () {
          announce(labels.saved);
        });
      }, "outline secondary"));
    }
    card.appendChild(actions);
    if (pop.state === "connected" || pop.state === "held") {
      card.appendChild(dispositionForm(id, pop.scripts));
    }
  }

  function card(pop) {
    var article = element("article", "", "call-card" + (pop.state === "ringing" ? " is-ringing" : ""));
    article.id = "call-" + pop.call_id;
    article.dataset.callId = pop.call_id;
    article.dataset.state = pop.state;
    var header = element("header");
    var customer = pop.customer || {};
    header.appendChild(element("h2", customer.known ? customer.name : labels.unknown_caller));
    header.appendChild(element("span", pop.state_label, "badge"));
    article.appendChild(header);
    customerBlock(article, pop);
    ivrBlock(article, pop);
    actionsBlock(article, pop);
    scriptsBlock(article, pop);
    return article;
  }

  // Cards are rebuilt on every push; what the agent has chosen or typed (disposition,
  // notes) and where the focus was survive the rebuild.
  function keepingInput(container, rebuild) {
    var kept = {};
    container.querySelectorAll("select[id], textarea[id], input[id]").forEach(function (field) {
      kept[field.id] = field.value;
    });
    var focused = document.activeElement && container.contains(document.activeElement) ? document.activeElement.id : "";
    rebuild();
    Object.keys(kept).forEach(function (id) {
      var field = document.getElementById(id);
      if (field && kept[id] !== "" && container.contains(field)) {
        field.value = kept[id];
      }
    });
    if (focused && document.getElementById(focused)) {
      document.getElementById(focused).focus();
    }
  }

  function render() {
    var ids = Object.keys(calls);
    keepingInput(cards, function () {
      while (cards.firstChild) {
        cards.removeChild(cards.firstChild);
      }
      ids.forEach(function (id) { cards.appendChild(card(calls[id])); });
    });
    noCalls.hidden = ids.length > 0;
  }

  function renderToFinish(items) {
    var list = document.getElementById("to-finish");
    keepingInput(list, function () {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      items.forEach(function (item) {
        var entry = element("li", "", "to-finish-item");
        entry.id = "finish-" + item.call_id;
        entry.appendChild(element("strong", (item.customer || labels.unknown_caller) + " · " + item.ani));
        entry.appendChild(dispositionForm(item.call_id, []));
        list.appendChild(entry);
      });
    });
    document.getElementById("to-finish-section").hidden = !items.length;
  }

  function setCalls(list) {
    calls = {};
    (list || []).forEach(function (pop) { calls[pop.call_id] = pop; });
    render();
  }

  function showState(agent) {
    var badge = document.getElementById("agent-state");
    badge.className = "state-badge state-" + agent.state;
    badge.dataset.state = agent.state;
    badge.textContent = agent.state_label;
  }

  function refresh() {
    return api("GET", "/desktop").then(function (data) {
      showState(data.agent);
      dispositions = data.dispositions;
      setCalls(data.calls);
      renderToFinish(data.to_finish);
    });
  }

  stateForm.addEventListener("click", function (event) {
    var target = event.target.closest("button[data-state]");
    if (!target) {
      return;
    }
    var body = {state: target.dataset.state};
    if (body.state === "away") {
      body.reason = document.getElementById("away-reason").value;
    }
    api("POST", "/agents/" + agentId + "/state", body).then(function (agent) {
      return refresh().then(function () {
        announce(format(labels.state_changed, {state: document.getElementById("agent-state").textContent}));
      });
    }).catch(function () {});
  });

  function received(message) {
    if (message.event === "contactcenter.calls") {
      setCalls(message.payload.calls);
    } else if (message.event === "contactcenter.offer") {
      var pop = message.payload;
      calls[pop.call_id] = pop;
      render();
      var customer = pop.customer || {};
      announce(format(labels.call_arrived, {caller: customer.known ? customer.name : pop.ani}));
    } else if (message.event === "contactcenter.changed") {
      refresh().catch(function () {});
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/contact-center/desktop/");
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      cards.dataset.connected = "true";
    });
    socket.addEventListener("message", function (event) {
      try {
        received(JSON.parse(event.data));
      } catch (error) {
        // A malformed frame is ignored; the next change re-reads the desktop.
      }
    });
    socket.addEventListener("close", function (event) {
      cards.dataset.connected = "false";
      if (event.code === 4401 || event.code === 4403) {
        return;
      }
      if (retryDelay >= 30000) {
        showError(labels.live_paused);
      }
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 60000);
    });
  }

  setCalls(JSON.parse(document.getElementById("desk-calls").textContent));
  renderToFinish(JSON.parse(document.getElementById("desk-to-finish").textContent));
  if ("WebSocket" in window) {
    connect();
  }
})();
