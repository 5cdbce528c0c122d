/* The segment rule editor: nested "all / any / none of these" groups of conditions.
 *
 * It edits the JSON in the form's rules textarea (which stays usable by hand, and is what
 * the server reads) and announces every change with a "rules-changed" event, on which
 * htmx refreshes the live count. Field lists, operators and labels come from the server
 * (json_script elements), so the editor offers exactly what the compiler accepts.
 */
(function () {
  "use strict";
  const host = document.getElementById("rule-editor");
  if (!host) return;
  const textarea = document.getElementById(host.dataset.target);
  const schema = JSON.parse(document.getElementById("rule-editor-schema").textContent);
  const labels = JSON.parse(document.getElementById("rule-editor-labels").textContent);
  const fieldsByKey = Object.fromEntries(schema.fields.map((field) => [field.key, field]));
  const predicates = Object.fromEntries(schema.predicates.map((predicate) => [predicate.type, predicate]));
  const noValue = new Set(schema.no_value);
  let uid = 0;

  function parse() {
    try {
      const value = JSON.parse(textarea.value || "{}");
      if (value && (value.type === "group" || Array.isArray(value.rules))) return value;
    } catch (error) { /* the textarea shows the text as typed; the server explains the error */ }
    return {type: "group", match: "all", rules: []};
  }
  let root = parse();

  function sync() {
    textarea.value = JSON.stringify(root);
    document.body.dispatchEvent(new CustomEvent("rules-changed"));
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    });
    (children || []).forEach((child) => child && node.appendChild(child));
    return node;
  }

  function labelled(text, control) {
    const id = "rule-input-" + (++uid);
    control.id = id;
    return element("div", {}, [element("label", {for: id, text: text}), control]);
  }

  function select(options, value, onchange, multiple) {
    const control = element("select", multiple ? {multiple: "multiple", size: Math.min(5, options.length)} : {});
    options.forEach(([optionValue, optionLabel]) => {
      const option = element("option", {value: optionValue, text: optionLabel});
      const values = Array.isArray(value) ? value.map(String) : [String(value ?? "")];
      if (values.includes(String(optionValue))) option.selected = true;
      control.appendChild(option);
    });
    control.addEventListener("change", () => onchange(multiple
      ? Array.from(control.selectedOptions).map((option) => option.value) : control.value));
    return control;
  }

  function input(type, value, onchange) {
    const control = element("input", {type: type});
    control.value = value ?? "";
    control.addEventListener("input", () => onchange(control.value));
    return control;
  }

  // --- values ---------------------------------------------------------------------
  function inputType(kind) {
    return {number: "number", date: "date", datetime: "date", reference: "number"}[kind] || "text";
  }

  function valueControls(rule, kind, choices) {
    const operator = rule.operator;
    if (!operator || noValue.has(operator)) return [];
    const set = (value) => { rule.value = value; sync(); };
    if (operator === "between") {
      const pair = Array.isArray(rule.value) ? rule.value.slice(0, 2) : ["", ""];
      const part = (index) => input(inputType(kind), pair[index], (value) => { pair[index] = value; set(pair.slice()); });
      return [labelled(labels.value, part(0)), labelled(labels.and, part(1))];
    }
    if (operator === "within_last_days" || operator === "more_than_days_ago") {
      return [labelled(labels.value, input("number", rule.value, set))];
    }
    const many = operator === "in" || operator === "not_in";
    if (choices && choices.length) {
      return [labelled(labels.value, select(many ? choices : [["", "—"], ...choices], rule.value, set, many))];
    }
    if (many) {
      const text = Array.isArray(rule.value) ? rule.value.join(", ") : (rule.value ?? "");
      const control = input("text", text, (value) => set(value.split(",").map((item) => item.trim()).filter(Boolean)));
      control.title = labels.values_hint;
      return [labelled(labels.value, control)];
    }
    return [labelled(labels.value, input(inputType(kind), rule.value, set))];
  }

  function operatorControl(rule, kind, rerender) {
    const operators = schema.operators[kind] || [];
    if (!operators.some(([value]) => value === rule.operator)) rule.operator = operators.length ? operators[0][0] : "";
    return labelled(labels.operator, select(operators, rule.operator, (value) => {
      rule.operator = value;
      if (noValue.has(value)) delete rule.value;
      sync(); rerender();
    }));
  }

  // --- one condition --------------------------------------------------------------
  function conditionBody(rule, rerender) {
    const parts = [];
    if (rule.type === "field") {
      if (!fieldsByKey[rule.field]) rule.field = schema.fields[0].key;
      parts.push(labelled(labels.field, select(schema.fields.map((field) => [field.key, field.label]), rule.field,
        (value) => { rule.field = value; delete rule.value; sync(); rerender(); })));
      const field = fieldsByKey[rule.field];
      parts.push(operatorControl(rule, field.kind, rerender));
      parts.push(...valueControls(rule, field.kind, field.choices));
    } else if (rule.type === "custom_field") {
      rule.target = rule.target || "contact";
      parts.push(labelled(labels.kind, select([["contact", labels.custom_target_contact],
        ["account", labels.custom_target_account]], rule.target,
        (value) => { rule.target = value; delete rule.key; sync(); rerender(); })));
      const definitions = schema.custom_fields[rule.target] || [];
      if (!definitions.length) {
        parts.push(element("p", {text: labels.no_custom}));
        return parts;
      }
      if (!definitions.some((definition) => definition.key === rule.key)) {
        if (rule.key) definitions.unshift({key: rule.key, label: rule.key, kind: "text", choices: []});
        else rule.key = definitions[0].key;
      }
      const definition = definitions.find((item) => item.key === rule.key);
      parts.push(labelled(labels.field, select(definitions.map((item) => [item.key, item.label]), rule.key,
        (value) => { rule.key = value; delete rule.value; sync(); rerender(); })));
      parts.push(operatorControl(rule, definition.kind, rerender));
      parts.push(...valueControls(rule, definition.kind, definition.choices));
    } else if (rule.type === "tag") {
      if (!schema.tag_operators.some(([value]) => value === rule.operator)) rule.operator = "has_any";
      parts.push(labelled(labels.operator, select(schema.tag_operators, rule.operator,
        (value) => { rule.operator = value; sync(); })));
      const text = Array.isArray(rule.value) ? rule.value.join(", ") : "";
      const control = input("text", text, (value) => {
        rule.value = value.split(",").map((item) => item.trim()).filter(Boolean); sync();
      });
      control.title = labels.values_hint;
      parts.push(labelled(labels.value, control));
    } else if (predicates[rule.type]) {
      predicates[rule.type].parameters.forEach((parameter) => {
        const set = (value) => {
          if (value === "" || (Array.isArray(value) && !value.length)) delete rule[parameter.name];
          else rule[parameter.name] = parameter.input === "number" || parameter.input === "campaign"
            || parameter.input === "event" ? Number(value) : value;
          sync();
        };
        if (parameter.input === "choice") {
          parts.push(labelled(parameter.label, select([["", labels.any], ...parameter.choices],
            rule[parameter.name], set)));
        } else if (parameter.input === "list") {
          const text = Array.isArray(rule[parameter.name]) ? rule[parameter.name].join(", ") : "";
          parts.push(labelled(parameter.label, input("text", text,
            (value) => set(value.split(",").map((item) => item.trim()).filter(Boolean)))));
        } else {
          const type = parameter.input === "text" ? "text" : "number";
          parts.push(labelled(parameter.label, input(type, rule[parameter.name], set)));
        }
      });
    }
    return parts;
  }

  function conditionNode(rule, parent, index) {
    const row = element("div", {class: "rule-condition"});
    const rerender = () => row.replaceWith(conditionNode(rule, parent, index));
    const typeOptions = schema.predicates.map((predicate) => [predicate.type, predicate.label]);
    row.appendChild(labelled(labels.kind, select(typeOptions, rule.type, (value) => {
      Object.keys(rule).forEach((key) => delete rule[key]);
      rule.type = value;
      sync(); rerender();
    })));
    conditionBody(rule, rerender).forEach((part) => row.appendChild(part));
    row.appendChild(element("button", {type: "button", class: "secondary outline", text: labels.remove,
      onclick: () => { parent.rules.splice(parent.rules.indexOf(rule), 1); sync(); render(); }}));
    return row;
  }

  // --- groups ---------------------------------------------------------------------
  function groupNode(group, parent, depth) {
    group.type = "group";
    group.match = group.match || "all";
    group.rules = Array.isArray(group.rules) ? group.rules : [];
    const box = element("fieldset", {class: "rule-group"});
    box.appendChild(element("legend", {text: depth === 0 ? labels.match : labels.add_group}));
    const head = element("div", {class: "rule-group-head"});
    head.appendChild(labelled(labels.match, select(schema.match_options, group.match,
      (value) => { group.match = value; sync(); })));
    box.appendChild(head);
    const list = element("ol", {class: "rule-list"});
    group.rules.forEach((child, index) => {
      const item = element("li");
      item.appendChild(child.type === "group" || Array.isArray(child.rules)
        ? groupNode(child, group, depth + 1) : conditionNode(child, group, index));
      list.appendChild(item);
    });
    box.appendChild(list);
    if (!group.rules.length) box.appendChild(element("p", {text: labels.empty_group}));
    const actions = element("div", {class: "rule-group-actions"});
    actions.appendChild(element("button", {type: "button", class: "outline", text: labels.add_condition,
      onclick: () => { group.rules.push({type: "field", field: schema.fields[0].key}); sync(); render(); }}));
    if (depth < 7) {
      actions.appendChild(element("button", {type: "button", class: "outline", text: labels.add_group,
        onclick: () => { group.rules.push({type: "group", match: "any", rules: []}); sync(); render(); }}));
    }
    if (parent) {
      actions.appendChild(element("button", {type: "button", class: "secondary outline", text: labels.remove_group,
        onclick: () => { parent.rules.splice(parent.rules.indexOf(group), 1); sync(); render(); }}));
    }
    box.appendChild(actions);
    return box;
  }

  function render() {
    host.replaceChildren(groupNode(root, null, 0));
  }

  textarea.addEventListener("change", () => { root = parse(); render(); });
  const kind = document.getElementById("id_kind");
  const section = document.getElementById("rules-section");
  function showRules() { if (kind && section) section.hidden = kind.value === "static"; }
  if (kind) kind.addEventListener("change", showRules);
  showRules();
  render();
}());
