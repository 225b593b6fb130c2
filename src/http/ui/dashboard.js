// The dashboard of scalingo-db-fake (served at /_fake/ui).
//
// Every half second it asks the control plane for the clock, every database
// with its backups, the fault rules and the latest requests, and updates the
// page in place (rows are kept by id, so a button never moves under the
// pointer). Buttons and forms call the same /_fake routes a test uses, then
// ask again at once. Plain JavaScript, no framework, no build step.
"use strict";

const POLL_MS = 500;
const SHOWN_BACKUPS = 5; // per database, until "show all"
const JOURNAL_LIMIT = 50;
// The page is at <prefix>/_fake/ui; the fake may be served under a prefix.
const PREFIX = location.pathname.replace(/\/_fake\/ui\/?$/, "");
const NEEDS_TOKEN = document.body.dataset.adminToken === "required";
const TOKEN_KEY = "scalingo-db-fake.admin-token";
const OPERATIONS = [
  "backups.list", "backups.create", "backups.show", "backups.show_by_id",
  "backups.archive", "backups.download", "databases.show", "databases.update",
  "tokens.exchange", "users.self", "regions.list", "addons.list",
  "addons.show", "addons.token",
];
const FINISHED = ["done", "error", "cancelled"];
// The fault form's effects: the label and limits of their value, and the
// key of the rule's JSON that carries it.
const EFFECTS = {
  status: { label: "Status", value: 503, min: 400, max: 599, key: "status" },
  latency: { label: "Latency (ms)", value: 2000, min: 0, max: 600000, key: "latency_ms" },
  reset: { label: "Value", value: "", key: "reset" },
  cut: { label: "Cut after (bytes)", value: 1048576, min: 0, key: "cut_after_bytes" },
  drip: { label: "Bytes per second", value: 10000, min: 1, key: "drip_bytes_per_sec" },
};

const state = {
  token: NEEDS_TOKEN ? sessionStorage.getItem(TOKEN_KEY) || "" : "",
  paused: false, // waiting for an admin token
  busy: false, // a poll is running
  again: false, // poll again as soon as it ends
  timer: 0,
  last: null, // the last answers, to redraw without asking
  expanded: new Set(), // databases that show all their backups
  links: new Map(), // database id -> { backup, url }: the last link asked for
  created: "", // the database the "Created …" note is about
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Talking to the fake
// ---------------------------------------------------------------------------

class FakeError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
  }
}

/**
 * One request to the control plane: its JSON answer, or a FakeError (status
 * 0 when the fake cannot be reached). Anything else thrown is a bug of the
 * page, left uncaught so that it shows in the console.
 */
async function call(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  let text;
  try {
    resp = await fetch(PREFIX + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    text = await resp.text();
  } catch (e) {
    throw new FakeError(0, { error: `cannot reach the fake (${e.message}): retrying` });
  }
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text };
  }
  if (!resp.ok) throw new FakeError(resp.status, json);
  return json;
}

