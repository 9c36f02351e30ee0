// The gallery page: lists jobs, follows them live, plays videos, and starts new ones.
// Plain DOM code, no build step. Text from the server is always set with textContent.
"use strict";

const TOKEN = document.querySelector('meta[name="csrf-token"]').content;
const MEDIA_FIELDS = ["image", "end_image", "reference_images", "video", "audio_input"];
const OPTIONAL_FIELDS = ["prompt", "negative_prompt", "duration", "resolution", "aspect_ratio",
  "upscale_factor", "audio", ...MEDIA_FIELDS];
const FIELD_LABELS = {
  prompt: "the prompt", image: "the first frame image", end_image: "the last frame image",
  video: "the source video", audio_input: "the soundtrack", reference_images: "reference images",
};
const RUNNING = new Set(["queueing", "running", "downloading"]);
// The model choice that lets the gallery pick the cheapest model able to make the video.
const CHEAPEST = "cheapest";
const STATE_NAMES = {
  queueing: "queueing", running: "rendering", downloading: "saving", done: "done",
  failed: "failed", cancelled: "cancelled", unknown: "needs attention",
};

const $ = (id) => document.getElementById(id);
const state = {
  info: null,
  models: new Map(),
  jobs: new Map(),       // key -> view, for the jobs on screen
  order: [],             // keys on screen, in order
  uploads: {},           // form field -> upload id, or list of ids
  quote: null,           // the price shown for the form as it is now
  chosen: null,          // with "cheapest": the model that price is for
  checkSeq: 0,
  etaBase: new Map(),    // key -> [eta_s, time received]
  touched: new Set(),    // form fields the user has changed: only their problems are shown
  issues: [],
};

// ------------------------------------------------------------------ helpers

class ApiError extends Error {
  constructor(message, status, data) { super(message); this.status = status; this.data = data; }
}

async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = TOKEN;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `HTTP ${response.status}`;
    throw new ApiError(message, response.status, data);
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

const money = (usd) => (usd === null || usd === undefined ? "—" : `$${Number(usd).toFixed(2)}`);
const when = (seconds) => new Date(seconds * 1000);
function seconds(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
function bytes(n) {
  if (n === null || n === undefined) return "—";
  if (n < 1e6) return `${(n / 1e3).toFixed(0)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}
function announce(text) {
  const node = $("announcer");
  node.textContent = "";
  window.setTimeout(() => { node.textContent = text; }, 50);
}
function shortPrompt(view) {
  return view.prompt || `${view.model} (no prompt)`;
}
function capitalized(text) { return text.charAt(0).toUpperCase() + text.slice(1); }
// The model a job ran on, and whether the gallery picked it as the cheapest.
function modelText(view) {
  return view.tags && view.tags.model_choice === CHEAPEST ? `${view.model} (picked as cheapest)` : view.model;
}

// A story's shot: "Shot 2 (boat) of Three Shots", the title a link to the story's card.
function storyOf(story) {
  const shot = story.shot === null ? "A shot" : `Shot ${story.shot}${story.shot_name ? ` (${story.shot_name})` : ""}`;
  return el("span", { class: "story-of" }, `${shot} of `,
    el("a", { href: `#story-${story.id}`, class: "story-link", text: story.title,
      onclick: (event) => goToStory(event, story.id) }),
    story.in_film === false ? " · not the take in the film" : "");
}

