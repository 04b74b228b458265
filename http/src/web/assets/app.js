// Validibot web UI: small progressive enhancements over server-rendered pages.
// Every action calls the REST API with the session cookie and the page's CSRF token.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  return { ok: resp.ok, status: resp.status, json };
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- the current page in the main navigation --------------------------------
function markCurrentPage() {
  // The link whose path is the longest prefix of this page's (runs/…/ → Runs).
  let best = null;
  document.querySelectorAll("header.top nav a").forEach((a) => {
    const path = new URL(a.href).pathname;
    const here = window.location.pathname;
    // The dashboard (/ui/w/{ws}) is current only on itself, not on every page below it.
    const below = here.startsWith(path + "/") && path.split("/").length > 4;
    if ((here === path || below) && (!best || path.length > new URL(best.href).pathname.length)) best = a;
  });
  if (best) best.setAttribute("aria-current", "page");
}

// --- upload with progress ------------------------------------------------
function initUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const progress = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    const chosen = document.getElementById("upload-type").value;
    const pasted = document.getElementById("upload-text").value;
    let file = document.getElementById("upload-file").files[0];
    if (!file && pasted.trim()) {
      // Pasted text goes as a file named after its type, so the server can tell.
      const type = chosen || document.getElementById("upload-type").options[1]?.value || "text/plain";
      const ext = { "application/json": "json", "text/csv": "csv", "application/xml": "xml", "text/xml": "xml" }[type] || "txt";
      file = new File([pasted], "pasted." + ext, { type });
    }
    if (!file) {
      status.textContent = "Choose a file or paste the document.";
      status.className = "error";
      return;
    }
    status.className = "";
    const data = new FormData();
    // A chosen type replaces the browser's label (e.g. a .csv labelled as Excel).
    data.append("file", chosen ? new Blob([file], { type: chosen }) : file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.launchUrl + "?wait=2");
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    progress.hidden = false;
    status.textContent = "Uploading " + file.name + "…";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if ((xhr.status === 201 || xhr.status === 202) && body && body.id) {
        status.textContent = "Uploaded; opening the run…";
        window.location.href = form.dataset.runsUrl + body.id;
      } else {
        progress.hidden = true;
        let text = body && body.detail ? body.detail : "the server answered HTTP " + xhr.status;
        if (body && body.code === "UNSUPPORTED_MEDIA_TYPE") text += ". If the file is one of these, choose its content type below the file.";
        if (body && body.code === "PAYLOAD_TOO_LARGE") text += ".";
        status.textContent = "Refused: " + text;
        status.className = "error";
      }
    };
    xhr.onerror = () => { status.textContent = "The upload failed: network error."; status.className = "error"; };
    xhr.send(data);
  });
}

// --- workflow actions: archive, unarchive, delete ---------------------------
function initWorkflowActions() {
  document.querySelectorAll(".workflow-action").forEach((button) => {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const r = await api(button.dataset.method, button.dataset.url);
      if (r.ok) {
        window.location.href = button.dataset.then || window.location.pathname;
        return;
      }
      document.getElementById("workflow-action-error").textContent = " " + (r.json ? r.json.detail : "HTTP " + r.status);
    });
  });
}

// --- live run ------------------------------------------------------------
function initLiveRun() {
  const body = document.getElementById("run-body");
  if (!body || body.dataset.state === "COMPLETED") return;
  const cancel = document.getElementById("cancel-run");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      const r = await api("POST", cancel.dataset.cancelUrl);
      // Cancelled, or it finished meanwhile: either way the next poll shows the end.
      if (!r.ok && r.status !== 409) {
        document.getElementById("cancel-error").textContent = " " + (r.json ? r.json.detail : "HTTP " + r.status);
        cancel.disabled = false;
      }
    });
  }
  const poll = async () => {
    const r = await api("GET", body.dataset.runUrl);
    if (r.ok && r.json) {
      const badge = document.querySelector("#run-result .badge");
      if (badge) badge.textContent = r.json.state === "COMPLETED" ? r.json.result : r.json.status;
      // How far each running step's validator has read a large document.
      for (const step of r.json.steps || []) {
        const shown = document.querySelector(`[data-step-progress="${CSS.escape(step.key)}"]`);
        if (!shown || step.read_bytes == null) continue;
        shown.hidden = false;
        shown.querySelector("progress").value = step.read_bytes;
        shown.querySelector(".read").textContent = (step.read_bytes / 1048576).toFixed(1) + " MiB";
      }
      if (r.json.state === "COMPLETED") {
        const page = await fetch(window.location.pathname + "?fragment=1", { credentials: "same-origin" });
        if (page.ok) {
          const current = document.getElementById("run-body");
          current.outerHTML = await page.text();
          return;
        }
      }
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 700);
}

