// Questions from the audience (rooms/PROTOCOL.md, "Questions"): listeners ask; hosts and co-hosts see every
// question live, upvote, pin one to the stage and mark them answered; everyone sees the pinned and answered ones.

import { el } from "./dom.js";

const root = document.getElementById("room");
const myId = Number(root.dataset.user);
const $ = (id) => document.getElementById(id);
const form = $("ask-form");
const input = $("ask-text");
const errorBox = $("ask-error");

const questions = new Map();
let can = new Set(); // the message types this socket may send (from room.js's `welcome` and `permissions`)
let blocked = new Set();

const send = (message) => window.spacesRoom?.send(message);
// Whoever may pin a question sees every question live (the hosts and co-hosts).
const managing = () => can.has("pin_question");

function button(label, type, question, secondary = true) {
  const node = el("button", { type: "button", textContent: label, className: secondary ? "secondary small-button" : "small-button" });
  node.dataset.question = question.id;
  node.dataset.questionAct = type;
  return node;
}

function state(question) {
  if (question.answered) return "Answered";
  if (question.pinned) return "On the stage";
  return "";
}

// Open questions first, the most upvoted on top, then by when they were asked; answered ones last.
function order(a, b) {
  if (a.answered !== b.answered) return a.answered ? 1 : -1;
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if (managing() && a.votes !== b.votes) return b.votes - a.votes;
  return Date.parse(a.asked_at) - Date.parse(b.asked_at);
}

function row(question) {
  const li = el("li", { className: "question" });
  li.dataset.question = question.id;
  if (question.pinned) li.dataset.pinned = "true";
  if (question.answered) li.dataset.answered = "true";
  const who = question.author_id === myId ? "You" : `${question.name} (@${question.username})`;
  li.append(el("p", { className: "question-text", textContent: question.text }),
    el("p", { className: "small muted question-meta" }, `${who} asked`, ...(managing() ? [` · ${question.votes} upvote${question.votes === 1 ? "" : "s"}`] : [])));
  const label = state(question);
  if (label) li.append(el("span", { className: `tag question-state${question.answered ? " answered" : " pinned"}`, textContent: label }));
  if (managing() && !question.answered) {
    const actions = el("span", { className: "actions" });
    if (!question.voter_ids.includes(myId)) actions.append(button("Upvote", "upvote_question", question));
    actions.append(question.pinned ? button("Take off the stage", "unpin_question", question) : button("Pin to the stage", "pin_question", question, false));
    actions.append(button("Mark answered", "answer_question", question));
    li.append(actions);
  }
  return li;
}

function render() {
  const visible = [...questions.values()].filter((q) => !blocked.has(q.author_id)).sort(order);
  $("questions").replaceChildren(...visible.map(row));
  $("questions-empty").hidden = visible.length > 0;
  $("question-count").textContent = visible.filter((q) => !q.answered).length;
  const pinned = visible.find((q) => q.pinned);
  const stage = $("stage-question");
  stage.hidden = !pinned;
  stage.replaceChildren(...(pinned ? [el("span", { className: "stage-question-label", textContent: `Question from @${pinned.username}` }),
    el("p", { className: "stage-question-text", textContent: pinned.text })] : []));
}

// A question someone else asked that is no longer pinned or answered is the hosts' business only.
function hide(id) {
  const question = questions.get(id);
  if (question && question.author_id !== myId && !managing()) questions.delete(id);
}

root.addEventListener("room:event", ({ detail: event }) => {
  switch (event.type) {
    case "welcome":
      can = new Set(event.can);
      blocked = new Set(event.blocked_ids || []);
      send({ type: "list_questions" });
      return;
    case "permissions": {
      const was = managing();
      can = new Set(event.can);
      if (was !== managing()) send({ type: "list_questions" });
      break;
    }
    case "questions":
      questions.clear();
      for (const question of event.questions) questions.set(question.id, question);
      break;
    case "question":
      // Your own new question arrived: the box is cleared now, not on sending, so a refusal keeps the text.
      if (event.question.author_id === myId && !questions.has(event.question.id)) { input.value = ""; updateLeft(); }
      questions.set(event.question.id, event.question);
      break;
    case "question_hidden":
      hide(event.id);
      break;
    case "error":
      if (event.ref === "ask") errorBox.textContent = event.message;
      return;
    default:
      return;
  }
  render();
});

root.addEventListener("click", (click) => {
  const target = click.target.closest("button[data-question-act]");
  if (target) send({ type: target.dataset.questionAct, question_id: Number(target.dataset.question) });
});

function updateLeft() {
  $("ask-left").textContent = Math.max(0, Number(input.maxLength) - input.value.length);
}
input.addEventListener("input", () => { errorBox.textContent = ""; updateLeft(); });

form.addEventListener("submit", (submit) => {
  submit.preventDefault();
  const text = input.value.trim();
  if (!text) { errorBox.textContent = "Write your question first."; return; }
  errorBox.textContent = "";
  // The question comes back as a `question` event; an `error` (ref "ask") puts the reason under the box.
  send({ type: "ask", text });
});