/** The fake's error shapes, as one sentence. */
function describeError(status, body) {
  if (body && body.errors) {
    return Object.entries(body.errors)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(", ")}`)
      .join("; ");
  }
  if (body && body.resource) return `no such ${body.resource}`;
  if (body && body.error) return body.error;
  return `HTTP ${status}`;
}

function journalPath() {
  const query = new URLSearchParams({ limit: String(JOURNAL_LIMIT) });
  const database = $("journal-database").value;
  const operation = $("journal-operation").value;
  if (database) query.set("database", database);
  if (operation) query.set("operation", operation);
  return `/_fake/requests?${query}`;
}

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

/** Asks for everything and redraws; one poll at a time, then the next. */
async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  clearTimeout(state.timer);
  try {
    do {
      state.again = false;
      await pollOnce();
    } while (state.again && !state.paused);
  } finally {
    state.busy = false;
    if (!state.paused) state.timer = setTimeout(refresh, POLL_MS);
  }
}

async function pollOnce() {
  let answers;
  try {
    answers = await Promise.all([
      call("GET", "/_fake/clock"),
      call("GET", "/_fake/backups"),
      call("GET", "/_fake/faults"),
      call("GET", journalPath()),
    ]);
  } catch (e) {
    if (!(e instanceof FakeError)) throw e;
    if (e.status === 401) {
      askForToken(state.token ? "The admin token was refused: give the right one." : "");
    } else {
      setLive(false, e.message);
    }
    return;
  }
  const [clock, all, faults, journal] = answers;
  state.last = { clock, databases: all.databases, faults: faults.faults, requests: journal.requests };
  render();
  setLive(true, `live · ${clock.mode} clock`);
}

function render() {
  const { clock, databases, faults, requests } = state.last;
  renderClock(clock);
  renderChoices(databases);
  renderDatabases(databases);
  renderFaults(faults);
  renderJournal(requests);
}

function setLive(ok, text) {
  $("live-dot").className = ok ? "dot ok" : "dot down";
  setText($("live-text"), text);
}

// ---------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------

/** A new element: `el("td", { className: "num" }, "12 MiB")`. */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

/** Sets a node's text only when it changed (no flicker, selection kept). */
function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/**
 * Makes `container`'s children show `items`, in order: a child is kept per
 * key (made by `create` the first time), updated by `update`, moved into
 * place; children whose key is gone are removed.
 */
function reconcile(container, items, keyOf, create, update) {
  const old = new Map();
  for (const child of container.children) old.set(child.dataset.key, child);
  items.forEach((item, i) => {
    const key = String(keyOf(item));
    let node = old.get(key);
    if (node) {
      old.delete(key);
    } else {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
  for (const node of old.values()) node.remove();
}

/** `2024-03-01T10:00:00.000+00:00` → `2024-03-01 10:00:00` (UTC). */
function formatTime(text) {
  if (!text) return "—";
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? text : d.toISOString().slice(0, 19).replace("T", " ");
}

/** Bytes in binary units: `17484513608` → `16.3 GiB`. */
function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function formatLatency(us) {
  if (us < 1000) return `${us} µs`;
  if (us < 1000000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1000000).toFixed(2)} s`;
}

function renderClock(clock) {
  const now = $("clock-now");
  setText(now, `${formatTime(clock.now)} UTC`);
  now.dateTime = clock.now;
  now.title = clock.now;
  const mode = $("clock-mode");
  setText(mode, clock.mode === "manual" ? "manual clock" : "system clock");
  mode.className = `pill ${clock.mode}`;
  const scale = clock.time_scale === 1 ? "real time" : `${clock.time_scale}× real time`;
  setText($("clock-scale"), clock.mode === "manual" ? "moves only when told" : scale);
}

/** The database pickers of the fault form and the journal filter. */
function renderChoices(databases) {
  const ids = databases.map((d) => d.id);
  for (const select of [$("fault-database"), $("journal-database")]) {
    if (select.dataset.ids === ids.join(" ")) continue;
    const chosen = select.value;
    select.replaceChildren(select.options[0], ...ids.map((id) => el("option", { value: id, textContent: id })));
    select.value = ids.includes(chosen) ? chosen : "";
    select.dataset.ids = ids.join(" ");
  }
}

function renderDatabases(databases) {
  reconcile($("databases"), databases, (d) => d.id, createDatabase, updateDatabase);
  $("no-databases").hidden = databases.length > 0;
  // The note about a database made here goes with the database.
  if (!databases.some((d) => d.id === state.created)) $("db-created").hidden = true;
}

function createDatabase(d) {
  const outcome = el("select", { className: "outcome", ariaLabel: `Outcome of new backups of ${d.id}` },
    el("option", { value: "done", textContent: "ends done" }),
    el("option", { value: "error", textContent: "ends in error" }));
  const head = el("header", { className: "db-head" },
    el("div", {},
      el("h3", {}, el("code", { className: "db-id", textContent: d.id }), " ", el("span", { className: "pill type" })),
      el("p", { className: "db-meta" })),
    el("div", { className: "row" }, outcome,
      el("button", { type: "button", className: "primary", textContent: "Create backup",
        ariaLabel: `Create a backup of ${d.id}` }),
      el("button", { type: "button", className: "danger", textContent: "Delete",
        ariaLabel: `Delete database ${d.id}` })));
  const [create, remove] = head.querySelectorAll("button");
  create.dataset.action = "create-backup";
  remove.dataset.action = "delete-database";
  const table = el("table", { className: "backups" },
    el("caption", { className: "sr-only", textContent: `Backups of ${d.id}, newest first` }),
    el("thead", {}, el("tr", {}, ...["Backup", "Status", "Method", "Size", "Created", "Started", ""]
      .map((h, i) => el("th", { textContent: h, className: i === 3 ? "num" : "" })))),
    el("tbody"));
  const more = el("button", { type: "button", className: "link-button" });
  more.dataset.action = "toggle-all";
  const card = el("article", { className: "card db" }, head, linkBar(d.id),
    el("div", { className: "table-wrap" }, table), el("p", { className: "more" }, more));
  card.dataset.db = d.id;
  return card;
}

