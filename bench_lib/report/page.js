
(() => {
  const missing = (t) => t === "" || t === "-" || /^(not reached|missed)\b/i.test(t);
  const number = (t) => {
    const m = t.replace(/,/g, "").match(/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i);
    return m ? Number(m[0]) : null;
  };
  for (const table of document.querySelectorAll("table")) {
    if (!table.tHead || !table.tBodies.length) continue;
    const heads = [...table.tHead.rows[0].cells];
    heads.forEach((th, col) => {
      th.tabIndex = 0;
      const sort = () => {
        const body = table.tBodies[0];
        const rows = [...body.rows].map((row) => {
          const text = (row.cells[col] ? row.cells[col].textContent : "").replace(/\*\*/g, "").trim();
          return { row, text, gone: missing(text), num: number(text) };
        });
        const numeric = rows.every((r) => r.gone || r.num !== null);
        const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        rows.sort((a, b) => {
          if (a.gone || b.gone) return a.gone - b.gone;
          return dir * (numeric ? a.num - b.num : a.text.localeCompare(b.text, undefined, { numeric: true }));
        });
        heads.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        body.append(...rows.map((r) => r.row));
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
      });
    });
  }
})();