// --- workflow editor -----------------------------------------------------
/// A slug from a name: "Energy Models (2026)" → "energy-models-2026".
function slugify(name) {
  return name.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
}

function initEditor() {
  const form = document.getElementById("workflow-form");
  if (!form) return;
  // A new workflow's slug follows its name until the user edits the slug.
  if (!form.slug.readOnly) {
    let derived = !form.slug.value;
    form.slug.addEventListener("input", () => { derived = form.slug.value === ""; });
    form.name.addEventListener("input", () => { if (derived) form.slug.value = slugify(form.name.value); });
  }
  const steps = document.getElementById("steps");
  const template = document.getElementById("step-template");
  const addStep = (s) => {
    const node = template.content.firstElementChild.cloneNode(true);
    node.querySelector(".step-key").value = s.key || "";
    node.querySelector(".step-name").value = s.name || "";
    const picker = node.querySelector(".step-validator");
    if (s.validator && ![...picker.options].some((o) => o.value === s.validator)) {
      // Saved with a validator this instance no longer offers: keep it visible.
      picker.add(new Option(s.validator + " (not available)", s.validator));
    }
    picker.value = s.validator || "";
    // The guide link follows the chosen validator.
    const guide = node.querySelector(".step-guide");
    const guideFor = () => {
      guide.href = picker.value ? "/ui/validators/" + encodeURIComponent(picker.value) : "/ui/validators";
      guide.textContent = picker.value ? "Guide to " + picker.value + ": config, vocabulary, finding codes" : "What each validator checks";
    };
    picker.addEventListener("change", guideFor);
    guideFor();
    // One place for rules: a step saved with a separate `ruleset` shows (and saves)
    // those rules in its config's `rules`.
    const config = s.config || {};
    const extra = Array.isArray(s.ruleset) ? s.ruleset : (s.ruleset && s.ruleset.rules) || [];
    if (extra.length) config.rules = [...(config.rules || []), ...extra];
    node.querySelector(".step-config").value = JSON.stringify(config, null, 2);
    (s.assertions || []).forEach((a) => addAssertion(node, a));
    node.querySelector(".add-assertion").addEventListener("click", () => addAssertion(node, {}));
    node.stepFiles = (s.files || []).map((f) => ({ name: f.name, sha256: f.sha256 }));
    renderFiles(node);
    node.querySelector(".step-file-input").addEventListener("change", (ev) => attachFile(node, ev.target));
    node.querySelector(".step-depends").value = Array.isArray(s.depends_on) ? (s.depends_on.length ? s.depends_on.join(", ") : "-") : "";
    node.querySelector(".step-on-failure").value = s.on_failure || "stop";
    node.querySelector(".step-when").value = s.when || "";
    node.querySelector(".remove-step").addEventListener("click", () => node.remove());
    picker.addEventListener("change", () => renderConfigForm(node));
    node.querySelector(".step-config").addEventListener("change", () => renderConfigForm(node));
    renderConfigForm(node);
    steps.appendChild(node);
    renumber();
  };
  // Assertions: one row each (expression, message, code, severity, guard); the live
  // check's compile errors land on the row they are about.
  const assertionTemplate = document.getElementById("assertion-template");
  const addAssertion = (node, a) => {
    const row = assertionTemplate.content.firstElementChild.cloneNode(true);
    row.querySelector(".assertion-expr").value = a.expr || "";
    row.querySelector(".assertion-message").value = a.message || "";
    row.querySelector(".assertion-code").value = a.code || "";
    row.querySelector(".assertion-severity").value = a.severity || "ERROR";
    row.querySelector(".assertion-when").value = a.when || "";
    row.querySelector(".remove-assertion").addEventListener("click", () => {
      row.remove();
      form.dispatchEvent(new Event("input"));
    });
    node.querySelector(".assertion-rows").appendChild(row);
  };
  const assertionsOf = (node) => [...node.querySelectorAll(".assertion-row")].map((row) => {
    const a = { expr: row.querySelector(".assertion-expr").value.trim() };
    for (const field of ["message", "code", "when"]) {
      const v = row.querySelector(".assertion-" + field).value.trim();
      if (v) a[field] = v;
    }
    const severity = row.querySelector(".assertion-severity").value;
    if (severity !== "ERROR") a.severity = severity;
    return a;
  }).filter((a) => a.expr);
  // Step files: uploaded to the workspace at once, then named by the step.
  const renderFiles = (node) => {
    const list = node.querySelector(".step-file-list");
    list.textContent = "";
    node.stepFiles.forEach((f, i) => {
      const item = el("li", {}, f.name + " ");
      item.append(el("code", {}, f.sha256.slice(0, 12)));
      const remove = el("button", { type: "button", class: "remove-file" }, "Remove");
      remove.addEventListener("click", () => {
        node.stepFiles.splice(i, 1);
        renderFiles(node);
        form.dispatchEvent(new Event("input"));
      });
      item.append(" ", remove);
      list.append(item);
    });
  };
  const attachFile = async (node, input) => {
    const status = node.querySelector(".step-file-status");
    for (const file of input.files) {
      const name = file.name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "") || "file";
      status.textContent = "Uploading " + name + "…";
      const resp = await fetch(form.dataset.filesUrl + "?name=" + encodeURIComponent(name), {
        method: "POST", credentials: "same-origin", body: file,
        headers: { "X-CSRF-Token": csrf(), "Content-Type": file.type || "application/octet-stream" },
      });
      const json = await resp.json().catch(() => null);
      if (!resp.ok) { status.textContent = json ? json.detail + " (" + json.code + ")" : "HTTP " + resp.status; return; }
      node.stepFiles = node.stepFiles.filter((f) => f.name !== name).concat([{ name, sha256: json.sha256 }]);
      status.textContent = "Attached " + name + ".";
    }
    input.value = "";
    renderFiles(node);
    form.dispatchEvent(new Event("input"));
  };
  // A form for the simple top-level settings of the validator's config JSON Schema
  // (strings, numbers, booleans, choices); everything else stays in the raw JSON below.
  let schemas = null;
  const loadSchemas = async () => {
    if (schemas) return schemas;
    const r = await api("GET", "/api/v1/validators");
    schemas = {};
    (r.json?.results || []).forEach((v) => { schemas[v.slug] = v.config_schema; });
    return schemas;
  };
  const renderConfigForm = async (node) => {
    const holder = node.querySelector(".step-config-form");
    const slug = node.querySelector(".step-validator").value;
    const schema = (await loadSchemas())[slug];
    holder.textContent = "";
    const props = schema && schema.properties ? schema.properties : {};
    const textarea = node.querySelector(".step-config");
    let config = {};
    try { config = JSON.parse(textarea.value || "{}"); } catch (_) { return; }
    for (const [name, prop] of Object.entries(props)) {
      const kind = prop.enum ? "enum" : prop.type;
      if (!["string", "number", "integer", "boolean", "enum"].includes(kind)) continue;
      const label = document.createElement("label");
      label.textContent = name + (prop.description ? " — " + prop.description : "");
      let input;
      if (kind === "enum") {
        input = document.createElement("select");
        input.add(new Option("(default)", ""));
        prop.enum.forEach((v) => input.add(new Option(String(v), JSON.stringify(v))));
        input.value = name in config ? JSON.stringify(config[name]) : "";
      } else if (kind === "boolean") {
        input = document.createElement("input");
        input.type = "checkbox";
        input.checked = config[name] === true;
      } else {
        input = document.createElement("input");
        input.type = kind === "string" ? "text" : "number";
        if (name in config) input.value = config[name];
        if (prop.default !== undefined) input.placeholder = String(prop.default);
      }
      input.name = name;
      input.addEventListener("change", () => {
        let current = {};
        try { current = JSON.parse(textarea.value || "{}"); } catch (_) { return; }
        let value;
        if (kind === "boolean") value = input.checked;
        else if (kind === "enum") value = input.value ? JSON.parse(input.value) : undefined;
        else if (input.value === "") value = undefined;
        else value = kind === "string" ? input.value : Number(input.value);
        if (value === undefined) delete current[name]; else current[name] = value;
        textarea.value = JSON.stringify(current, null, 2);
        form.dispatchEvent(new Event("input"));
      });
      label.appendChild(input);
      holder.appendChild(label);
    }
  };
  const renumber = () => steps.querySelectorAll(".step-editor > legend").forEach((l, i) => { l.textContent = "Step " + (i + 1); });
  JSON.parse(steps.dataset.initial || "[]").forEach(addStep);
  document.getElementById("add-step").addEventListener("click", () => addStep({}));
  // The definition as the form says it, or null (with the JSON errors shown).
  const collect = () => {
    const errors = document.getElementById("form-errors");
    errors.textContent = "";
    form.querySelectorAll(".step-errors, .assertion-errors").forEach((e) => { e.textContent = ""; });
    const stepNodes = [...steps.querySelectorAll(".step-editor")];
    const parsed = [];
    let bad = false;
    stepNodes.forEach((node) => {
      const step = {
        key: node.querySelector(".step-key").value.trim(),
        validator: node.querySelector(".step-validator").value.trim(),
      };
      const name = node.querySelector(".step-name").value.trim();
      if (name) step.name = name;
      const depends = node.querySelector(".step-depends").value.trim();
      if (depends === "-") step.depends_on = [];
      else if (depends) step.depends_on = depends.split(",").map((k) => k.trim()).filter(Boolean);
      const onFailure = node.querySelector(".step-on-failure").value;
      if (onFailure !== "stop") step.on_failure = onFailure;
      const when = node.querySelector(".step-when").value.trim();
      if (when) step.when = when;
      const assertions = assertionsOf(node);
      if (assertions.length) step.assertions = assertions;
      if (node.stepFiles.length) step.files = node.stepFiles;
      const configText = node.querySelector(".step-config").value.trim();
      if (configText) {
        try { step.config = JSON.parse(configText); } catch (e) {
          node.querySelector(".step-errors").textContent = "config is not valid JSON: " + e.message;
          bad = true;
        }
      }
      parsed.push(step);
    });
    const constantsText = form.constants.value.trim();
    let constants;
    if (constantsText) {
      try { constants = JSON.parse(constantsText); } catch (e) {
        errors.textContent = "constants are not valid JSON: " + e.message;
        bad = true;
      }
    }
    if (bad) return null;
    const types = form.content_types.value.split(",").map((t) => t.trim()).filter(Boolean);
    const def = {
      slug: form.slug.value.trim(), name: form.name.value.trim(),
      description: form.description.value, steps: parsed,
      timeout_seconds: Number(form.timeout_seconds.value) || 300,
    };
    if (types.length) def.content_types = types;
    if (constants) def.constants = constants;
    const memory = Number(form.validator_memory_mib.value);
    if (memory) def.validator_memory_mib = memory;
    // Settings the form shows are sent back, so a save keeps them.
    const days = Number(form.retention_days.value);
    if (days) def.retention_days = days;
    if (!form.store_submission.checked) def.store_submission = false;
    return def;
  };
  // The server's refusal, by step (and by assertion, with its path).
  const showErrors = (r) => {
    const stepNodes = [...steps.querySelectorAll(".step-editor")];
    document.getElementById("form-errors").textContent = r.json ? r.json.detail + " (" + r.json.code + ")" : "HTTP " + r.status;
    (r.json?.errors || []).forEach((e) => {
      const node = stepNodes[e.step];
      if (!node) return;
      const lines = [e.detail];
      const rows = node.querySelectorAll(".assertion-row");
      (e.findings || []).forEach((f) => {
        const text = f.code + (f.path ? " at " + f.path : "") + ": " + f.message;
        // `/assertions/<i>/…` is about the i-th row shown (rows without an expression are not sent).
        const at = /^\/assertions\/(\d+)/.exec(f.path || "");
        const filled = [...rows].filter((row) => row.querySelector(".assertion-expr").value.trim());
        const row = at ? filled[Number(at[1])] : null;
        if (row) row.querySelector(".assertion-errors").textContent = text;
        else lines.push(text);
      });
      node.querySelector(".step-errors").textContent = lines.join(" — ");
    });
  };
  // Live check: every change is checked as a save would check it (nothing is saved).
  let timer = null;
  const status = document.getElementById("check-status");
  const check = async () => {
    const def = collect();
    if (!def || !def.slug || def.steps.some((s) => !s.key || !s.validator)) { status.textContent = ""; return; }
    const r = await api("POST", form.dataset.checkUrl, def);
    if (r.ok) {
      status.textContent = "Checks pass: every step, assertion and binding compiles.";
    } else {
      status.textContent = "";
      showErrors(r);
    }
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 600);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    const def = collect();
    if (!def) return;
    const r = await api(form.dataset.method, form.dataset.url, def);
    if (r.ok) {
      window.location.href = "/ui/w/" + form.dataset.ws + "/workflows/" + r.json.slug;
      return;
    }
    showErrors(r);
  });
}

