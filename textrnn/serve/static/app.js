// The page of `textrnn serve`: pick a model, ask it, and see the answer drawn the way people read it. It talks to
// the JSON API of the same server only (no CDN, no other origin), and builds every node with textContent, so no
// text from a model or a user is ever parsed as HTML.
"use strict";

const TAB_NAMES = {predict: "Classify", tag: "Tag", generate: "Generate", complete: "Complete", score: "Score",
                   regress: "Predict", translate: "Translate"};
const ENTITY_COLOURS = ["#fff8c5", "#ddf4ff", "#dafbe1", "#ffebe9", "#fbefff", "#fff1e5", "#eaeef2"];
const SERIES_COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#6e7781"];
const $ = (id) => document.getElementById(id);
let models = [];

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "style") for (const [property, v] of Object.entries(value)) node.style.setProperty(property, v);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svgElement(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const value = await response.json();
  if (!response.ok) throw new Error(describeError(response.status, value.detail));
  return value;
}

function describeError(status, detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${d.msg}`).join("\n");
  }
  return `${status}: ${detail}`;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

function current() {
  return models.find((m) => m.name === $("model").value);
}

// ----- choosing a model ------------------------------------------------------------------------------------------------
async function start() {
  try {
    models = await api("/v1/models");
  } catch (error) {
    showError(`could not list the models: ${error.message}`);
    return;
  }
  for (const m of models) $("model").append(element("option", {value: m.name}, `${m.name} (${m.task})`));
  $("model").addEventListener("change", chooseModel);
  for (const form of document.querySelectorAll("form.task")) form.addEventListener("submit", submit);
  $("generate-temperature").addEventListener("input", () => {
    $("generate-temperature-shown").value = Number($("generate-temperature").value).toFixed(2);
  });
  chooseModel();
}

function chooseModel() {
  const model = current();
  showError("");
  $("result").replaceChildren();
  if (!model) return;
  const sides = ["source_vocab", "target_vocab"].filter((name) => name in model.sizes);
  const sizes = [model.labels ? `${model.labels.length} labels` : null,
                 model.vocab_size ? `${model.vocab_size.toLocaleString()} tokens` : null,
                 sides.length === 2 ? `${model.sizes.source_vocab.toLocaleString()} → ${model.sizes.target_vocab.toLocaleString()} tokens` : null,
                 `${model.parameters.toLocaleString()} parameters`].filter(Boolean);
  if (model.settings && model.settings.beam) $("translate-beam").placeholder = `${model.settings.beam} (run's)`;
  $("model-info").textContent = `${model.task} · ${sizes.join(" · ")}`;
  const tabs = $("tabs");
  tabs.replaceChildren();
  model.capabilities.forEach((capability, i) => {
    const tab = element("button", {type: "button", role: "tab", "data-capability": capability}, TAB_NAMES[capability] || capability);
    tab.addEventListener("click", () => chooseTab(capability));
    tabs.append(tab);
    if (i === 0) chooseTab(capability);
  });
  drawTraining(model);
}

function chooseTab(capability) {
  for (const tab of $("tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.capability === capability));
  for (const form of document.querySelectorAll("form.task")) form.hidden = form.dataset.capability !== capability;
  $("result").replaceChildren();
  showError("");
}

// ----- asking --------------------------------------------------------------------------------------------------------
function requestOf(capability) {
  const text = $(`${capability}-text`).value;
  const number = (id) => Number($(id).value);
  switch (capability) {
    case "predict": return {texts: [text], top: number("predict-top")};
    case "tag": return {texts: [text]};
    case "generate": {
      const body = {prompt: text, max_tokens: number("generate-max"), temperature: number("generate-temperature"),
                    top_k: number("generate-top-k"), top_p: number("generate-top-p")};
      if ($("generate-seed").value !== "") body.seed = number("generate-seed");
      return body;
    }
    case "complete": {
      const candidates = $("complete-candidates").value.split(",").map((c) => c.trim()).filter(Boolean);
      return candidates.length ? {text, candidates} : {text, top: number("complete-top")};
    }
    case "score": return {sentences: text.split("\n").map((s) => s.trim()).filter(Boolean)};
    case "regress": return {inputs: JSON.parse(text)};
    case "translate": {
      const body = {texts: text.split("\n").map((s) => s.trim()).filter(Boolean)};
      if ($("translate-beam").value !== "") body.beam = number("translate-beam");
      if ($("translate-attention").checked) body.attention = true;
      return body;
    }
  }
  throw new Error(`unknown capability ${capability}`);
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const capability = form.dataset.capability;
  const button = form.querySelector("button[type=submit]");
  showError("");
  button.disabled = true;
  try {
    const request = requestOf(capability);
    const answer = await api(`/v1/models/${encodeURIComponent(current().name)}/${capability}`, request);
    $("result").replaceChildren(RENDER[capability](answer, request));
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

// ----- answers ---------------------------------------------------------------------------------------------------------
function bars(rows) {
  const box = element("div", {class: "bars"});
  rows.forEach(({label, value}, i) => {
    const row = [element("span", {class: "bar-label"}, label),
                 element("span", {class: "bar-track"}, element("span", {class: "bar-fill", style: {width: `${(100 * value).toFixed(1)}%`}})),
                 element("span", {class: "bar-value"}, `${(100 * value).toFixed(1)}%`)];
    const group = element("div", {class: `bar${i === 0 ? " first" : ""}`, style: {display: "contents"}}, ...row);
    box.append(group);
  });
  return box;
}

function colourOf(type, types) {
  return ENTITY_COLOURS[types.indexOf(type) % ENTITY_COLOURS.length];
}

function renderTagged(results, request) {
  const answer = element("div", {class: "answer"});
  results.forEach((result, n) => {
    const text = request.texts[n].normalize("NFC");   // offsets are into the NFC text, as the tokenizer reads it
    const types = [...new Set(result.entities.map((e) => e.type))].sort();
    const line = element("p", {class: "tagged"});
    let at = 0;
    for (const entity of result.entities) {
      line.append(text.slice(at, entity.start));
      line.append(element("mark", {class: "entity", "data-type": entity.type, style: {background: colourOf(entity.type, types)}},
                          text.slice(entity.start, entity.end), element("span", {class: "type"}, entity.type)));
      at = entity.end;
    }
    line.append(text.slice(at));
    answer.append(line);
    if (!result.entities.length) answer.append(element("p", {class: "muted"}, "no entities found"));
    answer.append(element("div", {class: "legend"}, ...types.map((t) => element("mark", {class: "entity", style: {background: colourOf(t, types)}}, t))));
    answer.append(element("div", {class: "tokens"},
                          result.tokens.map((token, i) => `${token}/${result.tags[i]}`).join("  ")));
  });
  return answer;
}

const RENDER = {
  predict: (results) => {
    const answer = element("div", {class: "answer"});
    for (const r of results) {
      answer.append(element("h3", {}, `${r.label} (${(100 * r.probability).toFixed(1)}%)`));
      answer.append(bars(r.top.map((t) => ({label: t.label, value: t.probability}))));
    }
    return answer;
  },
  tag: renderTagged,
  generate: (result) => element("div", {class: "answer generated"},
                                element("span", {class: "prompt"}, result.prompt), element("span", {class: "new"}, result.text)),
  complete: (result) => element("div", {class: "answer"},
                                element("h3", {}, result.text),
                                bars(result.fills.map((f) => ({label: f.fill, value: f.probability}))),
                                element("p", {class: "muted"}, result.fills.length ? `best: ${result.fills[0].sentence}` : "no fill found")),
  score: (results) => {
    const table = element("table", {class: "scores"},
                          element("tr", {}, element("th", {}, "sentence"), element("th", {}, "log-probability"), element("th", {}, "perplexity")));
    for (const r of results) {
      table.append(element("tr", {}, element("td", {}, r.text), element("td", {class: "number"}, r.logprob.toFixed(2)),
                           element("td", {class: "number"}, r.perplexity.toFixed(1))));
    }
    return element("div", {class: "answer"}, table);
  },
  regress: (result) => element("pre", {class: "answer"}, JSON.stringify(result.predictions)),
  translate: (results) => {
    const answer = element("div", {class: "answer"});
    for (const r of results) {
      answer.append(element("p", {class: "source muted"}, r.source));
      answer.append(r.translation ? element("p", {class: "translation"}, r.translation)
                                  : element("p", {class: "translation muted"}, "(an empty translation)"));
      answer.append(element("p", {class: "muted"}, `log-probability ${r.logprob.toFixed(2)}`));
      if (r.attention) answer.append(heatMap(r.attention, r.source_tokens, r.target_tokens));
    }
    return answer;
  },
};

// one row per target token, one column per source token; a cell's shade is its attention weight
function heatMap(weights, sourceTokens, targetTokens) {
  const table = element("table", {class: "attention", "aria-label": "attention weights"});
  table.append(element("tr", {}, element("th", {}), ...sourceTokens.map((t) => element("th", {class: "source-token"}, t))));
  weights.forEach((row, i) => {
    table.append(element("tr", {}, element("th", {}, targetTokens[i]),
                         ...row.map((w) => element("td", {title: w.toFixed(3), style: {"--weight": w.toFixed(3)}}))));
  });
  return table;
}

// ----- training curves -----------------------------------------------------------------------------------------------
async function drawTraining(model) {
  const box = $("curves");
  box.replaceChildren();
  const headline = Object.entries(model.metrics.test || model.metrics.valid || {})
    .filter(([, v]) => typeof v === "number" && !Number.isInteger(v)).slice(0, 6)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`).join(" · ");
  if (headline) box.append(element("p", {class: "metrics"}, `${model.metrics.test ? "test" : "validation"}: ${headline}`));
  if (!model.history) {
    box.append(element("p", {class: "muted"}, "This run has no history.json."));
    return;
  }
  const history = await api(`/v1/models/${encodeURIComponent(model.name)}/history`);
  const epochs = history.epochs || [];
  if (!epochs.length) {
    box.append(element("p", {class: "muted"}, "No epoch finished."));
    return;
  }
  const keys = Object.keys(epochs[0]).filter((k) => epochs.every((e) => typeof e[k] === "number"));
  const losses = keys.filter((k) => k === "train_loss" || k === "valid_loss");
  const shares = keys.filter((k) => k.startsWith("valid_") && k !== "valid_loss" && k !== "valid_n" &&
                                    epochs.every((e) => e[k] >= 0 && e[k] <= 1));
  box.append(chart("loss", epochs, losses));
  if (shares.length) box.append(chart("validation", epochs, shares.slice(0, SERIES_COLOURS.length)));
  box.append(element("p", {class: "muted"}, `${epochs.length} epoch(s), best at ${history.best_epoch}; ${history.stopped}`));
}

function chart(title, epochs, keys) {
  const width = 420, height = 170, left = 42, right = 10, top = 10, bottom = 24;
  const values = keys.flatMap((k) => epochs.map((e) => e[k])).filter(Number.isFinite);
  let low = Math.min(...values), high = Math.max(...values);
  if (low === high) { low -= 0.5; high += 0.5; }
  const x = (i) => left + (epochs.length === 1 ? 0.5 : i / (epochs.length - 1)) * (width - left - right);
  const y = (v) => top + (1 - (v - low) / (high - low)) * (height - top - bottom);
  const svg = svgElement("svg", {viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title} by epoch`});
  svg.append(svgElement("line", {class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom}));
  svg.append(svgElement("line", {class: "axis", x1: left, y1: top, x2: left, y2: height - bottom}));
  for (const v of [low, (low + high) / 2, high]) {
    const label = svgElement("text", {x: left - 4, y: y(v) + 3, "text-anchor": "end"});
    label.textContent = v.toPrecision(3);
    svg.append(label);
  }
  const last = svgElement("text", {x: width - right, y: height - 6, "text-anchor": "end"});
  last.textContent = `epoch ${epochs.length}`;
  svg.append(last);
  keys.forEach((key, n) => {
    const colour = SERIES_COLOURS[n % SERIES_COLOURS.length];
    const points = epochs.map((e, i) => `${x(i).toFixed(1)},${y(e[key]).toFixed(1)}`).join(" ");
    svg.append(svgElement("polyline", {points, fill: "none", stroke: colour, "stroke-width": 2}));
    epochs.forEach((e, i) => svg.append(svgElement("circle", {cx: x(i), cy: y(e[key]), r: 2.5, fill: colour})));
  });
  const legend = element("div", {class: "series-key"},
                         ...keys.map((k, n) => element("span", {style: {"--swatch": SERIES_COLOURS[n % SERIES_COLOURS.length]}}, k)));
  return element("div", {class: "chart"}, element("h3", {class: "muted"}, title), svg, legend);
}

start();
