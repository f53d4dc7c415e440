// waveplan board: plan list and live plan page. No build step, no dependencies.
// State comes from /api/plans/<id>; changes arrive as Server-Sent Events (the store's
// change feed), each carrying the events, the changed cards and the new summary.
"use strict";

(function () {
  const CSRF = document.querySelector('meta[name="waveplan-csrf"]').content;
  const main = document.getElementById("main");
  const live = document.getElementById("live");
  const crumb = document.getElementById("crumb");
  const drawer = document.getElementById("drawer");
  // Read by the browser tests and bench/board.py.
  const probe = (window.__board = { renders: [], updates: 0, lastUpdateAt: 0, cursor: 0 });
  let state = null;
  let source = null;
  let openTask = null;

  // ------------------------------------------------------------------ helpers

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }
  function dur(sec) {
    if (sec == null || isNaN(sec)) return "–";
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return sec + "s";
    if (sec < 3600) return Math.floor(sec / 60) + "m " + String(sec % 60).padStart(2, "0") + "s";
    if (sec < 86400) return Math.floor(sec / 3600) + "h " + String(Math.floor(sec % 3600 / 60)).padStart(2, "0") + "m";
    return Math.floor(sec / 86400) + "d " + Math.floor(sec % 86400 / 3600) + "h";
  }
  const now = () => Date.now() / 1000;
  const parseTime = (iso) => (iso ? Date.parse(iso) / 1000 : null);
  function when(iso) {
    const t = parseTime(iso);
    return t == null ? "" : new Date(t * 1000).toLocaleTimeString();
  }
  function setLive(on, text) {
    live.textContent = text;
    live.className = "live " + (on ? "on" : "off");
  }
  async function getJSON(url) {
    const r = await fetch(url, { headers: { accept: "application/json" } });
    if (!r.ok) throw new Error((await r.text()) || r.statusText);
    return r.json();
  }
  function timed(name, fn) {
    const t0 = performance.now();
    fn();
    const ms = performance.now() - t0;
    probe.renders.push({ name, ms });
    return ms;
  }

  // ------------------------------------------------------------------ plan list

  function planListHTML(rows) {
    if (!rows.length) return '<p class="muted">No plans in this store yet.</p>';
    const body = rows.map((r) => `
      <tr data-plan="${esc(r.id)}">
        <td><a href="/plans/${encodeURIComponent(r.id)}">${esc(r.id)}</a></td>
        <td><a href="/plans/${encodeURIComponent(r.id)}">${esc(r.name)}</a>
          ${r.goal ? `<div class="muted">${esc(r.goal)}</div>` : ""}</td>
        <td><span class="badge s-${esc(r.status)}">${esc(r.status)}</span></td>
        <td><div class="bar"><span style="width:${r.percent}%"></span></div>
          <span class="muted">${r.finished}/${r.total} · ${r.percent}%</span></td>
        <td>${r.running}</td><td>${r.review}</td><td>${r.waves}</td>
        <td data-since="${esc(r.created_at)}"></td>
      </tr>`).join("");
    return `<table class="plans"><thead><tr><th>ID</th><th>Plan</th><th>Status</th>
      <th>Progress</th><th>Running</th><th>Review</th><th>Waves</th><th>Age</th></tr></thead>
      <tbody>${body}</tbody></table>`;
  }

  async function showPlans() {
    crumb.textContent = "plans";
    document.title = "waveplan board";
    const data = await getJSON("/api/plans");
    timed("plans", () => {
      main.innerHTML = `<h1>Plans</h1><p class="muted">Every plan in this store; each updates live.</p>
        <div id="plans">${planListHTML(data.plans)}</div>`;
    });
    tickAges();
    connect("/api/events?after=" + data.cursor, {
      plans: (d) => { document.getElementById("plans").innerHTML = planListHTML(d.plans); tickAges(); },
    });
  }

  // ------------------------------------------------------------------ plan page

  function cardHTML(c) {
    const bits = [`<span class="badge s-${esc(c.status)}">${esc(c.status)}</span>`,
      `<span>${esc(c.agent)}</span>`];
    if (c.owner) bits.push(`<span>owner ${esc(c.owner)}</span>`);
    if (c.status === "claimed" || c.status === "running") {
      if (c.claimed_at) bits.push(`<span title="since claimed">lease age <b data-age="${c.claimed_at}"></b></span>`);
      if (c.lease_expires_at) bits.push(`<span>lease left <b data-until="${parseTime(c.lease_expires_at)}"></b></span>`);
    }
    if (c.health === "stuck") bits.push(`<span class="flag" title="running with no progress note for longer than ${dur(state.stuck_after)}">stuck</span>`);
    if (c.health === "lapsed") bits.push(`<span class="flag">lease lapsed</span>`);
    if (c.worked > 0 || c.stint_since) {
      bits.push(`<span title="time worked">worked <b ${c.stint_since ? `data-worked="${c.active_seconds}" data-stint="${c.stint_since}"` : ""}>${dur(c.worked)}</b></span>`);
    }
    if (c.estimate != null && c.status !== "done") bits.push(`<span title="estimate from this store's history">est ${dur(c.estimate)}</span>`);
    if (c.retries > 0) bits.push(`<span title="retries">↻ ${c.retries}</span>`);
    if (c.needs_approval) bits.push(`<span class="flag" style="background:var(--review)">approval</span>`);
    const note = c.active_form || c.last_note || c.reason || "";
    return `<div class="card c-${esc(c.status)}" id="card-${esc(c.id)}" data-task="${esc(c.id)}" title="${esc(c.id)}">
      <div class="muted">${esc(c.spec)}${c.type === "checkpoint" ? " · checkpoint" : ""}</div>
      <div class="subj">${esc(c.subject)}</div>
      <div class="meta">${bits.join("")}</div>
      ${note ? `<div class="muted" style="margin-top:3px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">${esc(note)}</div>` : ""}
    </div>`;
  }

  function lanesHTML() {
    return state.waves.map((wave, i) => {
      const cards = wave.map((id) => state.cards[id]).filter(Boolean);
      const done = cards.filter((c) => ["done", "skipped", "cancelled"].includes(c.status)).length;
      return `<div class="lane" data-wave="${i + 1}"><div class="label"><b>Wave ${i + 1}</b>
        <span data-lane-count="${i + 1}">${done}/${cards.length}</span></div>
        <div class="cards">${cards.map(cardHTML).join("")}</div></div>`;
    }).join("");
  }

  function graphSVG() {
    const colW = 190, rowH = 34, nodeW = 160, nodeH = 24, top = 28, left = 12;
    const pos = {};
    let rows = 0;
    state.waves.forEach((wave, w) => {
      wave.forEach((id, i) => { pos[id] = { x: left + w * colW, y: top + i * rowH }; });
      rows = Math.max(rows, wave.length);
    });
    const width = left * 2 + state.waves.length * colW;
    const height = top + rows * rowH + 10;
    const crit = new Set(state.critical_path);
    const critEdge = new Set();
    for (let i = 1; i < state.critical_path.length; i++) critEdge.add(state.critical_path[i - 1] + ">" + state.critical_path[i]);
    const parts = [];
    state.waves.forEach((_, w) => parts.push(`<text class="wave-label" x="${left + w * colW}" y="16">Wave ${w + 1}</text>`));
    for (const [a, b] of state.edges) {
      const p = pos[a], q = pos[b];
      if (!p || !q) continue;
      const x1 = p.x + nodeW, y1 = p.y + nodeH / 2, x2 = q.x, y2 = q.y + nodeH / 2, mx = (x1 + x2) / 2;
      parts.push(`<path class="edge${critEdge.has(a + ">" + b) ? " crit" : ""}" d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}"/>`);
    }
    for (const c of state.conflicts_avoided) {
      const p = pos[c.a], q = pos[c.b];
      if (!p || !q) continue;
      const x1 = p.x + nodeW / 2, y1 = p.y + nodeH, x2 = q.x + nodeW / 2, y2 = q.y + nodeH;
      const dip = Math.max(y1, y2) + 14;
      parts.push(`<path class="conflict" d="M${x1},${y1} Q${(x1 + x2) / 2},${dip + 10} ${x2},${y2}"><title>kept apart (${esc(c.kind)}): ${esc(c.path_a)}${c.path_a !== c.path_b ? " / " + esc(c.path_b) : ""}</title></path>`);
    }
    for (const id in pos) {
      const c = state.cards[id];
      if (!c) continue;
      const p = pos[id];
      const label = (c.spec + ": " + c.subject).slice(0, 26);
      parts.push(`<g class="node n-${esc(c.status)}${crit.has(id) ? " crit" : ""}" id="node-${esc(id)}" data-task="${esc(id)}" transform="translate(${p.x},${p.y})"><rect width="${nodeW}" height="${nodeH}"/><text x="6" y="16">${esc(label)}</text><title>${esc(c.id)} · ${esc(c.status)} · ${esc(c.subject)}</title></g>`);
    }
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}">${parts.join("")}</svg>`;
  }

  // The plan's revision and what its last patch (plan_patch) changed.
  function patchHTML(p) {
    if (!p.revision || p.revision < 2) return "";
    const x = p.patch;
    if (!x) return `<p class="muted" id="revision">Revision ${p.revision}</p>`;
    const list = (label, ids) => ids.length ? `${label} ${ids.map(esc).join(", ")}` : "";
    const moved = Object.entries(x.moved || {}).slice(0, 5).map(([t, why]) => `${esc(t)}: ${esc(why)}`);
    const parts = [list("added", x.added), list("removed", x.removed), list("updated", x.updated)].filter(Boolean);
    if (x.moved_count) parts.push(`moved ${x.moved_count}` + (moved.length ? ` (${moved.join("; ")})` : ""));
    return `<p class="muted" id="revision">Revision ${p.revision} · patched by ${esc(x.actor)} at ${esc(x.at)}${x.reason ? " · " + esc(x.reason) : ""}${parts.length ? " · " + parts.join(" · ") : ""}</p>`;
  }

  function headerHTML() {
    const p = state.plan, g = state.progress;
    const counts = Object.entries(g.counts).map(([s, n]) => `<span class="badge s-${esc(s)}">${esc(s)} ${n}</span>`).join(" ");
    return `<h1>${esc(p.name)} <span class="badge s-${esc(p.status)}">${esc(p.status)}</span></h1>
      <div class="muted">${esc(p.id)} · ${esc(p.strategy)} · at most ${p.max_concurrent} at a time · failure policy ${esc(p.failure_policy)}${p.goal ? " · " + esc(p.goal) : ""}</div>
      ${p.halted ? `<p class="error">${esc(p.halted)}</p>` : ""}
      ${patchHTML(p)}
      <div class="summary"><span class="big">${g.finished}/${g.total}</span>
        <div class="bar" style="width:240px"><span style="width:${g.percent}%"></span></div>
        <span>${g.percent}% finished</span> ${counts}</div>`;
  }

  function resultsHTML() {
    const r = state.results, eta = state.eta, pr = state.predicted;
    const rows = [
      ["Wall-clock", dur(r.wall_seconds) + (state.plan.status === "open" ? " so far" : "")],
      ["Agent time (summed)", dur(r.agent_seconds)],
      ["Parallelism", r.parallelism == null ? "–" : r.parallelism.toFixed(2) + "×"],
      ["Retries", r.retries],
      ["Critical path", state.critical_path.map((t) => esc(t.split(".").slice(1).join(".") || t)).join(" → ") + ` (${dur(r.critical_path_seconds)} worked)`],
    ];
    let etaHTML = "";
    if (eta) {
      etaHTML = `<h3 style="margin:10px 0 4px">ETA <span class="est">estimate</span></h3>
        <div id="eta"><b>${dur(eta.remaining_low)} – ${dur(eta.remaining_high)}</b> left
        (median ${dur(eta.remaining_mid)}; finishing ${new Date(eta.finish_low * 1000).toLocaleTimeString()}–${new Date(eta.finish_high * 1000).toLocaleTimeString()})</div>
        <div class="muted">${esc(eta.method)}${eta.default_used ? "; tasks with no history count a stated default of 10 min (5–20 min)" : ""}</div>`;
    }
    let predHTML = "";
    if (pr) {
      predHTML = `<h3 style="margin:10px 0 4px">Predicted vs actual <span class="est">estimate</span></h3>
        <div id="predicted">predicted at start: ${dur(pr.low)} – ${dur(pr.high)} (median ${dur(pr.mid)})${pr.default_used ? " with defaults" : ""};
        actual: <b>${pr.actual == null ? "running" : dur(pr.actual)}</b></div>`;
    }
    const durs = Object.entries(r.durations).sort((a, b) => b[1] - a[1]).slice(0, 12);
    const predTasks = pr ? pr.tasks : {};
    const durHTML = durs.length ? `<h3 style="margin:10px 0 4px">Longest tasks</h3><table class="dur">${durs.map(([id, s]) => {
      const c = state.cards[id];
      const p = predTasks[id];
      return `<tr><td>${esc(c ? c.spec : id)}</td><td class="n">${dur(s)}</td><td class="n muted">${p ? "pred " + dur(p.predicted) : ""}</td><td class="n muted">${c && c.retries ? "↻" + c.retries : ""}</td></tr>`;
    }).join("")}</table>` : "";
    return `<dl class="kv" id="results">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>${etaHTML}${predHTML}${durHTML}`;
  }

  function approvalsHTML() {
    if (!state.checkpoints.length) return '<p class="muted">Nothing waits for approval.</p>';
    return state.checkpoints.map((cp) => `<div class="approval" data-approval="${esc(cp.id)}">
      <b>${esc(cp.subject)}</b> <span class="muted">${esc(cp.id)}</span>
      ${cp.approvers.length ? `<div class="muted">approvers: ${cp.approvers.map(esc).join(", ")}</div>` : ""}
      <textarea placeholder="feedback (needed to revise or reject)"></textarea>
      <button class="approve" data-decision="approve">Approve</button>
      <button data-decision="revise">Revise</button>
      <button class="reject" data-decision="reject">Reject</button>
      <span class="msg muted"></span></div>`).join("");
  }

  function eventHTML(e) {
    const c = e.task_id && state.cards[e.task_id];
    const what = e.to ? `${esc(e.from || "–")} → <span class="badge s-${esc(e.to)}">${esc(e.to)}</span>` : esc(e.kind);
    return `<li><span class="when">${esc(when(e.at))}</span><b>${esc(c ? c.spec : e.task_id || "plan")}</b> ${what}
      <span class="muted">${esc(e.actor)}</span>${e.note ? ` — ${esc(e.note)}` : ""}</li>`;
  }

  function renderPlan() {
    return timed("plan", () => {
      main.innerHTML = `<div id="head">${headerHTML()}</div>
      <div class="grid"><div>
        <h2>Waves</h2><div class="lanes" id="lanes">${lanesHTML()}</div>
        <h2>Dependency graph</h2>
        <div class="legend">arrows: dependencies · bold: critical path · <span class="dash"></span> same-wave conflict the schedule avoided (hover for the path)</div>
        <div class="graph" id="graph">${graphSVG()}</div>
      </div><div>
        <div class="panel"><h2 style="margin-top:0">Waiting for approval</h2><div id="approvals" data-key="${esc(state.checkpoints.map((c) => c.id).join(" "))}">${approvalsHTML()}</div></div>
        <div class="panel"><h2 style="margin-top:0">Run results</h2><div id="results-panel">${resultsHTML()}</div></div>
        <div class="panel"><h2 style="margin-top:0">Activity</h2><ul class="activity" id="activity">${state.activity.slice().reverse().map(eventHTML).join("")}</ul></div>
      </div></div>`;
      tickAges();
    });
  }

  function renderSummary() {
    document.getElementById("head").innerHTML = headerHTML();
    // Keep what someone is typing: redraw the approvals only when the set changes.
    const approvals = document.getElementById("approvals");
    const key = state.checkpoints.map((c) => c.id).join(" ");
    if (approvals.dataset.key !== key) {
      approvals.innerHTML = approvalsHTML();
      approvals.dataset.key = key;
    }
    document.getElementById("results-panel").innerHTML = resultsHTML();
  }

  function patchCard(c) {
    const el = document.getElementById("card-" + c.id);
    if (el) {
      const tmp = document.createElement("div");
      tmp.innerHTML = cardHTML(c);
      const fresh = tmp.firstElementChild;
      fresh.classList.add("flash");
      el.replaceWith(fresh);
    }
    const node = document.getElementById("node-" + c.id);
    if (node) node.setAttribute("class", node.getAttribute("class").replace(/\bn-\w+/, "n-" + c.status));
  }

  function laneCounts() {
    state.waves.forEach((wave, i) => {
      const el = document.querySelector(`[data-lane-count="${i + 1}"]`);
      if (!el) return;
      const cards = wave.map((id) => state.cards[id]).filter(Boolean);
      el.textContent = cards.filter((c) => ["done", "skipped", "cancelled"].includes(c.status)).length + "/" + cards.length;
    });
  }

  function applyUpdate(d) {
    const t0 = performance.now();
    if (d.snapshot) {
      state = d.snapshot;
      renderPlan();
    } else {
      for (const id in d.cards || {}) { state.cards[id] = d.cards[id]; patchCard(d.cards[id]); }
      if (d.summary) { Object.assign(state, d.summary); renderSummary(); laneCounts(); }
      const list = document.getElementById("activity");
      if (list && d.events && d.events.length) {
        list.insertAdjacentHTML("afterbegin", d.events.slice().reverse().map(eventHTML).join(""));
        while (list.children.length > 200) list.lastElementChild.remove();
      }
      tickAges();
    }
    if (openTask && (d.events || []).some((e) => e.task_id === openTask)) showTask(openTask);
    probe.updates += 1;
    probe.lastUpdateAt = Date.now();
    probe.cursor = d.cursor || (d.snapshot && d.snapshot.cursor) || probe.cursor;
    probe.renders.push({ name: "update", ms: performance.now() - t0 });
  }

  async function showPlan(planId) {
    crumb.innerHTML = `<a href="/" style="color:#fff">plans</a> / ${esc(planId)}`;
    try {
      state = await getJSON("/api/plans/" + encodeURIComponent(planId));
    } catch (err) {
      main.innerHTML = `<p class="error">${esc(err.message)}</p><p><a href="/">All plans</a></p>`;
      return;
    }
    document.title = state.plan.name + " · waveplan";
    renderPlan();
    probe.cursor = state.cursor;
    connect(`/api/plans/${encodeURIComponent(planId)}/events?after=${state.cursor}`, {
      update: applyUpdate,
      snapshot: (d) => applyUpdate({ snapshot: d }),
      reload: async () => { state = await getJSON("/api/plans/" + encodeURIComponent(planId)); renderPlan(); },
    });
  }

  // ------------------------------------------------------------------ task drawer

  async function showTask(id) {
    openTask = id;
    let t;
    try { t = await getJSON("/api/tasks/" + encodeURIComponent(id)); } catch (err) {
      drawer.innerHTML = `<p class="error">${esc(err.message)}</p>`; drawer.hidden = false; return;
    }
    if (openTask !== id) return;
    const c = (state && state.cards[id]) || {};
    const fields = [["status", `<span class="badge s-${esc(t.status)}">${esc(t.status)}</span>`],
      ["agent", esc(t.agent)], ["owner", esc(t.owner || "–")], ["wave", t.wave], ["attempts", t.attempts],
      ["lease until", esc(t.lease_expires_at || "–")], ["health", esc(c.health || "–")],
      ["writes", t.writes == null ? "(unknown)" : esc(t.writes.join(", ") || "–")],
      ["reads", esc(t.reads.join(", ") || "–")], ["blocked by", esc(t.blockedBy.join(", ") || "–")],
      ["reason", esc(t.reason || "–")]];
    const review = t.status === "review" ? `<div class="approval" data-approval="${esc(t.id)}"><b>Review</b>
      <textarea placeholder="feedback"></textarea><button class="approve" data-decision="approve">Approve</button>
      <button data-decision="revise">Revise</button><button class="reject" data-decision="reject">Reject</button>
      <span class="msg muted"></span></div>` : "";
    drawer.innerHTML = `<button class="close" id="close">✕</button><h1>${esc(t.subject)}</h1>
      <div class="muted">${esc(t.id)}</div>${review}
      <dl class="kv" style="margin-top:8px">${fields.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>
      <h2>Description</h2><pre>${esc(t.rendered_description || t.description || "–")}</pre>
      ${t.output ? `<h2>Output</h2><pre>${esc(t.output)}</pre>` : ""}
      ${t.error ? `<h2>Error</h2><pre>${esc(t.error)}</pre>` : ""}
      <h2>Activity</h2><ul class="activity" id="task-activity">${t.history.slice().reverse().map((e) => eventHTML({ ...e, from: e.from_status, to: e.to_status, task_id: t.id })).join("")}</ul>`;
    drawer.hidden = false;
    document.getElementById("close").onclick = () => { drawer.hidden = true; openTask = null; };
  }

  // ------------------------------------------------------------------ reviews

  async function review(box, decision) {
    const id = box.dataset.approval;
    const feedback = box.querySelector("textarea").value.trim();
    const msg = box.querySelector(".msg");
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    msg.textContent = "sending…";
    try {
      const r = await fetch("/api/tasks/" + encodeURIComponent(id) + "/review", {
        method: "POST",
        headers: { "content-type": "application/json", "x-waveplan-csrf": CSRF },
        body: JSON.stringify({ decision, feedback: feedback || null }),
      });
      const body = await r.json();
      if (!r.ok) throw new Error(body.message || body.error || r.statusText);
      msg.textContent = `${decision}: now ${body.status}`;
    } catch (err) {
      msg.textContent = err.message;
      msg.className = "msg error";
      box.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-decision]");
    if (button) { review(button.closest("[data-approval]"), button.dataset.decision); return; }
    const card = ev.target.closest("[data-task]");
    if (card && !ev.target.closest("a")) showTask(card.dataset.task);
  });

  // ------------------------------------------------------------------ live

  function connect(url, handlers) {
    if (source) source.close();
    source = new EventSource(url);  // reconnects by itself, sending Last-Event-ID
    source.onopen = () => setLive(true, "live");
    source.onerror = () => setLive(false, "reconnecting…");
    for (const [kind, fn] of Object.entries(handlers)) {
      source.addEventListener(kind, (ev) => {
        setLive(true, "live");
        fn(JSON.parse(ev.data));
      });
    }
  }

  function tickAges() {
    const t = now();
    document.querySelectorAll("[data-age]").forEach((el) => { el.textContent = dur(t - Number(el.dataset.age)); });
    document.querySelectorAll("[data-until]").forEach((el) => {
      const left = Number(el.dataset.until) - t;
      el.textContent = left > 0 ? dur(left) : "lapsed";
    });
    document.querySelectorAll("[data-stint]").forEach((el) => {
      el.textContent = dur(Number(el.dataset.worked) + t - Number(el.dataset.stint));
    });
    document.querySelectorAll("[data-since]").forEach((el) => { el.textContent = dur(t - parseTime(el.dataset.since)) + " ago"; });
  }
  setInterval(tickAges, 1000);

  const m = location.pathname.match(/^\/plans\/(.+)$/);
  (m ? showPlan(decodeURIComponent(m[1])) : showPlans()).catch((err) => {
    main.innerHTML = `<p class="error">${esc(err.message)}</p>`;
  });
})();