// --- settings: API keys and members ---------------------------------------
async function revokeKey(b) {
  if (!window.confirm("Revoke this key? Programs using it stop working.")) return;
  const r = await api("DELETE", "/api/v1/api-keys/" + b.dataset.id);
  if (r.ok) { b.closest("tr").children[4].textContent = "revoked"; b.remove(); }
}

function initSettings() {
  const keyForm = document.getElementById("key-form");
  if (keyForm) {
    keyForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: keyForm.name.value };
      if (keyForm.expires_in_days.value) body.expires_in_days = Number(keyForm.expires_in_days.value);
      const r = await api("POST", "/api/v1/api-keys", body);
      const out = document.getElementById("new-key");
      out.textContent = "";
      if (!r.ok) { out.textContent = r.json ? r.json.detail : "HTTP " + r.status; out.className = "error"; return; }
      out.className = "card notice";
      out.append(el("p", {}, "New key “" + r.json.name + "” — copy it now, it is not shown again:"));
      out.append(el("code", { id: "new-key-token" }, r.json.token));
      const copy = el("button", { type: "button", id: "copy-key" }, "Copy");
      copy.addEventListener("click", async () => {
        try { await navigator.clipboard.writeText(r.json.token); copy.textContent = "Copied"; }
        catch (_) {
          // No clipboard (plain HTTP): select the key so Ctrl+C copies it.
          window.getSelection().selectAllChildren(document.getElementById("new-key-token"));
          copy.textContent = "Selected: press Ctrl+C";
        }
      });
      out.append(" ", copy);
      // The new key joins the table at once (no reload, which would lose the token).
      const tbody = document.querySelector("table.keys tbody");
      if (tbody) {
        const today = new Date().toISOString().slice(0, 10);
        const revoke = el("button", { type: "button", class: "revoke-key", "data-id": r.json.public_id }, "Revoke");
        revoke.addEventListener("click", () => revokeKey(revoke));
        const row = el("tr", {});
        for (const cell of [r.json.name, el("code", {}, r.json.public_id), today, "never", "active", revoke]) {
          const td = el("td", {});
          td.append(cell);
          row.append(td);
        }
        tbody.prepend(row);
      }
      keyForm.reset();
    });
  }
  document.querySelectorAll(".revoke-key").forEach((b) => b.addEventListener("click", () => revokeKey(b)));
  const passwordForm = document.getElementById("password-form");
  if (passwordForm) {
    passwordForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = document.getElementById("password-status");
      if (passwordForm.new.value !== passwordForm.repeat.value) {
        out.textContent = "The new passwords differ."; out.className = "error"; return;
      }
      const r = await api("POST", "/api/v1/account/password", {
        current_password: passwordForm.current.value, new_password: passwordForm.new.value,
      });
      out.textContent = r.ok ? "Password changed. Your other sessions were signed out."
        : (r.json ? r.json.detail : "HTTP " + r.status);
      out.className = r.ok ? "" : "error";
      if (r.ok) passwordForm.reset();
    });
  }
  const requireMfa = document.getElementById("require-mfa");
  if (requireMfa) {
    requireMfa.addEventListener("change", async () => {
      const r = await api("PATCH", requireMfa.dataset.url, { require_mfa: requireMfa.checked });
      if (!report(document.getElementById("require-mfa-status"), r,
        requireMfa.checked ? "Two-factor authentication is now required." : "No longer required.")) {
        requireMfa.checked = !requireMfa.checked;
      }
    });
  }
  const status = document.getElementById("member-status");
  const setRole = async (url, role) => {
    const r = await api("PUT", url, { role });
    status.textContent = r.ok ? "Saved." : (r.json ? r.json.detail : "HTTP " + r.status);
    status.className = r.ok ? "" : "error";
    return r.ok;
  };
  document.querySelectorAll(".member-role").forEach((s) => s.addEventListener("change", () => setRole(s.dataset.url, s.value)));
  document.querySelectorAll(".remove-member").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Remove this member from the workspace?")) return;
    const r = await api("DELETE", b.dataset.url);
    status.textContent = r.ok ? "Removed." : (r.json ? r.json.detail : "HTTP " + r.status);
    status.className = r.ok ? "" : "error";
    if (r.ok) b.closest("tr").remove();
  }));
  const inviteStatus = document.getElementById("invite-status");
  const invited = (r, ok) => {
    inviteStatus.textContent = r.ok ? ok : (r.json ? r.json.detail + " (" + r.json.code + ")" : "HTTP " + r.status);
    inviteStatus.className = r.ok ? "" : "error";
    return r.ok;
  };
  const inviteForm = document.getElementById("invite-form");
  if (inviteForm) {
    inviteForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", inviteForm.dataset.url, { email: inviteForm.email.value.trim(), role: inviteForm.role.value });
      if (invited(r, "Invitation mailed to " + (r.json && r.json.email) + ".")) {
        window.setTimeout(() => window.location.reload(), 800);
      }
    });
  }
  document.querySelectorAll(".resend-invitation").forEach((b) => b.addEventListener("click", async () => {
    const r = await api("POST", b.dataset.url);
    if (invited(r, "A new link was mailed; the old one no longer works.")) window.setTimeout(() => window.location.reload(), 800);
  }));
  document.querySelectorAll(".revoke-invitation").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Revoke this invitation? Its link stops working.")) return;
    const r = await api("DELETE", b.dataset.url);
    if (invited(r, "Revoked.")) window.location.reload();
  }));
  const memberForm = document.getElementById("member-form");
  if (memberForm) {
    memberForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = document.getElementById("member-name").value.trim();
      if (await setRole(memberForm.dataset.url + encodeURIComponent(name), document.getElementById("member-role").value)) {
        window.location.reload();
      }
    });
  }
}