/** The bar that shows a backup's download link, hidden until one is asked for. */
function linkBar(db) {
  const input = el("input", { type: "text", readOnly: true, className: "link-url", ariaLabel: `Download link (${db})` });
  const copy = el("button", { type: "button", textContent: "Copy link" });
  copy.dataset.action = "copy-link";
  const download = el("a", { className: "button", textContent: "Download archive" });
  download.setAttribute("download", "");
  const close = el("button", { type: "button", textContent: "×", ariaLabel: "Hide the link", className: "subtle" });
  close.dataset.action = "hide-link";
  return el("div", { className: "link-bar", hidden: true },
    el("span", { className: "link-label" }), input, copy, download, close);
}

function updateDatabase(card, d) {
  const info = d.database;
  setText(card.querySelector(".type"), info.type);
  const periodic = info.periodic_backups_enabled
    ? `daily at ${info.periodic_backups_scheduled_at.map((h) => `${String(h).padStart(2, "0")}:00`).join(", ")} UTC`
    : "off";
  setText(card.querySelector(".db-meta"), `resource ${info.resource_id} · app ${info.app_name} · periodic backups ${periodic}`);
  const all = d.database_backups;
  const expanded = state.expanded.has(d.id);
  const shown = expanded ? all : all.slice(0, SHOWN_BACKUPS);
  reconcile(card.querySelector("tbody"), shown, (b) => b.id, createBackupRow, updateBackupRow);
  const more = card.querySelector(".more");
  more.hidden = all.length <= SHOWN_BACKUPS;
  setText(more.firstChild, expanded ? "Show the newest only" : `Show all ${all.length} backups`);
  const link = state.links.get(d.id);
  const bar = card.querySelector(".link-bar");
  bar.hidden = !link;
  if (link) {
    setText(bar.querySelector(".link-label"), `Link to ${link.backup}`);
    bar.querySelector("input").value = link.url;
    bar.querySelector("a").href = link.url;
  }
}

function createBackupRow(b) {
  const button = (action, text) => {
    const node = el("button", { type: "button", textContent: text, ariaLabel: `${text} backup ${b.id}` });
    node.dataset.action = action;
    return node;
  };
  const row = el("tr", {},
    el("td", {}, el("span", { className: "backup-name" }), el("code", { className: "backup-id", textContent: b.id })),
    el("td", {}, el("span", { className: "badge" })),
    el("td", { className: "method" }),
    el("td", { className: "num size" }),
    el("td", {}, el("time", { className: "created" })),
    el("td", {}, el("time", { className: "started" })),
    el("td", { className: "row-actions" },
      button("complete", "Complete"), button("fail", "Fail"), button("link", "Link")));
  row.dataset.backup = b.id;
  return row;
}

function updateBackupRow(row, b) {
  const name = row.querySelector(".backup-name");
  setText(name, b.name);
  name.title = b.name;
  const badge = row.querySelector(".badge");
  setText(badge, b.status);
  badge.className = `badge ${b.status}`;
  setText(row.querySelector(".method"), b.method);
  const size = row.querySelector(".size");
  setText(size, formatSize(b.size));
  size.title = b.size === null ? "no size yet" : `${b.size} bytes`;
  for (const [cls, value] of [["created", b.created_at], ["started", b.started_at]]) {
    const time = row.querySelector(`.${cls}`);
    setText(time, formatTime(value));
    time.title = value || "not started";
  }
  const finished = FINISHED.includes(b.status);
  row.querySelector('[data-action="complete"]').hidden = finished;
  row.querySelector('[data-action="fail"]').hidden = finished;
  row.querySelector('[data-action="link"]').hidden = b.status !== "done";
}

function renderFaults(faults) {
  reconcile($("faults"), faults, (f) => f.id, createFaultRow, updateFaultRow);
  $("no-faults").hidden = faults.length > 0;
}

