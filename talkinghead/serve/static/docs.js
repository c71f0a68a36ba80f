// Renders /openapi.json as a readable list of the routes (no external library or site).
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function typeOf(schema, spec) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(s, spec)).join(" | ");
  if (schema.type === "array") return typeOf(schema.items, spec) + "[]";
  if (schema.format === "binary" || schema.contentMediaType) return "file";
  return schema.type || "";
}

function table(rows, head) {
  const t = el("table");
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", h)));
  t.append(tr);
  for (const r of rows) {
    const row = el("tr");
    r.forEach((c) => row.append(el("td", c)));
    t.append(row);
  }
  return t;
}

async function render() {
  const spec = await (await fetch("/openapi.json")).json();
  const root = document.getElementById("api");
  root.append(el("p", spec.info.description));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el("div", undefined, "op");
      const h = el("h3");
      h.append(el("span", method.toUpperCase(), "method"), el("code", path));
      box.append(h);
      if (op.summary) box.append(el("p", op.summary));
      if (op.description) box.append(el("p", op.description));
      const params = (op.parameters || []).map((p) => [p.name, p.in, typeOf(p.schema, spec),
        (p.description || p.schema.description || "")]);
      const body = op.requestBody && op.requestBody.content;
      if (body) {
        const media = Object.keys(body)[0];
        let schema = body[media].schema;
        if (schema.$ref) schema = spec.components.schemas[schema.$ref.split("/").pop()];
        for (const [name, s] of Object.entries(schema.properties || {})) {
          params.push([name, media === "multipart/form-data" ? "form" : "body", typeOf(s, spec), s.description || ""]);
        }
      }
      if (params.length) box.append(table(params, ["parameter", "in", "type", "meaning"]));
      const answers = Object.entries(op.responses || {}).map(([code, r]) => {
        const c = r.content && Object.values(r.content)[0];
        return [code, r.description || "", c && c.schema ? typeOf(c.schema, spec) : ""];
      });
      box.append(table(answers, ["status", "meaning", "body"]));
      root.append(box);
    }
  }
  root.append(el("h2", "Schemas"));
  for (const [name, s] of Object.entries(spec.components.schemas || {})) {
    if (!s.properties) continue;
    root.append(el("h3", name));
    root.append(table(Object.entries(s.properties).map(([k, v]) => [k, typeOf(v, spec), v.description || ""]),
      ["field", "type", "meaning"]));
  }
}

render();