function goToStory(event, id) {
  if ($("player").open) $("player").close();
  const target = document.getElementById(`story-${id}`);
  if (!target) return;  // not listed (yet): the link's own anchor
  event.preventDefault();
  target.scrollIntoView({ block: "start" });
  target.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ dialogs

function confirmDialog(title, text, okLabel) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

function showPath(view) {
  const dialog = $("path-dialog");
  const input = $("path-text");
  input.value = view.file.path || "";
  $("path-status").textContent = view.file.exists ? "" : "The file is not there any more.";
  dialog.showModal();
  input.focus();
  input.select();
}

$("copy-path").addEventListener("click", async () => {
  const input = $("path-text");
  try {
    await navigator.clipboard.writeText(input.value);
    $("path-status").textContent = "Copied.";
  } catch (_) {
    input.focus();
    input.select();
    $("path-status").textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
  }
});

// ------------------------------------------------------------------ the form

function currentModel() { return state.models.get($("f-model").value); }

// `anyLabel`: also offer "" (no value: any the model takes), under that label.
function fillSelect(select, values, preferred, anyLabel = null) {
  const previous = select.value;
  const options = values.map((v) => el("option", { value: v, text: v }));
  if (anyLabel) options.unshift(el("option", { value: "", text: anyLabel }));
  select.replaceChildren(...options);
  const offered = anyLabel ? ["", ...values] : values;
  const pick = [previous, ...preferred].find((v) => offered.includes(v));
  if (pick !== undefined) select.value = pick;
}

function showField(name, visible) {
  const box = document.querySelector(`[data-field="${name}"]`);
  box.hidden = !visible;
  for (const input of box.querySelectorAll("input, select, textarea")) input.disabled = !visible;
}

function isCheapest() { return $("f-model").value === CHEAPEST; }

function applyModel() {
  const model = currentModel();
  if (!model) return;
  if (model.id === CHEAPEST) { applyCheapest(model); return; }
  const inputs = new Set(model.inputs);
  $("f-model-help").textContent =
    `${model.model_type}${model.beta ? " · beta" : ""} · takes ${model.inputs.join(", ")}`;
  showField("prompt", model.needs_prompt);
  showField("negative_prompt", model.needs_prompt);
  const durations = model.auto_duration ? [] : model.durations.filter((d) => d.toLowerCase() !== "auto");
  showField("duration", durations.length > 0);
  fillSelect($("f-duration"), durations, ["5s", durations[0]]);
  showField("resolution", model.resolutions.length > 0 && !model.is_upscale);
  fillSelect($("f-resolution"), model.resolutions, ["720p", "480p", model.resolutions[0]]);
  showField("aspect_ratio", model.aspect_ratios.length > 0);
  fillSelect($("f-aspect_ratio"), model.aspect_ratios, ["16:9", model.aspect_ratios[0]]);
  showField("upscale_factor", model.is_upscale);
  fillSelect($("f-upscale_factor"), model.upscale_factors.map(String), ["2"]);
  showField("audio", model.audio_configurable);
  showField("image", inputs.has("image"));
  showField("end_image", inputs.has("end_image"));
  showField("reference_images", inputs.has("reference_images"));
  showField("video", inputs.has("video"));
  showField("audio_input", inputs.has("audio"));
  updateCount();
  scheduleCheck();
}

// "Cheapest": every choice some model offers; the inputs given and the sound switch are what
// the model must take, the duration, resolution and aspect ratio what it must accept.
function applyCheapest(union) {
  $("f-model-help").textContent = "The cheapest model that takes the inputs you give and " +
    "the choices below; you see which, and its price, before anything is spent.";
  showField("prompt", true);
  showField("negative_prompt", true);
  showField("duration", true);
  fillSelect($("f-duration"), union.durations, ["5s", union.durations[0]]);
  showField("resolution", true);
  fillSelect($("f-resolution"), union.resolutions, ["720p"], "Any");
  fillSelect($("f-aspect_ratio"), union.aspect_ratios, ["16:9"], "Any");
  showField("upscale_factor", false);
  showField("audio", true);
  for (const name of MEDIA_FIELDS) {
    showField(name, union.inputs.includes(name === "audio_input" ? "audio" : name));
  }
  applyCheapestShape();
  updateCount();
  scheduleCheck();
}

// A first frame or a source video sets the picture's shape: no aspect ratio is asked then.
function applyCheapestShape() {
  if (!isCheapest()) return;
  showField("aspect_ratio", !state.uploads.image && !state.uploads.video);
}

function updateCount() {
  const model = currentModel();
  const length = $("f-prompt").value.length;
  if (model && model.id === CHEAPEST) {
    // Each model has its own limit: the check says if the model chosen takes this prompt.
    $("f-prompt-count").textContent = `${length} characters`;
    return;
  }
  const limit = model ? model.prompt_character_limit : 2500;
  $("f-prompt-count").textContent = `${length} of ${limit} characters`;
}

function collectFields() {
  const fields = { model: $("f-model").value };
  for (const name of ["prompt", "negative_prompt", "duration", "resolution", "aspect_ratio", "upscale_factor"]) {
    const input = $(`f-${name}`);
    if (!input.disabled && input.value !== "") fields[name] = input.value;
  }
  if (!$("f-audio").disabled) fields.audio = $("f-audio").checked;
  for (const name of MEDIA_FIELDS) {
    if (!$(`f-${name}`).disabled && state.uploads[name]) fields[name] = state.uploads[name];
  }
  return fields;
}

function showIssues(issues) {
  state.issues = issues;
  issues = issues.filter((i) => state.touched.has(i.field.split(".")[0]) || state.touched.has("*"));
  const shown = new Set();
  const general = [];
  for (const name of ["model", ...OPTIONAL_FIELDS]) {
    const box = $(`f-${name}-error`);
    const input = $(`f-${name}`);
    const mine = issues.filter((i) => i.field === name || i.field.startsWith(`${name}.`));
    if (mine.length && !(input && input.disabled)) {
      box.textContent = mine.map(describeIssue).join(" ");
      box.hidden = false;
      input.setAttribute("aria-invalid", "true");
      mine.forEach((i) => shown.add(i));
    } else {
      box.textContent = "";
      box.hidden = true;
      input.removeAttribute("aria-invalid");
    }
  }
  for (const issue of issues) if (!shown.has(issue)) general.push(describeIssue(issue));
  $("form-issues").textContent = general.join(" ");
  $("form-issues").hidden = general.length === 0;
}

function describeIssue(issue) {
  let text = issue.message;
  if (issue.field && !["prompt", "model"].includes(issue.field)) text = `${issue.field}: ${text}`;
  if (issue.suggestion !== undefined) text += ` (did you mean ${issue.suggestion}?)`;
  return text;
}

let checkTimer = null;
function scheduleCheck() {
  state.checkSeq++;  // an answer still on its way is about the form as it was
  state.quote = null;
  state.chosen = null;
  $("generate").disabled = true;
  $("generate").textContent = "Generate";
  window.clearTimeout(checkTimer);
  checkTimer = window.setTimeout(check, 300);
}

async function check() {
  const seq = ++state.checkSeq;
  const fields = collectFields();
  const cheapest = fields.model === CHEAPEST;
  $("quote").textContent = cheapest ? "Finding the cheapest model…" : "Price: checking…";
  let answer;
  try {
    answer = await api("/api/check", { method: "POST", json: { fields } });
  } catch (error) {
    if (seq !== state.checkSeq) return;
    $("quote").textContent = `Price: unavailable (${error.message})`;
    return;
  }
  if (seq !== state.checkSeq) return;  // the form changed meanwhile
  if (answer.choice_error) {
    showIssues([]);
    $("quote").textContent = capitalized(answer.choice_error);
    return;
  }
  showIssues(answer.issues);
  // With "cheapest": which model, and what the video is priced as.
  const chosen = answer.chosen_model ? `Cheapest: ${answer.chosen_model}` : null;
  const shape = answer.chosen_shape ? ` (${answer.chosen_shape})` : "";
  if (!answer.valid) {
    const untouched = answer.issues.map((i) => i.field.split(".")[0]).filter((f) => !state.touched.has(f));
    const waiting = untouched.length === answer.issues.length;
    const labels = [...new Set(untouched)].map((f) => FIELD_LABELS[f] || f);
    const todo = waiting ? `first fill in ${labels.join(", ")}` : "fix the form first";
    $("quote").textContent = chosen ? `${chosen}${shape}; ${todo}` : `Price: ${todo}`;
    return;
  }
  if (answer.quote_usd === null) {
    $("quote").textContent = `${chosen ? `${chosen}, price` : "Price"}: unavailable (${answer.quote_error || "no quote"})`;
    return;
  }
  state.quote = answer.quote_usd;
  state.chosen = answer.chosen_model;
  const over = answer.max_cost_usd !== null && answer.quote_usd > answer.max_cost_usd;
  const price = chosen ? `${chosen} — ${money(answer.quote_usd)}${shape}` : `Price: ${money(answer.quote_usd)}`;
  $("quote").textContent = over
    ? `${price}, over your ${money(answer.max_cost_usd)} limit`
    : price;
  $("generate").disabled = over;
  $("generate").textContent = `Generate for ${money(answer.quote_usd)}`;
}

async function uploadFiles(input) {
  const name = input.name;
  const status = $(`f-${name}-status`);
  delete state.uploads[name];
  const files = Array.from(input.files);
  if (!files.length) { status.textContent = ""; applyCheapestShape(); scheduleCheck(); return; }
  status.textContent = `Uploading ${files.length > 1 ? `${files.length} files` : files[0].name}…`;
  $("generate").disabled = true;
  try {
    const ids = [];
    for (const file of files) {
      if (state.info && file.size > state.info.max_upload_bytes) {
        throw new Error(`${file.name} is over the ${bytes(state.info.max_upload_bytes)} limit`);
      }
      const stored = await api(`/api/uploads?kind=${input.dataset.kind}`, {
        method: "POST", body: file,
        headers: { "Content-Type": file.type || "application/octet-stream" },
      });
      ids.push(stored.id);
    }
    state.uploads[name] = input.multiple ? ids : ids[0];
    status.textContent = `Ready: ${files.map((f) => f.name).join(", ")}`;
  } catch (error) {
    status.textContent = `Not uploaded: ${error.message}`;
  }
  applyCheapestShape();
  scheduleCheck();
}

async function submitForm(event) {
  event.preventDefault();
  if (state.quote === null) {
    state.touched.add("*");
    showIssues(state.issues);
    return;
  }
  const button = $("generate");
  button.disabled = true;
  $("form-status").textContent = "Starting…";
  try {
    const job = await api("/api/generate", {
      method: "POST",
      json: { fields: collectFields(), max_cost_usd: state.quote, chosen_model: state.chosen },
    });
    $("form-status").textContent = `Started: ${shortPrompt(job)}`;
    announce("Generation started.");
    await loadJobs();
  } catch (error) {
    if (error.data && ["price_changed", "model_changed"].includes(error.data.kind)) {
      state.quote = null;
      $("form-status").textContent = `${capitalized(error.message)}. Check the new price and try again.`;
      scheduleCheck();
      return;
    }
    if (error.data && error.data.issues) showIssues(error.data.issues);
    $("form-status").textContent = `Not started: ${error.message}`;
  } finally {
    button.disabled = state.quote === null;
  }
}

// ------------------------------------------------------------------ the gallery

function filterParams() {
  const params = new URLSearchParams();
  for (const name of ["model", "state", "q", "sort"]) {
    const value = $(`filter-${name}`).value;
    if (value) params.set(name, value);
  }
  // Each story is one card under Stories: its shots are listed here only when asked for.
  if ($("filter-stories").checked) params.set("stories", "1");
  return params;
}

let loading = null;
async function loadJobs() {
  const seq = Symbol("load");
  loading = seq;
  let data;
  try {
    data = await api(`/api/jobs?${filterParams()}`);
  } catch (error) {
    $("summary").textContent = `Could not load the videos: ${error.message}`;
    return;
  }
  if (loading !== seq) return;
  state.jobs = new Map(data.jobs.map((j) => [j.key, j]));
  state.order = data.jobs.map((j) => j.key);
  for (const job of data.jobs) rememberEta(job);
  renderFilterModels(data.models);
  renderSummary(data);
  renderGrid();
}

function renderFilterModels(models) {
  const select = $("filter-model");
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: "All models" }),
    ...models.map((m) => el("option", { value: m, text: m })));
  select.value = models.includes(current) ? current : "";
}

