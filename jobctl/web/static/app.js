// jobctl admin: a few lines of progressive enhancement. Every page works without this file;
// with it, drawers open in place, forms preview as you choose, and live parts refresh every second.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const FINAL = ["success", "failed", "cancelled"];

  async function get(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html,application/json" } });
    if (r.redirected && r.url.includes("/admin/login")) { location.reload(); throw new Error("logged out"); }
    if (!r.ok) throw new Error(r.status);
    return (r.headers.get("content-type") || "").includes("json") ? r.json() : r.text();
  }

  // Run New Job / Bulk Enqueue open their drawer.
  $$("[data-toggle]").forEach(btn => btn.addEventListener("click", () => {
    const box = document.getElementById(btn.dataset.toggle);
    const open = box.hidden;
    box.hidden = !open;
    btn.setAttribute("aria-expanded", String(open));
    if (open) { box.scrollIntoView({ block: "nearest" }); const f = $("select, input:not([type=hidden])", box); if (f) f.focus(); }
  }));

  // Choosing a job shows its description and typed parameter fields.
  const jobSel = $("#run-job");
  if (jobSel) jobSel.addEventListener("change", async () => {
    $("#run-fields").innerHTML = await get(jobSel.dataset.fieldsUrl + "?job=" + encodeURIComponent(jobSel.value));
  });

  // Choosing a group (or all jobs) previews the jobs that will run, in order.
  const bulk = $("#bulk-form");
  if (bulk) {
    const preview = async () => {
      const mode = ($("input[name=mode]:checked", bulk) || {}).value || "group";
      const group = $("#bulk-group").value;
      const html = await get(bulk.dataset.planUrl + "?mode=" + mode + "&bulk_group=" + encodeURIComponent(group));
      $("#plan-preview").outerHTML = html;
    };
    $("#bulk-group").addEventListener("change", () => { $("input[value=group]", bulk).checked = true; preview(); });
    $$("input[name=mode]", bulk).forEach(r => r.addEventListener("change", preview));
  }

  // The panel: active jobs, the stalled banner and unfinished history rows, every second.
  const active = $("#active-slot");
  if (active) {
    const tick = async () => {
      const ids = $$("#history-body tr").filter(tr => !FINAL.includes(tr.dataset.status)).map(tr => tr.dataset.jobId);
      try {
        const data = await get(active.dataset.liveUrl + "?ids=" + ids.join(","));
        if (data.problem) return;
        active.innerHTML = data.active;
        $("#stalled-slot").innerHTML = data.stalled;
        for (const [id, html] of Object.entries(data.rows)) {
          const tr = document.getElementById("job-" + id);
          if (tr) tr.outerHTML = html;
        }
      } catch (e) { /* the next tick tries again */ }
    };
    setInterval(tick, 1000);
  }

  // One job: refresh its details until it is final.
  const slot = $("#job-slot");
  if (slot) {
    const timer = setInterval(async () => {
      const detail = $("#job-detail", slot);
      if (FINAL.includes(detail.dataset.status)) { clearInterval(timer); return; }
      try { slot.innerHTML = await get(slot.dataset.liveUrl); } catch (e) { /* next tick */ }
    }, 1000);
  }
})();

// A user page waiting for a remedy batch: refresh it until the batch is done.
(function () {
  const slot = document.getElementById("user-slot");
  if (!slot || !slot.dataset.refresh) return;
  const timer = setInterval(async () => {
    try {
      const r = await fetch(location.href, { credentials: "same-origin" });
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("user-slot");
      if (!fresh) return;
      slot.innerHTML = fresh.innerHTML;
      if (!fresh.dataset.refresh) { delete slot.dataset.refresh; clearInterval(timer); }
    } catch (e) { /* next tick */ }
  }, 1000);
})();