function createFaultRow(f) {
  const remove = el("button", { type: "button", textContent: "Remove", ariaLabel: `Remove fault rule ${f.id}` });
  remove.dataset.action = "remove-fault";
  const row = el("tr", {},
    el("td", {}, el("code", { textContent: f.id })),
    el("td", { className: "match" }), el("td", { className: "effect" }),
    el("td", { className: "num probability" }), el("td", { className: "num remaining" }),
    el("td", { className: "num hits" }), el("td", { className: "row-actions" }, remove));
  row.dataset.fault = f.id;
  return row;
}

function updateFaultRow(row, f) {
  const match = Object.entries(f.match || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
  setText(row.querySelector(".match"), match || "every request");
  setText(row.querySelector(".effect"), describeEffect(f));
  setText(row.querySelector(".probability"), `${Math.round(f.probability * 1000) / 10} %`);
  setText(row.querySelector(".remaining"), f.remaining === null ? "∞" : f.remaining);
  setText(row.querySelector(".hits"), f.hits);
  row.classList.toggle("retired", f.remaining === 0);
}

function describeEffect(f) {
  if (f.status !== undefined) return `answer ${f.status}${f.retry_after ? `, Retry-After ${f.retry_after}` : ""}`;
  if (f.latency_ms !== undefined) return `wait ${f.latency_ms} ms`;
  if (f.reset) return "reset the connection";
  if (f.cut_after_bytes !== undefined) return `cut the body after ${formatSize(f.cut_after_bytes)}`;
  if (f.drip_bytes_per_sec !== undefined) return `drip the body at ${formatSize(f.drip_bytes_per_sec)}/s`;
  return "?";
}

function renderJournal(requests) {
  reconcile($("journal"), requests.slice().reverse(), (r) => r.seq, createRequestRow, updateRequestRow);
  $("no-requests").hidden = requests.length > 0;
}

function createRequestRow(r) {
  const row = el("tr", {},
    el("td", { className: "num", textContent: r.seq }),
    el("td", {}, el("time", { textContent: formatTime(r.time).slice(11), title: `${r.time} (fake clock)` })),
    el("td", { className: "request" },
      el("span", { className: "http-method", textContent: r.method }), " ",
      el("span", { className: "path", textContent: r.query === null ? r.path : `${r.path}?${r.query}` })),
    el("td", { className: "num" }, el("span", { className: `code c${String(r.status)[0]}`, textContent: r.status || "reset" })),
    el("td", { className: "num", textContent: formatLatency(r.latency_us) }),
    el("td", { className: "fault", textContent: r.fault || "—" }));
  row.dataset.seq = r.seq;
  row.title = `${r.operation}${r.database ? ` on ${r.database}` : ""}`;
  return row;
}

function updateRequestRow() {
  // A recorded request never changes.
}

// ---------------------------------------------------------------------------
// Acting
// ---------------------------------------------------------------------------

/** Runs one action, says how it went, and polls at once. */
async function act(run) {
  try {
    const said = await run();
    say(said || "");
  } catch (e) {
    if (!(e instanceof FakeError)) throw e; // a bug of the page: to the console
    if (e.status === 401) askForToken("The admin token was refused: give the right one.");
    say(e.message, true);
  } finally {
    refresh();
  }
}

function say(text, isError = false) {
  const message = $("message");
  setText(message, text);
  message.className = isError ? "message error" : "message";
}

const actions = {
  advance: (button) => call("POST", "/_fake/clock", { advance_secs: Number(button.dataset.secs) })
    .then((c) => `The clock is at ${formatTime(c.now)} UTC.`),
  reset: () => call("POST", "/_fake/reset").then(() => {
    state.links.clear();
    return "The fake is back as it started.";
  }),
  "create-backup": async (button, db) => {
    const outcome = button.closest(".db").querySelector(".outcome").value;
    // Created now on the fake's clock, moving like a new backup, as the
    // API's POST would; the outcome is the one chosen.
    const { now } = await call("GET", "/_fake/clock");
    const body = { created_at: now, method: "manual", progress: { outcome } };
    const answer = await call("POST", `/_fake/databases/${encodeURIComponent(db)}/backups`, body);
    return `Backup ${answer.database_backup.id} created in ${db}.`;
  },
  "delete-database": (button, db) => call("DELETE", `/_fake/databases/${encodeURIComponent(db)}`)
    .then(() => `Database ${db} deleted.`),
  complete: (button, db, backup) => call("POST", `/_fake/backups/${backup}/complete`)
    .then(() => `Backup ${backup} is done.`),
  fail: (button, db, backup) => call("POST", `/_fake/backups/${backup}/fail`)
    .then(() => `Backup ${backup} failed.`),
  link: async (button, db, backup) => {
    const path = `/_fake/databases/${encodeURIComponent(db)}/backups/${backup}/download_url`;
    const { download_url: url } = await call("GET", path);
    state.links.set(db, { backup, url });
    return `A download link of ${backup}, valid for the download lifetime on the fake's clock.`;
  },
  "copy-link": async (button, db) => {
    const input = button.closest(".link-bar").querySelector("input");
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      return "Link copied.";
    } catch {
      return "The browser refused the clipboard: the link is selected, copy it by hand.";
    }
  },
  "hide-link": async (button, db) => {
    state.links.delete(db);
  },
  "toggle-all": async (button, db) => {
    if (!state.expanded.delete(db)) state.expanded.add(db);
  },
  "remove-fault": (button) => {
    const id = button.closest("[data-fault]").dataset.fault;
    return call("DELETE", `/_fake/faults/${encodeURIComponent(id)}`).then(() => `Fault rule ${id} removed.`);
  },
  "clear-faults": () => call("DELETE", "/_fake/faults").then(() => "Every fault rule removed."),
  "clear-journal": () => call("DELETE", "/_fake/requests").then(() => "Journal cleared."),
  "change-token": async () => askForToken(""),
};

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (!button || !actions[button.dataset.action]) return;
  const db = button.closest("[data-db]")?.dataset.db;
  const backup = button.closest("[data-backup]")?.dataset.backup;
  act(() => actions[button.dataset.action](button, db, backup));
});