function renderSummary(data) {
  const filtered = filterParams();
  filtered.delete("sort");
  filtered.delete("stories");
  const summary = $("summary");
  const hidden = data.story_shots_hidden;
  const count = `${data.count} video${data.count === 1 ? "" : "s"}`;
  summary.replaceChildren(
    el("strong", { text: count }),
    `${[...filtered.keys()].length ? " match" : ""} · total spend `,
    el("strong", { id: "total-spend", text: money(data.total_usd) }),
    data.count !== data.all_count ? ` (all ${data.all_count}: ${money(data.all_total_usd)})` : "",
    data.local_total_usd
      ? el("span", {
          id: "local-spend",
          text: ` · local engine ${money(data.local_total_usd)} (placeholder videos; not money)`,
        })
      : "",
    hidden
      ? el("span", {
          id: "story-shots-hidden",
          text: ` · ${hidden} story shot${hidden === 1 ? "" : "s"} not listed (see Stories, or Show story shots)`,
        })
      : "",
  );
  const empty = data.all_count === 0;
  $("empty").hidden = !empty;
  $("samples").hidden = !(empty && state.info && state.info.local_engine);
}

function renderGrid() {
  const grid = $("grid");
  const focused = focusMemo();
  grid.replaceChildren(...state.order.map((key) => card(state.jobs.get(key))));
  focusRestore(focused);
}

