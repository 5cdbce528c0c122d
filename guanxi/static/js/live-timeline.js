/* Live timeline of the 360° page.
 *
 * Opens the notification socket (/ws/notifications/, guanxi/core/consumers.py),
 * subscribes to the contact shown ({"subscribe": "contact", "id": N}) and, when an
 * "interaction.created" event arrives, announces it in the polite live region and puts
 * the entry on top of the timeline without a reload. Text is inserted with textContent
 * only, never as HTML, so nothing in a pushed payload can run as script.
 */
(function () {
  "use strict";

  var list = document.getElementById("timeline-entries");
  if (!list || !list.dataset.liveContact || !("WebSocket" in window)) {
    return;
  }
  var contactId = parseInt(list.dataset.liveContact, 10);
  var onFirstPage = list.dataset.firstPage === "true";
  var notice = document.getElementById("timeline-notice");
  var labelsElement = document.getElementById("timeline-labels");
  var labels = labelsElement ? JSON.parse(labelsElement.textContent) : {};
  var retryDelay = 1000;
  var lang = document.documentElement.lang || undefined;

  function announce(text) {
    if (!notice) {
      return;
    }
    // Clearing first makes screen readers announce a repeated message again.
    notice.textContent = "";
    window.setTimeout(function () { notice.textContent = text; }, 50);
  }

  function format(template, values) {
    return (template || "").replace(/%\((\w+)\)s/g, function (match, name) {
      return values[name] !== undefined ? values[name] : match;
    });
  }

  function duration(seconds) {
    seconds = parseInt(seconds, 10) || 0;
    if (seconds <= 0) {
      return "";
    }
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var rest = seconds % 60;
    var pad = function (number) { return (number < 10 ? "0" : "") + number; };
    return hours ? hours + ":" + pad(minutes) + ":" + pad(rest) : minutes + ":" + pad(rest);
  }

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function line(label, value) {
    var paragraph = element("p");
    paragraph.textContent = label + ": " + value;
    return paragraph;
  }

  function entry(payload) {
    var item = element("li", "", "is-new");
    item.id = "interaction-" + payload.id;
    var article = element("article");
    var header = element("header");
    header.appendChild(element("strong", payload.channel_label));
    header.appendChild(element("span", payload.direction_label, "badge"));
    var time = element("time");
    time.dateTime = payload.occurred_at;
    time.textContent = new Date(payload.occurred_at).toLocaleString(lang);
    header.appendChild(time);
    if (payload.duration_seconds) {
      header.appendChild(element("span", (labels.duration || "") + " " + duration(payload.duration_seconds)));
    }
    var link = element("a", "#" + payload.id);
    link.href = "/interactions/" + encodeURIComponent(payload.id) + "/";
    header.appendChild(link);
    article.appendChild(header);
    if (payload.subject) {
      var subject = element("p");
      subject.appendChild(element("strong", payload.subject));
      article.appendChild(subject);
    }
    if (payload.reason) {
      article.appendChild(line(labels.reason, payload.reason));
    }
    if (payload.outcome) {
      article.appendChild(line(labels.outcome, payload.outcome));
    }
    if (payload.agent) {
      var agent = element("p");
      agent.appendChild(element("small", labels.agent + ": " + payload.agent));
      article.appendChild(agent);
    }
    item.appendChild(article);
    return item;
  }

  function received(message) {
    if (message.event !== "interaction.created" || !message.payload) {
      return;
    }
    var payload = message.payload;
    if (payload.contact_id !== contactId || document.getElementById("interaction-" + payload.id)) {
      return;
    }
    if (!onFirstPage) {
      announce(labels.newer_available);
      return;
    }
    list.insertBefore(entry(payload), list.firstChild);
    var empty = document.getElementById("timeline-empty");
    if (empty) {
      empty.remove();
    }
    announce(format(labels.new_interaction, {channel: payload.channel_label, direction: payload.direction_label}));
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/notifications/");
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      socket.send(JSON.stringify({subscribe: "contact", id: contactId}));
    });
    socket.addEventListener("message", function (event) {
      try {
        received(JSON.parse(event.data));
      } catch (error) {
        // A malformed frame is ignored; the next page load shows the timeline as stored.
      }
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401) {
        return; // signed out: nothing to reconnect to
      }
      if (retryDelay >= 30000) {
        announce(labels.unavailable);
      }
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 60000);
    });
  }

  connect();
})();