// --- webhooks: endpoints, secrets, tests and redelivery -----------------------
function showSecret(secret, what) {
  const out = document.getElementById("webhook-secret");
  out.textContent = "";
  out.className = "card notice";
  out.append(el("p", {}, what + " — copy the signing secret now, it is not shown again:"));
  out.append(el("code", { id: "webhook-secret-value" }, secret));
}

function initWebhooks() {
  const status = document.getElementById("webhook-status");
  if (!status) return;
  const say = (r, ok) => {
    status.textContent = r.ok ? ok : (r.json ? r.json.detail + " (" + r.json.code + ")" : "HTTP " + r.status);
    status.className = r.ok ? "" : "error";
    return r.ok;
  };
  const form = document.getElementById("webhook-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const events = [...form.querySelectorAll('input[name="events"]:checked')].map((c) => c.value);
    const r = await api("POST", form.dataset.url, {
      url: form.url.value, description: form.description.value, format: form.format.value, events,
    });
    if (!say(r, "Added.")) return;
    showSecret(r.json.secret, "Endpoint added");
    form.reset();
    // The table gains the endpoint on the next visit; the secret stays on screen now.
    const link = el("a", { href: window.location.pathname + "?endpoint=" + r.json.id, id: "webhook-open" }, "Open its delivery log");
    document.getElementById("webhook-secret").append(" ", link);
  });
  document.querySelectorAll(".webhook-test").forEach((b) => b.addEventListener("click", async () => {
    const r = await api("POST", b.dataset.url);
    say(r, "Test message queued (" + (r.json && r.json.event_id) + "); reload to see its delivery.");
  }));
  document.querySelectorAll(".webhook-rotate").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Make a new signing secret? The current one keeps signing for 24 hours.")) return;
    const r = await api("POST", b.dataset.url);
    if (say(r, "Secret rotated.")) showSecret(r.json.secret, "New secret (the old one signs too until " + r.json.previous_secret_until + ")");
  }));
  document.querySelectorAll(".webhook-enable").forEach((b) => b.addEventListener("click", async () => {
    const r = await api("PATCH", b.dataset.url, { enabled: b.dataset.enabled === "true" });
    if (say(r, "Saved.")) window.location.reload();
  }));
  document.querySelectorAll(".webhook-delete").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Delete this endpoint with its delivery log?")) return;
    const r = await api("DELETE", b.dataset.url);
    if (say(r, "Deleted.")) b.closest("tr").remove();
  }));
  document.querySelectorAll(".webhook-redeliver").forEach((b) => b.addEventListener("click", async () => {
    const r = await api("POST", b.dataset.url);
    if (say(r, "Queued again; reload to see the new attempt.")) b.disabled = true;
  }));
}