function focusMemo() {
  const active = document.activeElement;
  const cardNode = active && active.closest ? active.closest(".card") : null;
  if (!cardNode) return null;
  return { key: cardNode.dataset.key, action: active.dataset.action };
}

function focusRestore(memo) {
  if (!memo) return;
  const cardNode = document.querySelector(`.card[data-key="${CSS.escape(memo.key)}"]`);
  if (!cardNode) return;
  const target = cardNode.querySelector(`[data-action="${memo.action}"]`) || cardNode.querySelector("button");
  if (target) target.focus();
}

function updateCard(view) {
  const old = document.querySelector(`.card[data-key="${CSS.escape(view.key)}"]`);
  if (!old) return;
  const focused = focusMemo();
  old.replaceWith(card(view));
  if (focused && focused.key === view.key) focusRestore(focused);
}

function rememberEta(view) {
  if (view.eta_s !== null && view.eta_s !== undefined && RUNNING.has(view.state)) {
    state.etaBase.set(view.key, [view.eta_s, performance.now()]);
  } else {
    state.etaBase.delete(view.key);
  }
}

function etaLeft(key) {
  const base = state.etaBase.get(key);
  if (!base) return null;
  return Math.max(0, base[0] - (performance.now() - base[1]) / 1000);
}

function progressText(view) {
  const parts = [`${Math.round((view.progress || 0) * 100)}%`];
  const left = etaLeft(view.key);
  if (view.state === "downloading") parts.push("saving the file");
  else if (left !== null) parts.push(left > 0.5 ? `about ${seconds(left)} left` : "almost done");
  if (!view.driving && !view.can_resume) parts.push("not followed by this gallery");
  return parts.join(" · ");
}

