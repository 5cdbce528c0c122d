// Kanban board: drag a card to another stage column; the move is posted to the same
// endpoint as the card's own move control. A closed stage asks for the close reason.
(function () {
  "use strict";
  const board = document.querySelector("[data-board]");
  if (!board) return;
  const status = document.getElementById("board-status");
  const dialog = document.getElementById("close-reason-dialog");
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  let dragged = null;

  function say(text) { if (status) status.textContent = text; }

  function askReason(stageName) {
    return new Promise(function (resolve) {
      if (!dialog || typeof dialog.showModal !== "function") { resolve(null); return; }
      dialog.querySelector("[data-stage-name]").textContent = stageName;
      const form = dialog.querySelector("form");
      form.reset();
      function finish(event) {
        event.preventDefault();
        form.removeEventListener("submit", finish);
        const cancelled = event.submitter && event.submitter.value === "cancel";
        dialog.close();
        resolve(cancelled ? null : { reason: form.close_reason.value, note: form.close_note.value });
      }
      form.addEventListener("submit", finish);
      dialog.showModal();
    });
  }

  async function move(card, column) {
    const stageKind = column.dataset.stageKind;
    const body = new URLSearchParams({ stage: column.dataset.stageId, version: card.dataset.version,
                                       csrfmiddlewaretoken: csrf });
    if (stageKind !== "open") {
      const answer = await askReason(column.dataset.stageName);
      if (!answer || !answer.reason) { say(board.dataset.textCancelled); return; }
      body.set("close_reason", answer.reason);
      body.set("close_note", answer.note || "");
    }
    const response = await fetch(card.dataset.moveUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf },
    });
    const result = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      say(result.detail || board.dataset.textFailed);
      return;
    }
    column.querySelector(".board-cards").appendChild(card);
    card.dataset.version = result.version;
    const select = card.querySelector("select[name=stage]");
    if (select) select.value = String(result.stage_id);
    const version = card.querySelector("input[name=version]");
    if (version) version.value = result.version;
    const probability = card.querySelector("[data-probability]");
    if (probability) probability.textContent = result.probability + " %";
    say(board.dataset.textMoved.replace("%(name)s", card.dataset.name).replace("%(stage)s", result.stage));
  }

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest(".board-card");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.opportunityId);
  });
  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    board.querySelectorAll(".drop-target").forEach(function (column) { column.classList.remove("drop-target"); });
    dragged = null;
  });
  board.addEventListener("dragover", function (event) {
    const column = event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    const column = event.target.closest(".board-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });
  board.addEventListener("drop", function (event) {
    const column = event.target.closest(".board-column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = dragged;
    if (card.closest(".board-column") === column) return;
    move(card, column);
  });
})();