// --- workspace switcher: the same page in the chosen workspace ---------------
function initSwitcher() {
  const sel = document.getElementById("workspace-switcher");
  if (!sel) return;
  sel.addEventListener("change", () => {
    const current = "/ui/w/" + sel.dataset.current;
    const path = window.location.pathname;
    // Pages of one object (a run, a workflow) do not exist in the other workspace.
    const rest = path.startsWith(current) ? path.slice(current.length).split("/").slice(0, 2).join("/") : "";
    window.location.href = "/ui/w/" + encodeURIComponent(sel.value) + rest;
  });
}

function report(status, r, okText) {
  status.textContent = r.ok ? okText : (r.json ? r.json.detail + " (" + r.json.code + ")" : "HTTP " + r.status);
  status.className = r.ok ? "" : "error";
  return r.ok;
}

// --- two-factor authentication: set up, recovery codes, turn off ---------------
function showRecoveryCodes(codes) {
  document.querySelectorAll("#two-factor-setup form").forEach((f) => { f.hidden = true; });
  document.getElementById("recovery-codes-list").textContent = codes.join("\n");
  document.getElementById("recovery-codes").hidden = false;
}

function initTwoFactor() {
  const out = document.getElementById("mfa-status");
  if (!out) return;
  const begin = document.getElementById("mfa-begin-form");
  const confirmForm = document.getElementById("mfa-confirm-form");
  if (begin) {
    begin.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/api/v1/account/two-factor", { password: begin.password.value });
      if (!report(out, r, "")) return;
      begin.hidden = true;
      // The SVG is the server's own rendering of the otpauth URI.
      document.getElementById("mfa-qr").innerHTML = r.json.qr_svg;
      document.getElementById("mfa-secret").textContent = r.json.secret;
      confirmForm.hidden = false;
      confirmForm.code.focus();
    });
    confirmForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/api/v1/account/two-factor/confirm", { code: confirmForm.code.value });
      if (report(out, r, "Two-factor authentication is on.")) showRecoveryCodes(r.json.recovery_codes);
    });
  }
  const again = document.getElementById("recovery-codes-form");
  if (again) {
    again.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/api/v1/account/two-factor/recovery-codes", { code: again.code.value });
      if (report(out, r, "New recovery codes made; the old ones no longer work.")) showRecoveryCodes(r.json.recovery_codes);
    });
  }
  const off = document.getElementById("mfa-disable-form");
  if (off) {
    off.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/api/v1/account/two-factor/disable", { password: off.password.value, code: off.code.value });
      if (report(out, r, "Two-factor authentication is off.")) window.location.reload();
    });
  }
}