function card(view) {
  const titleId = `t-${view.key}`;
  const running = RUNNING.has(view.state);
  const prompt = shortPrompt(view);
  const poster = el("button", {
    type: "button", class: "poster", "data-action": "play",
    "aria-label": `Play: ${prompt}`, disabled: !view.video_url,
    onclick: () => openPlayer(view.key),
  });
  if (view.poster_url) {
    poster.append(el("img", { src: view.poster_url, alt: `Frame from the video: ${prompt}`, loading: "lazy" }));
    poster.append(el("span", { class: "play", "aria-hidden": "true", text: "▶ Play" }));
  } else {
    const text = running ? "Rendering…" : view.file.deleted_at ? "File deleted" :
      view.state === "done" ? "File missing" : STATE_NAMES[view.state] || view.state;
    poster.append(el("span", { class: "placeholder", text }));
  }
  const body = el("div", { class: "card-body" },
    el("h3", { id: titleId, class: "prompt-text", title: prompt, text: prompt }),
    view.story ? el("p", { class: "note story-line" }, storyOf(view.story)) : null,
    view.story && view.story.attention
      ? el("p", { class: "needs-you", text: `Listed here: ${view.story.attention}.` }) : null,
    el("p", { class: "note" }, el("span", { class: `badge ${view.state}`, text: STATE_NAMES[view.state] || view.state }),
      view.api !== "local engine" || !state.info || state.info.api !== "local engine" ? ` · ${view.api}` : ""),
  );
  if (running) {
    const pct = Math.round((view.progress || 0) * 100);
    body.append(el("progress", {
      max: "100", value: String(pct), "aria-labelledby": titleId,
      "aria-valuetext": `${pct} percent`,
    }));
    body.append(el("p", { class: "progress-text", "data-eta": view.key, "aria-live": "off", text: progressText(view) }));
  }
  if (view.error && view.state !== "done") body.append(el("p", { class: "error", text: view.error }));
  body.append(metaList([
    ["Model", modelText(view)],
    ["Length", mediaDuration(view)],
    ["Resolution", mediaResolution(view)],
    ["Cost", money(view.quote_usd)],
    ["Worker", view.worker],
    ["Date", el("time", { datetime: when(view.created_at).toISOString(), text: when(view.created_at).toLocaleString() })],
  ]));
  body.append(actions(view, false));
  return el("li", { class: `card state-${view.state}`, "data-key": view.key },
    el("article", { "aria-labelledby": titleId }, poster, body));
}

