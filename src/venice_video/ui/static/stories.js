// The gallery's stories: each film with the strip of its shots, what it cost, and a new take of
// one shot (priced first, confirmed, then rendered). Uses app.js's functions ($, api, el, money,
// announce, confirmDialog, openPlayer). Text from the server is always set with textContent.
"use strict";

const STORY_STATES = {
  done: "in the film", running: "rendering", queueing: "queueing", downloading: "saving",
  failed: "failed", cancelled: "cancelled", unknown: "needs attention", missing: "file missing",
};
const storyState = { views: new Map(), timer: null, seq: 0 };

function clock(s) {
  if (s === null || s === undefined) return "";
  const whole = Math.floor(s);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

async function loadStories() {
  const seq = ++storyState.seq;
  let views;
  try {
    const { stories } = await api("/api/stories");
    views = await Promise.all(stories.map((s) => api(`/api/stories/${encodeURIComponent(s.id)}`)));
  } catch (error) {
    $("stories-status").textContent = `Could not load the stories: ${error.message}`;
    return;
  }
  if (seq !== storyState.seq) return;  // a newer load is on its way
  $("stories-status").textContent = "";
  $("stories").hidden = views.length === 0;
  renderStories(views);
  window.clearTimeout(storyState.timer);
  if (views.some((v) => v.rendering)) storyState.timer = window.setTimeout(loadStories, 1000);
}

function renderStories(views) {
  const list = $("story-list");
  const seen = new Set();
  const nodes = views.map((view) => {
    seen.add(view.id);
    const text = JSON.stringify(view);
    const old = list.querySelector(`.story-card[data-story="${CSS.escape(view.id)}"]`);
    const previous = storyState.views.get(view.id);
    storyState.views.set(view.id, text);
    if (old && previous === text) return old;
    const fresh = storyCard(view);
    if (old) {
      // Keep the film playing where it is when only the strip or the totals changed.
      const player = old.querySelector("video.film");
      const slot = fresh.querySelector("video.film");
      if (player && slot && player.dataset.src === slot.dataset.src) slot.replaceWith(player);
      const focused = document.activeElement && old.contains(document.activeElement)
        ? document.activeElement.dataset.focus : null;
      old.replaceWith(fresh);
      if (focused) {
        const again = fresh.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
        if (again) again.focus();
      }
    }
    return fresh;
  });
  for (const id of [...storyState.views.keys()]) if (!seen.has(id)) storyState.views.delete(id);
  list.replaceChildren(...nodes);
}

function storyCard(view) {
  const titleId = `s-${view.id}`;
  const article = el("article", { "aria-labelledby": titleId },
    el("h3", { id: titleId, text: view.title }));
  const earlier = view.spent_usd > view.total_usd + 0.005
    ? ` (${money(view.spent_usd)} with earlier takes)` : "";
  article.append(el("p", { class: "note story-summary" },
    `${view.shots_done} of ${view.shot_count} shots · total `,
    el("strong", { class: "story-total", text: money(view.total_usd) }),
    earlier,
    view.local ? " · local engine (not money)" : ""));
  if (view.rendering) {
    article.append(el("p", { class: "status-line", role: "status", text: "Rendering; the film is replaced once the new one is assembled…" }));
  }
  if (view.error) {
    article.append(el("p", { class: "error", text: `The last render did not finish: ${view.error}` }));
  }
  if (view.can_finish) {
    const waiting = view.shots.filter((s) => s.newer_take).map((s) => s.number);
    article.append(el("p", { class: "note finish" },
      `A newer take of shot${waiting.length > 1 ? "s" : ""} ${waiting.join(", ")} is not in the film yet. `,
      el("button", { type: "button", "data-action": "finish", "data-focus": "finish",
        text: "Finish the film", onclick: () => finishFilm(view) }),
      " (follows the takes and assembles the film; pays nothing)"));
  }
  article.append(filmPlayer(view));
  article.append(shotStrip(view));
  article.append(el("p", { class: "note" },
    "Each take is a job of its own: ",
    el("button", { type: "button", "data-action": "show-shots", "data-focus": "show-shots",
      text: "List its shots among the videos", onclick: () => showShots(view) }),
    " (to resume one, run it again or find its file)."));
  return el("li", { id: `story-${view.id}`, tabindex: "-1", class: `story-card status-${view.status}`,
    "data-story": view.id }, article);
}

function filmPlayer(view) {
  const film = view.film;
  if (!film || !film.url) {
    return el("p", { class: "film-missing placeholder", text: film ? "The film is not there." : "No film yet." });
  }
  const video = el("video", {
    class: "film", controls: true, preload: "metadata", poster: film.poster_url,
    "data-src": film.url, "aria-label": `Film: ${view.title}`,
  });
  video.append(el("source", { src: film.url, type: film.source_type || "video/mp4" }));
  // A WebM copy for browsers that cannot play the original (H.264 is not everywhere).
  if (film.preview_url) video.append(el("source", { src: film.preview_url, type: 'video/webm; codecs="vp8, opus"' }));
  if (film.captions_url) {
    video.append(el("track", { kind: "captions", src: film.captions_url, srclang: "en", label: "Captions", default: true }));
  }
  video.append(document.createTextNode("This browser cannot play the film."));
  return video;
}

function shotStrip(view) {
  const strip = el("ol", { class: "strip", "aria-label": `Shots of ${view.title}` });
  for (const shot of view.shots) {
    const label = `shot ${shot.number}${shot.name ? `: ${shot.name}` : ""}`;
    const where = shot.start !== null && shot.start !== undefined ? ` (at ${clock(shot.start)})` : "";
    const thumb = el("button", {
      type: "button", class: "shot-thumb", "data-focus": `play-${shot.number}`,
      "aria-label": `Play ${label}${where}`, onclick: () => playShot(view, shot),
      disabled: !(view.film && view.film.url) && !shot.video_url,
    });
    if (shot.poster_url) thumb.append(el("img", { src: shot.poster_url, alt: "", loading: "lazy" }));
    else thumb.append(el("span", { class: "placeholder", text: STORY_STATES[shot.state] || shot.state }));
    thumb.append(el("span", { class: "shot-number", "aria-hidden": "true", text: String(shot.number) }));
    const facts = [shot.model, shot.duration, money(shot.cost_usd)].filter(Boolean);
    if (shot.continues_from) facts.push(`continues shot ${shot.continues_from}`);
    if (shot.newer_take) facts.push("a newer take waits");
    const phase = shot.phase && shot.phase !== "reused" ? shot.phase : null;
    const stateText = phase || STORY_STATES[shot.state] || shot.state;
    strip.append(el("li", { class: `shot state-${shot.state}`, "data-shot": String(shot.number) },
      thumb,
      el("p", { class: "shot-name", text: `${shot.number}. ${shot.name || ""}` }),
      el("p", { class: "note shot-facts", text: facts.join(" · ") }),
      el("p", { class: `badge ${shot.state}`, text: stateText }),
      el("button", {
        type: "button", class: "rerender", "data-action": "rerender", "data-focus": `rerender-${shot.number}`,
        text: "Re-render", "aria-label": `Re-render ${label}`, disabled: !view.can_rerender,
        title: view.rerender_note || "A new take of this shot: priced first, then confirmed",
        onclick: () => rerenderShot(view, shot),
      })));
  }
  return strip;
}

function playShot(view, shot) {
  const card = document.querySelector(`.story-card[data-story="${CSS.escape(view.id)}"]`);
  const video = card ? card.querySelector("video.film") : null;
  if (video && shot.start !== null && shot.start !== undefined) {
    video.currentTime = shot.start + 0.01;
    video.play().catch(() => {});
    announce(`Playing the film from shot ${shot.number}.`);
  } else if (shot.key && shot.video_url) {
    openPlayer(shot.key);
  }
}

// The videos list this story's shots, every take: the search finds them by the story's id.
function showShots(view) {
  $("filter-stories").checked = true;
  $("filter-q").value = view.id;
  loadJobs();
  $("filter-q").focus();
  announce(`Listing the shots of ${view.title} among the videos.`);
}

async function finishFilm(view) {
  try {
    await api(`/api/stories/${encodeURIComponent(view.id)}/finish`, { method: "POST", json: {} });
    announce("Finishing the film.");
  } catch (error) {
    window.alert(`Not started: ${error.message}`);
  }
  await loadStories();
}

async function rerenderShot(view, shot) {
  const path = `/api/stories/${encodeURIComponent(view.id)}/shots/${shot.number}/rerender`;
  let quote;
  try {
    quote = await api(path, { method: "POST", json: {} });
  } catch (error) {
    window.alert(`Cannot re-render shot ${shot.number}: ${error.message}`);
    return;
  }
  if (quote.max_cost_usd !== null && quote.quote_usd > quote.max_cost_usd) {
    window.alert(`It would cost ${money(quote.quote_usd)}, over your ${money(quote.max_cost_usd)} limit.`);
    return;
  }
  const others = quote.shots.filter((s) => s.number !== shot.number);
  const along = others.length
    ? `, with ${others.map((s) => `shot ${s.number} (${s.name})`).join(", ")}, which must follow it,`
    : "";
  const ok = await confirmDialog(
    `Re-render shot ${shot.number}?`,
    `A new take of shot ${shot.number} (${shot.name})${along} costs ${money(quote.quote_usd)}. ` +
    "The current take's file is kept; the film is assembled again once the new take is ready.",
    `Re-render for ${money(quote.quote_usd)}`,
  );
  if (!ok) return;
  try {
    await api(path, { method: "POST", json: { max_cost_usd: quote.quote_usd, take: quote.take } });
    announce(`Rendering a new take of shot ${shot.number}.`);
  } catch (error) {
    window.alert(`Not started: ${error.message}`);
  }
  await loadStories();
}

loadStories();
document.addEventListener("visibilitychange", () => { if (!document.hidden) loadStories(); });
window.setInterval(() => { if (!document.hidden) loadStories(); }, 20000);