// --- workspaces and teams ----------------------------------------------------
function initWorkspaces() {
  const form = document.getElementById("workspace-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { slug: form.slug.value.trim() };
    if (form.name.value.trim()) body.name = form.name.value.trim();
    const r = await api("POST", "/api/v1/workspaces", body);
    if (report(document.getElementById("workspace-status"), r, "Created.")) {
      window.location.href = "/ui/w/" + encodeURIComponent(r.json.slug) + "/workspaces";
    }
  });
}

function initTeams() {
  const status = document.getElementById("team-status");
  if (!status) return;
  const reloadIf = (ok) => { if (ok) window.location.reload(); };
  const form = document.getElementById("team-form");
  form?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { slug: form.slug.value.trim() };
    if (form.name.value.trim()) body.name = form.name.value.trim();
    reloadIf(report(status, await api("POST", "/api/v1/teams", body), "Created."));
  });
  document.querySelectorAll(".team-member-form").forEach((f) => f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = f.querySelector("input").value.trim();
    reloadIf(report(status, await api("PUT", f.dataset.url + encodeURIComponent(name)), "Added."));
  }));
  document.querySelectorAll(".remove-team-member").forEach((b) => b.addEventListener("click", async () => {
    reloadIf(report(status, await api("DELETE", b.dataset.url), "Removed."));
  }));
  document.querySelectorAll(".delete-team").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Delete this team? Its members keep their own roles; the roles the team gave are taken away.")) return;
    reloadIf(report(status, await api("DELETE", b.dataset.url), "Deleted."));
  }));
  document.querySelectorAll(".revoke-team-grant").forEach((b) => b.addEventListener("click", async () => {
    if (!window.confirm("Take this team's role on the workspace away? Members keep their own roles.")) return;
    reloadIf(report(status, await api("DELETE", b.dataset.url), "Revoked."));
  }));
  document.querySelectorAll(".team-grant-form").forEach((f) => f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    reloadIf(report(status, await api("PUT", f.dataset.url, { role: f.querySelector("select").value }), "Granted."));
  }));
}

// --- license upload ----------------------------------------------------------
function initLicense() {
  const form = document.getElementById("license-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = document.getElementById("license-file").files[0];
    const status = document.getElementById("license-status");
    if (!file) { status.textContent = "Choose the license file first."; status.className = "error"; return; }
    const r = await api("PUT", "/api/v1/license", { license: await file.text() });
    if (report(status, r, "Installed: " + (r.json && r.json.state))) window.location.reload();
  });
  const check = document.getElementById("license-check");
  if (check) check.addEventListener("click", async () => {
    const out = document.getElementById("license-check-status");
    check.disabled = true;
    const r = await api("POST", "/api/v1/license/check");
    check.disabled = false;
    if (report(out, r, "Checked: " + (r.json && r.json.state))) window.location.reload();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  markCurrentPage();
  initUpload();
  initLiveRun();
  initWorkflowActions();
  initEditor();
  initSettings();
  initWebhooks();
  initSwitcher();
  initWorkspaces();
  initTeams();
  initLicense();
  initTwoFactor();
});