function mediaDuration(view) {
  if (view.media && view.media.duration_s) return `${view.media.duration_s.toFixed(1)} s`;
  return view.duration || "—";
}

function mediaResolution(view) {
  const parts = [];
  if (view.resolution) parts.push(view.resolution);
  if (view.media && view.media.width) parts.push(`${view.media.width}×${view.media.height}`);
  if (view.aspect_ratio) parts.push(view.aspect_ratio);
  return parts.join(" · ") || "—";
}

function metaList(rows) {
  const list = el("dl", { class: "meta" });
  for (const [name, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", { text: name }));
    const dd = el("dd");
    dd.append(typeof value === "string" ? document.createTextNode(value) : value);
    list.append(dd);
  }
  return list;
}

function actions(view, inPlayer) {
  const box = el("div", { class: "actions" });
  const label = shortPrompt(view);
  if (!inPlayer && view.video_url) {
    box.append(el("button", { type: "button", "data-action": "open", text: "Play",
      "aria-label": `Play: ${label}`, onclick: () => openPlayer(view.key) }));
  }
  if (view.can_resume) {
    box.append(el("button", { type: "button", "data-action": "resume", text: "Resume",
      "aria-label": `Resume: ${label}`, onclick: () => resumeJob(view) }));
  }
  box.append(el("button", { type: "button", "data-action": "rerun", text: "Run again",
    "aria-label": `Run again: ${label}`, disabled: !view.can_rerun,
    title: view.rerun_note || "Quote first, then confirm", onclick: () => rerunJob(view) }));
  if (view.file.path) {
    box.append(el("button", { type: "button", "data-action": "path", text: "Show path",
      "aria-label": `Show the file path of: ${label}`, onclick: () => showPath(view) }));
  }
  if (view.can_delete) {
    box.append(el("button", { type: "button", class: "danger", "data-action": "delete", text: "Delete file",
      "aria-label": `Delete the file of: ${label}`, onclick: () => deleteFile(view) }));
  }
  return box;
}

// ------------------------------------------------------------------ actions

async function resumeJob(view) {
  try {
    await api(`/api/jobs/${encodeURIComponent(view.key)}/resume`, { method: "POST" });
    announce("Resuming the job.");
    await loadJobs();
  } catch (error) {
    announce(`Could not resume: ${error.message}`);
    window.alert(`Could not resume: ${error.message}`);
  }
}

async function rerunJob(view) {
  const path = `/api/jobs/${encodeURIComponent(view.key)}`;
  let quote;
  try {
    quote = await api(`${path}/rerun-quote`, { method: "POST" });
  } catch (error) {
    window.alert(`Cannot run it again: ${error.message}`);
    return;
  }
  const over = quote.max_cost_usd !== null && quote.quote_usd > quote.max_cost_usd;
  if (over) {
    window.alert(`It would cost ${money(quote.quote_usd)}, over your ${money(quote.max_cost_usd)} limit.`);
    return;
  }
  const ok = await confirmDialog(
    "Run this request again?",
    `A new ${quote.model} video from the same request costs ${money(quote.quote_usd)}.`,
    `Run again for ${money(quote.quote_usd)}`,
  );
  if (!ok) return;
  try {
    await api(`${path}/rerun`, { method: "POST", json: { max_cost_usd: quote.quote_usd } });
    announce("Started again.");
    if ($("player").open) $("player").close();
    await loadJobs();
  } catch (error) {
    window.alert(`Not started: ${error.message}`);
  }
}

async function deleteFile(view) {
  const ok = await confirmDialog(
    "Delete this video file?",
    `${view.file.path} will be deleted from this computer. The job stays in the journal; ` +
    "nothing is deleted on the server.",
    "Delete the file",
  );
  if (!ok) return;
  try {
    await api(`/api/jobs/${encodeURIComponent(view.key)}/delete-file`, { method: "POST" });
    announce("File deleted.");
    if ($("player").open) $("player").close();
    await loadJobs();
  } catch (error) {
    window.alert(`Not deleted: ${error.message}`);
  }
}

// ------------------------------------------------------------------ the player

async function openPlayer(key) {
  let view;
  try {
    view = await api(`/api/jobs/${encodeURIComponent(key)}`);
  } catch (error) {
    announce(`Could not open the video: ${error.message}`);
    return;
  }
  const dialog = $("player");
  $("player-title").textContent = shortPrompt(view);
  const media = $("player-media");
  media.replaceChildren();
  $("player-note").textContent = "";
  if (view.video_url) {
    const video = el("video", { id: "player-video", controls: true, preload: "metadata",
      poster: view.poster_url, "aria-label": `Video: ${shortPrompt(view)}` });
    const type = view.media ? view.media.source_type : "video/mp4";
    video.append(el("source", { src: view.video_url, type }));
    // A WebM copy for browsers that cannot play the original (H.264 is not everywhere).
    if (view.preview_url) video.append(el("source", { src: view.preview_url, type: 'video/webm; codecs="vp8, opus"' }));
    video.append(document.createTextNode("This browser cannot play the video; use Show path to open the file."));
    media.append(video);
  } else {
    $("player-note").textContent = "There is no file to play for this job.";
  }
  $("player-meta").replaceWith(playerMeta(view));
  $("player-actions").replaceWith(Object.assign(actions(view, true), { id: "player-actions" }));
  $("player-request").textContent = JSON.stringify(view.request, null, 2);
  dialog.showModal();
  dialog.querySelector("[data-close]").focus();
}

function playerMeta(view) {
  const list = metaList([
    ["Status", `${STATE_NAMES[view.state] || view.state} (${view.status})`],
    ["Story", view.story ? storyOf(view.story) : null],
    ["Model", modelText(view)],
    ["Prompt", view.prompt || "—"],
    ["Length", mediaDuration(view)],
    ["Resolution", mediaResolution(view)],
    ["Cost", money(view.quote_usd)],
    ["Created", when(view.created_at).toLocaleString()],
    ["Time to video", view.elapsed_s !== null && view.elapsed_s !== undefined ? seconds(view.elapsed_s) : "—"],
    ["File", view.file.exists ? `${view.file.path} (${bytes(view.file.size_bytes)})` : view.file.path ? `${view.file.path} (missing)` : "—"],
    ["Job id", view.id],
    ["Worker", view.worker],
    ["API", view.api],
    ["Error", view.error],
  ]);
  list.id = "player-meta";
  list.classList.add("wide");
  return list;
}

$("player").addEventListener("close", () => {
  const video = $("player-video");
  if (video) video.pause();
});
for (const button of document.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}

// ------------------------------------------------------------------ live updates

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("job", (event) => {
    const view = JSON.parse(event.data);
    const previous = state.jobs.get(view.key);
    rememberEta(view);
    if (!previous) {
      // A story's shot that is not listed: its story's card shows it, and once it ends the
      // next listing says whether it needs you.
      if (view.story && !$("filter-stories").checked && RUNNING.has(view.state)) return;
      scheduleReload();
      return;
    }
    state.jobs.set(view.key, view);
    // Screen readers hear progress at each quarter, not at every update.
    const quarter = (v) => Math.floor((v.progress || 0) * 4);
    if (RUNNING.has(view.state) && quarter(view) > quarter(previous) && quarter(view) < 4) {
      announce(`${shortPrompt(view)}: ${progressText(view)}`);
    }
    if (previous.state !== view.state) {
      if (view.state === "done") announce(`Finished: ${shortPrompt(view)}`);
      else if (view.state === "failed") announce(`Failed: ${shortPrompt(view)}`);
      scheduleReload();  // totals, filters and order may change
      return;
    }
    updateCard(view);
  });
}

