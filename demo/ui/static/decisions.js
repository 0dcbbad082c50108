// The decisions panel in the browser: the threshold and top-k inputs, and for every model its
// ten outputs as bars, its predicted set and its scores. A move of either input re-decides here,
// with no script run on the server; the new rule is sent to the server once the input has been
// still for SYNC_DELAY_MS, so that the page's address keeps carrying it.
//
// The rule is the one of core.evaluation: a class is predicted when its output is at least the
// threshold; top-k (k > 0) keeps the k largest outputs, ties going to the class that comes first.

const SYNC_DELAY_MS = 600;
const STATES = new WeakMap(); // per mounted panel: the rule shown and the last one sent

function decide(outputs, threshold, topK) {
  if (topK > 0) {
    const order = outputs.map((value, index) => index);
    order.sort((a, b) => outputs[b] - outputs[a] || a - b);
    const kept = new Set(order.slice(0, topK));
    return outputs.map((value, index) => kept.has(index));
  }
  return outputs.map((value) => value >= threshold);
}

function outcomeOf(present, predicted) {
  if (present === null) return predicted ? "above threshold" : "below threshold";
  if (present) return predicted ? "true positive" : "false negative";
  return predicted ? "false positive" : "true negative";
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function classList(names, text) {
  const line = element("p", { class: "ml-line" });
  line.append(element("strong", {}, text.predicted + " "));
  if (!names.length) line.append(element("em", {}, text.nothing));
  names.forEach((name, position) => {
    if (position) line.append(text.separator);
    line.append(element("code", {}, name));
  });
  return line;
}

// A class as the page shows it: its name in the page's language (`classes` are the English names,
// the data the page's tests read).
function shownClass(data, index) {
  return (data.class_labels || data.classes)[index];
}

function outputsTable(model, decided, data, rule, text) {
  const table = element("table", { class: "ml-outputs" });
  table.append(element("caption", { class: "ml-hidden" }, text.table_caption.replace("{model}", model.label)));
  const columns = table.appendChild(element("colgroup"));
  for (const name of ["class", "track", "value", "cue"]) columns.append(element("col", { class: `ml-col-${name}` }));
  const head = element("tr");
  for (const name of text.columns) head.append(element("th", { scope: "col", class: "ml-hidden" }, name));
  table.appendChild(element("thead")).append(head);
  const body = table.appendChild(element("tbody"));
  model.outputs.forEach((value, index) => {
    const present = data.truth === null ? null : Boolean(data.truth[index]);
    const outcome = outcomeOf(present, decided[index]);
    const row = element("tr", { "data-outcome": outcome, "data-output": String(value) });
    row.append(element("th", { scope: "row", class: "ml-class" }, shownClass(data, index)));
    const cell = element("td", { class: "ml-track" });
    const bar = element("span", { class: "ml-bar" });
    bar.style.width = `${(100 * value).toFixed(1)}%`;
    bar.style.background = data.colours[outcome];
    cell.append(bar);
    if (rule.topK === 0) {
      const mark = element("span", { class: "ml-rule", "aria-hidden": "true" });
      mark.style.left = `${(100 * rule.threshold).toFixed(1)}%`;
      cell.append(mark);
    }
    row.append(cell);
    row.append(element("td", { class: "ml-value" }, value.toFixed(2)));
    const cue = element("td", { class: "ml-cue" });
    cue.append(element("span", { "aria-hidden": "true" }, text.cues[outcome]));
    cue.append(element("span", { class: "ml-hidden" }, text.outcomes[outcome]));
    row.append(cue);
    body.append(row);
  });
  return table;
}

function modelSection(model, data, rule, text) {
  const decided = decide(model.outputs, rule.threshold, rule.topK);
  const section = element("section", { class: "ml-model", "data-model": model.name });
  section.append(element("h4", {}, `${model.label} · ${model.title}`));
  section.append(outputsTable(model, decided, data, rule, text));
  const names = data.classes.filter((name, index) => decided[index]);
  const predicted = classList(
    data.classes.map((name, index) => shownClass(data, index)).filter((name, index) => decided[index]),
    text,
  );
  predicted.setAttribute("data-predicted", names.join(","));
  section.append(predicted);
  if (data.truth !== null) {
    const right = decided.filter((value, index) => value === Boolean(data.truth[index])).length;
    const exact = right === decided.length;
    const scores = element("p", { class: "ml-line", "data-exact": String(exact) });
    scores.append(text.exact_match + " ");
    scores.append(element("strong", {}, exact ? text.yes : text.no));
    scores.append(` · ${text.per_label} `);
    scores.append(element("strong", {}, `${Math.round((100 * right) / decided.length)}%`));
    section.append(scores);
  }
  section.append(element("p", { class: "ml-note" }, model.note));
  return section;
}

function legend(data, text) {
  const line = element("p", { class: "ml-key" });
  line.append(text.key + " ");
  const shown = data.truth === null ? ["above threshold", "below threshold"] : data.outcomes;
  shown.forEach((outcome, position) => {
    if (position) line.append(" · ");
    const swatch = element("span", { class: "ml-swatch", "aria-hidden": "true" });
    swatch.style.background = data.colours[outcome];
    line.append(swatch, `${text.cues[outcome]} ${text.outcomes[outcome]}`.trim());
  });
  return line;
}

function controls(state, text) {
  const box = element("div", { class: "ml-controls", role: "group", "aria-label": text.rule });
  if (state.data.controls.includes("threshold")) {
    const label = element("label", { class: "ml-control" });
    label.append(text.threshold + " ");
    // The label's first labelable element is the <output>, so the slider is named itself; the
    // output is for the eye (the slider says its own value).
    const shown = element("output", { class: "ml-threshold-value", "aria-hidden": "true" });
    const input = element("input", {
      type: "range", min: "0", max: "1", step: "0.01", class: "ml-threshold", "aria-label": text.threshold,
    });
    input.addEventListener("input", () => {
      state.threshold = Number(input.value);
      changed(state);
    });
    label.append(shown, input);
    box.append(label);
  }
  if (state.data.controls.includes("topk")) {
    const label = element("label", { class: "ml-control ml-control-small" });
    label.append(text.top_k + " ");
    const input = element("input", {
      type: "number", min: "0", max: "10", step: "1", class: "ml-top-k", "aria-label": text.top_k,
    });
    input.addEventListener("input", () => {
      const value = Number(input.value);
      if (input.value === "" || !Number.isInteger(value) || value < 0 || value > 10) return;
      state.topK = value;
      changed(state);
    });
    label.append(input);
    box.append(label);
  }
  return box;
}

function showRule(state) {
  const root = state.root;
  const slider = root.querySelector(".ml-threshold");
  if (slider !== null && Number(slider.value) !== state.threshold) slider.value = String(state.threshold);
  const shown = root.querySelector(".ml-threshold-value");
  if (shown !== null) shown.textContent = state.threshold.toFixed(2);
  const topK = root.querySelector(".ml-top-k");
  if (topK !== null && document.activeElement !== topK) topK.value = String(state.topK);
  const models = root.querySelector(".ml-models");
  const rule = { threshold: state.threshold, topK: state.topK };
  const data = state.data;
  models.replaceChildren(...data.models.map((model) => modelSection(model, data, rule, data.text)));
  models.style.gridTemplateColumns = `repeat(${Math.max(1, data.models.length)}, minmax(0, 1fr))`;
}

// A move of an input: re-decide at once, tell the server once the input has been still.
function changed(state) {
  showRule(state);
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    state.told = `${state.threshold}|${state.topK}`;
    state.setStateValue("rule", { threshold: state.threshold, top_k: state.topK });
  }, SYNC_DELAY_MS);
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let state = STATES.get(parentElement);
  if (state === undefined) {
    state = { threshold: data.threshold, topK: data.top_k, told: null, timer: null };
    STATES.set(parentElement, state);
  }
  state.data = data;
  state.setStateValue = setStateValue;
  // A rule the server chose (a link, a lesson step) replaces the browser's; the echo of the
  // rule this panel sent does not.
  const told = `${data.threshold}|${data.top_k}`;
  if (state.told !== null && told !== state.told) {
    state.threshold = data.threshold;
    state.topK = data.top_k;
  }
  state.told = told;
  // The inputs are built again when they change, or their words do (the page's language).
  const words = [data.text.rule, data.text.threshold, data.text.top_k].join("|");
  const layout = `${data.controls.join(",")}|${data.truth === null}|${words}`;
  if (!state.root || !state.root.isConnected || state.layout !== layout) {
    state.root = element("div", { class: "ml-decisions" });
    state.root.append(controls(state, data.text), element("p"), element("div", { class: "ml-models" }));
    // The host comes from the component's HTML; its siblings hold the component's CSS.
    parentElement.querySelector(".ml-host").replaceChildren(state.root);
    state.layout = layout;
  }
  state.root.children[1].replaceWith(legend(data, data.text));
  showRule(state);
}
