// deniedwatch scan report: charts (Vega-Lite via vega-embed) and a filterable, sortable
// table. Record text is attacker-written: it only ever goes in through textContent.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const MAX_ROWS = 500; // rows drawn at once; the filter narrows the rest

  document.getElementById("generated").textContent = "Generated " + data.generated;
  const summary = document.getElementById("summary");
  for (const line of data.summary) {
    const li = document.createElement("li");
    li.textContent = line;
    if (/^\d+ bad |bad (files|records)|outside/.test(line)) li.className = "warn";
    summary.appendChild(li);
  }

  // ---- charts ------------------------------------------------------------------------
  for (const [id, spec] of Object.entries(data.charts)) {
    const target = document.getElementById(id);
    if (!spec.data.values.length) {
      target.textContent = spec.title + ": nothing to show";
      continue;
    }
    // ast: Vega's interpreter instead of generated code (the page's CSP has no eval)
    vegaEmbed(target, spec, { actions: false, renderer: "svg", ast: true }).catch(function (e) {
      console.error("chart " + id + ": " + e);
    });
  }

  // ---- table -------------------------------------------------------------------------
  const t = data.table;
  const col = Object.fromEntries(t.columns.map((name, i) => [name, i]));
  const HEAD = [
    ["time", "When (UTC)"], ["account", "Account"], ["region", "Region"], ["who", "Who"],
    ["from", "From"], ["action", "Action"], ["resource", "Resource"], ["error", "Error"],
    ["why", "Why"], ["event_id", "Event id"],
  ];
  // identifiers never break inside; free text wraps
  const CLASS = {
    time: "id", account: "acct", event_id: "id", region: "code", error: "code", from: "text",
    who: "text", action: "text", why: "text", resource: "long",
  };
  const text = (row, name) => t.strings[row[col[name]]];
  // the partition's console host (row[col.link] is 1 + its string index), then the path
  const link = (row) => t.strings[row[col.link] - 1] + t.console_path
    .split("{region}").join(text(row, "region"))
    .split("{event_id}").join(text(row, "event_id"));
  // one lower-case haystack per row, built once: filtering 10,000 rows stays instant
  const hay = t.rows.map((row) => HEAD.map(([name]) => text(row, name)).join("\u0000").toLowerCase());

  let order = t.rows.map((_, i) => i);
  let sortBy = "time";
  let ascending = true;
  const thead = document.querySelector("#table thead");
  const tbody = document.querySelector("#table tbody");
  const shown = document.getElementById("shown");
  const filter = document.getElementById("filter");

  const tr = document.createElement("tr");
  for (const [name, title] of HEAD) {
    const th = document.createElement("th");
    th.textContent = title;
    th.dataset.col = name;
    th.addEventListener("click", function () {
      ascending = sortBy === name ? !ascending : true;
      sortBy = name;
      sort();
      draw();
    });
    tr.appendChild(th);
  }
  thead.appendChild(tr);

  function sort() {
    const i = col[sortBy];
    const sign = ascending ? 1 : -1;
    order.sort((a, b) => {
      const x = t.strings[t.rows[a][i]], y = t.strings[t.rows[b][i]];
      return x < y ? -sign : x > y ? sign : a - b;
    });
    for (const th of thead.querySelectorAll("th")) {
      if (th.dataset.col === sortBy) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  function draw() {
    const needle = filter.value.trim().toLowerCase();
    const hits = needle ? order.filter((i) => hay[i].includes(needle)) : order;
    const frag = document.createDocumentFragment();
    for (const i of hits.slice(0, MAX_ROWS)) {
      const row = t.rows[i];
      const r = document.createElement("tr");
      for (const [name] of HEAD) {
        const td = document.createElement("td");
        td.className = CLASS[name] || "";
        if (name === "event_id" && row[col.link]) {
          const a = document.createElement("a");
          a.href = link(row);
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          a.textContent = text(row, name);
          td.appendChild(a);
        } else {
          td.textContent = text(row, name);
        }
        r.appendChild(td);
      }
      frag.appendChild(r);
    }
    tbody.replaceChildren(frag);
    const total = t.rows.length;
    shown.textContent = hits.length > MAX_ROWS
      ? `showing the first ${MAX_ROWS} of ${hits.length} matching (of ${total}); filter to narrow`
      : `${hits.length} of ${total} findings`;
  }

  let pending = 0;
  filter.addEventListener("input", function () {
    clearTimeout(pending);
    pending = setTimeout(draw, 80);
  });
  sort();
  draw();
})();