let reloadTimer = null;
function scheduleReload() {
  window.clearTimeout(reloadTimer);
  reloadTimer = window.setTimeout(loadJobs, 150);
}

function tick() {
  for (const node of document.querySelectorAll("[data-eta]")) {
    const view = state.jobs.get(node.dataset.eta);
    if (view) node.textContent = progressText(view);
  }
}

// ------------------------------------------------------------------ start

async function start() {
  try {
    state.info = await api("/api/info");
  } catch (error) {
    $("api-line").textContent = `Cannot reach the gallery: ${error.message}`;
    return;
  }
  const info = state.info;
  $("api-line").title = info.output_dir;
  $("api-line").textContent = info.local_engine
    ? `Local engine: placeholder videos for trying things out · saving to ${info.output_dir_shown}`
    : `API: ${info.api} · saving to ${info.output_dir_shown}` +
      (info.max_cost_usd !== null ? ` · limit ${money(info.max_cost_usd)} per video` : "");
  for (const name of info.states) {
    $("filter-state").append(el("option", { value: name, text: STATE_NAMES[name] || name }));
  }
  try {
    const { models, cheapest } = await api("/api/models");
    const groups = new Map();
    if (cheapest) {
      state.models.set(cheapest.id, cheapest);
      groups.set(CHEAPEST, el("optgroup", { label: "By price" },
        el("option", { value: cheapest.id, text: cheapest.name })));
    }
    for (const model of models) {
      state.models.set(model.id, model);
      if (!groups.has(model.model_type)) groups.set(model.model_type, el("optgroup", { label: model.model_type }));
      groups.get(model.model_type).append(el("option", { value: model.id, text: model.name === model.id ? model.id : `${model.name} (${model.id})` }));
    }
    $("f-model").replaceChildren(...groups.values());
    // The first model listed, unless another is the default: "cheapest" only when asked for.
    if (models.length) $("f-model").value = models[0].id;
    if (info.default_model && state.models.has(info.default_model)) $("f-model").value = info.default_model;
    applyModel();
  } catch (error) {
    $("quote").textContent = `Models unavailable: ${error.message}`;
  }
  $("f-model").addEventListener("change", applyModel);
  $("f-prompt").addEventListener("input", () => { state.touched.add("prompt"); updateCount(); scheduleCheck(); });
  for (const name of ["negative_prompt", "duration", "resolution", "aspect_ratio", "upscale_factor", "audio"]) {
    $(`f-${name}`).addEventListener(name === "negative_prompt" ? "input" : "change", () => {
      state.touched.add(name);
      scheduleCheck();
    });
  }
  for (const name of MEDIA_FIELDS) {
    $(`f-${name}`).addEventListener("change", (e) => { state.touched.add(name); uploadFiles(e.target); });
  }
  $("new-form").addEventListener("submit", submitForm);
  let filterTimer = null;
  $("filters").addEventListener("input", () => {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(loadJobs, 200);
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); loadJobs(); });
  $("samples").addEventListener("click", async () => {
    $("samples").disabled = true;
    try {
      await api("/api/samples", { method: "POST" });
      announce("Three sample clips started.");
      await loadJobs();
    } catch (error) {
      $("empty-text").textContent = `Could not start the samples: ${error.message}`;
    } finally {
      $("samples").disabled = false;
    }
  });
  await loadJobs();
  listen();
  window.setInterval(tick, 1000);
  // Jobs started elsewhere (the CLI, another window) show up without a reload.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) loadJobs(); });
  window.setInterval(() => { if (!document.hidden) loadJobs(); }, 20000);
}

start();