/** `form`'s submit runs `run` (its default, a page load, is prevented). */
function onSubmit(form, run) {
  $(form).addEventListener("submit", (event) => {
    event.preventDefault();
    act(run);
  });
}

onSubmit("clock-form", () => call("POST", "/_fake/clock", { set: $("clock-input").value.trim() })
  .then((c) => `The clock is at ${formatTime(c.now)} UTC.`));

onSubmit("db-form", async () => {
  const created = await call("POST", "/_fake/databases", { type: $("db-type").value });
  const note = $("db-created");
  note.replaceChildren("Created ", el("code", { textContent: created.id }), " with the token ",
    el("code", { textContent: created.token }), ".");
  note.hidden = false;
  state.created = created.id;
  return `Database ${created.id} created.`;
});

onSubmit("fault-form", () => {
  const rule = { match: {}, probability: Number($("fault-probability").value) };
  for (const key of ["operation", "database", "method"]) {
    const value = $(`fault-${key}`).value;
    if (value) rule.match[key] = value;
  }
  const times = $("fault-times").value;
  if (times) rule.times = Number(times);
  const effect = EFFECTS[$("fault-effect").value];
  rule[effect.key] = effect.key === "reset" ? true : Number($("fault-value").value);
  return call("POST", "/_fake/faults", rule).then((f) => `Fault rule ${f.id} added.`);
});

$("fault-effect").addEventListener("change", () => {
  const effect = EFFECTS[$("fault-effect").value];
  const input = $("fault-value");
  setText($("fault-value-label"), effect.label);
  input.disabled = effect.key === "reset";
  input.required = !input.disabled;
  input.value = effect.value;
  input.min = effect.min ?? "";
  input.max = effect.max ?? "";
});

for (const id of ["journal-database", "journal-operation"]) $(id).addEventListener("change", refresh);

// ---------------------------------------------------------------------------
// The admin token
// ---------------------------------------------------------------------------

function askForToken(why) {
  state.paused = true;
  clearTimeout(state.timer);
  $("token-form").hidden = false;
  $("token-input").focus();
  setLive(false, "waiting for the admin token");
  if (why) say(why, true);
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token-input").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("token-form").hidden = true;
  state.paused = false;
  say("");
  refresh();
});

// ---------------------------------------------------------------------------
// Start
// ---------------------------------------------------------------------------

$("journal-operation").append(...OPERATIONS.map((op) => el("option", { value: op, textContent: op })));
$("fault-operation").append(...OPERATIONS.map((op) => el("option", { value: op, textContent: op })));
$("token-change").hidden = !NEEDS_TOKEN;
if (NEEDS_TOKEN && !state.token) {
  askForToken("");
} else {
  refresh();
}
