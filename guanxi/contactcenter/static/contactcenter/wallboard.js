/* Supervisor wallboard: renders the snapshot of selectors.wallboard_snapshot and renders it
 * again whenever /ws/contact-center/wallboard/ pushes a new one. Text only, no HTML. */
(function () {
  "use strict";

  var totals = document.getElementById("wallboard-totals");
  if (!totals) {
    return;
  }
  var stateLabels = JSON.parse(document.getElementById("wallboard-state-labels").textContent);
  var labels = JSON.parse(document.getElementById("wallboard-labels").textContent);
  var lang = document.documentElement.lang || undefined;
  var retryDelay = 1000;

  function percent(value) {
    return value === null || value === undefined ? labels.none : (value * 100).toFixed(1) + "%";
  }

  function duration(value) {
    if (value === null || value === undefined) {
      return labels.none;
    }
    var seconds = Math.round(value);
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  var formats = {
    service_level: percent, service_level_offered: percent, service_level_2: percent, abandon_rate: percent,
    occupancy: percent, average_speed_of_answer: duration, average_handle_time: duration, longest_wait: duration
  };

  function show(name, value) {
    var format = formats[name];
    return format ? format(value) : (value === null || value === undefined ? labels.none : String(value));
  }

  function cell(row, text, header) {
    var node = document.createElement(header ? "th" : "td");
    if (header) {
      node.scope = "row";
    }
    node.textContent = text;
    row.appendChild(node);
    return node;
  }

  function render(snapshot) {
    var total = snapshot.total || {};
    Array.prototype.forEach.call(totals.querySelectorAll("[data-figure]"), function (node) {
      var name = node.dataset.figure;
      node.textContent = show(name, total[name]);
      node.classList.remove("figure-good", "figure-bad");
    });
    var queueBody = document.querySelector("#wallboard-queues tbody");
    queueBody.textContent = "";
    (snapshot.queues || []).forEach(function (queue) {
      var row = document.createElement("tr");
      row.dataset.queue = queue.code;
      cell(row, queue.name, true);
      ["waiting", "longest_wait", "offered", "answered", "abandoned", "service_level", "service_level_offered",
       "service_level_2", "average_speed_of_answer", "abandon_rate", "average_handle_time"].forEach(function (name) {
        var node = cell(row, show(name, queue[name]));
        node.dataset.figure = name;
        if (name === "service_level" && queue.service_level !== null && queue.service_level !== undefined) {
          node.classList.add(queue.service_level * 100 >= queue.goal ? "figure-good" : "figure-bad");
        }
      });
      queueBody.appendChild(row);
    });
    var states = snapshot.agent_states || {};
    document.getElementById("wallboard-agent-states").textContent = Object.keys(states).filter(function (state) {
      return states[state];
    }).map(function (state) {
      return (stateLabels[state] || state) + ": " + states[state];
    }).join(" · ");
    var agentBody = document.querySelector("#wallboard-agents tbody");
    agentBody.textContent = "";
    (snapshot.agents || []).forEach(function (agent) {
      var row = document.createElement("tr");
      row.dataset.state = agent.state;
      cell(row, agent.name, true);
      cell(row, agent.state_label + (agent.away_reason ? " · " + agent.away_reason : ""));
      cell(row, new Date(agent.since).toLocaleTimeString(lang));
      agentBody.appendChild(row);
    });
    var updated = document.getElementById("wallboard-updated");
    updated.textContent = labels.updated.replace("%(time)s", new Date(snapshot.at).toLocaleTimeString(lang));
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/contact-center/wallboard/");
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      totals.dataset.connected = "true";
    });
    socket.addEventListener("message", function (event) {
      try {
        var message = JSON.parse(event.data);
        if (message.event === "contactcenter.wallboard") {
          render(message.payload);
        }
      } catch (error) {
        // ignored: the next snapshot replaces everything
      }
    });
    socket.addEventListener("close", function (event) {
      totals.dataset.connected = "false";
      if (event.code === 4401 || event.code === 4403) {
        return;
      }
      if (retryDelay >= 30000) {
        document.getElementById("wallboard-updated").textContent = labels.live_paused;
      }
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 60000);
    });
  }

  render(JSON.parse(document.getElementById("wallboard-snapshot").textContent));
  if ("WebSocket" in window) {
    connect();
  }
})();
