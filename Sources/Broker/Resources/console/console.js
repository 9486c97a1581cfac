// token-broker operator console: a single page on the broker's public API only.
// Every value from the API is put in the page as text (textContent, attributes), never as HTML.
// The credential lives in sessionStorage (this tab only, gone when it closes), never in persistent storage or a cookie.

const STORE_KEY = "token-broker.console.session";
const main = document.getElementById("main");
const notice = document.getElementById("notice");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signOutButton = document.getElementById("signout");

// ---- session -------------------------------------------------------------------------------------

function rawSession() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    return value && typeof value.token === "string" ? value : null;
  } catch { return null; }
}

/// The session if it is still valid (an expired one is forgotten here; endSession still ends its Keycloak session).
function session() {
  const value = rawSession();
  if (!value) return null;
  if (value.expiresAt && Date.now() >= value.expiresAt && !(value.refreshToken && value.refreshExpiresAt > Date.now())) return null;
  return value;
}

function saveSession(value) { sessionStorage.setItem(STORE_KEY, JSON.stringify(value)); }

function logout(refreshToken) {
  // End the Keycloak session too; the answer does not matter to the console.
  fetch("/v1/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: refreshToken }) })
    .catch(() => {});
}

function endSession(message) {
  const current = rawSession();
  sessionStorage.removeItem(STORE_KEY);
  if (current && current.kind === "login" && current.refreshToken) logout(current.refreshToken);
  nav.hidden = true;
  go("#/signin", message || "Signed out.", false);
}

/// A Keycloak session as the console keeps it, from a token response of /v1/login or /v1/login/refresh.
function loginSession(answer, label) {
  const now = Date.now();
  const expiresIn = Number(answer.expires_in) || 300;
  const refreshIn = Number(answer.refresh_expires_in) || 0;
  return {
    kind: "login", token: answer.access_token, refreshToken: answer.refresh_token, label,
    expiresAt: now + expiresIn * 1000, refreshExpiresAt: refreshIn > 0 ? now + refreshIn * 1000 : now + expiresIn * 1000,
  };
}

let refreshing = null;

/// Renews a Keycloak session through /v1/login/refresh when its access token is within 20 s of expiry (Keycloak's
/// master realm hands out tokens of a minute by default); false when it cannot be renewed.
async function freshSession() {
  const current = rawSession();
  if (!current || current.kind !== "login") return current;
  if (current.expiresAt - Date.now() > 20000) return current;
  if (!current.refreshToken || !(current.refreshExpiresAt > Date.now())) return null;
  refreshing = refreshing || (async () => {
    try {
      const response = await fetch("/v1/login/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" }, cache: "no-store",
        body: JSON.stringify({ refresh_token: current.refreshToken }),
      });
      if (!response.ok) return null;
      const renewed = loginSession(await response.json(), current.label);
      saveSession(renewed);
      return renewed;
    } catch { return null; } finally { setTimeout(() => { refreshing = null; }, 0); }
  })();
  return refreshing;
}

// ---- API -----------------------------------------------------------------------------------------

class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/// Calls the API as the signed-in operator; the answer's JSON (null for 204). `options.ifMatch` sends If-Match;
/// `options.withETag` returns `{body, etag}`.
async function api(method, path, body, options = {}) {
  const current = await freshSession();
  if (!current || (current.expiresAt && Date.now() >= current.expiresAt)) {
    endSession("Your session has expired; sign in again.");
    throw new APIError(401, { detail: "not signed in" });
  }
  const headers = { "Authorization": "Bearer " + current.token, "Accept": "application/json" };
  if (options.ifMatch) headers["If-Match"] = options.ifMatch;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new APIError(0, { detail: "the broker could not be reached" });
  }
  if (response.status === 401) {
    endSession("Your session has expired or was revoked; sign in again.");
    throw new APIError(401, { detail: "credentials are missing or invalid" });
  }
  if (response.status === 204) return null;
  let payload = null;
  const text = await response.text();
  if (text) { try { payload = JSON.parse(text); } catch { payload = { detail: text.slice(0, 200) }; } }
  if (!response.ok) throw new APIError(response.status, payload);
  return options.withETag ? { body: payload, etag: response.headers.get("ETag") } : payload;
}

// ---- DOM helpers: text only ----------------------------------------------------------------------

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function svg(tag, attributes, ...children) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

function show(message, isError) {
  notice.textContent = message || "";
  notice.classList.toggle("error", Boolean(isError));
}

let pending = null;

/// Goes to `hash`, showing `message` there (a plain hash change clears the last message).
function go(hash, message, isError) {
  if (location.hash === hash) { show(message, isError); route(); return; }
  pending = message ? { message, isError } : null;
  location.hash = hash;
}

function render(title, ...content) {
  document.title = title + " · token-broker console";
  main.replaceChildren(h("h1", {}, title), ...content);
  main.focus({ preventScroll: true });
}

function failure(error) {
  if (error instanceof APIError && error.status === 401) return;
  show(describe(error), true);
}

function describe(error) {
  if (!(error instanceof APIError)) return String(error && error.message || error);
  if (error.status === 403 && (!error.problem.code || error.problem.code === "forbidden")) {
    return "Not allowed: this console needs a system administrator (an admin API key or a master-realm admin).";
  }
  if (error.status === 412) return "Someone changed this tenant since it was opened: reload it and make the change again.";
  return error.message + (error.problem.code ? ` (${error.problem.code})` : "");
}

function statusBadge(status) { return h("span", { class: "status status-" + status }, status); }

function formatDate(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace(".000Z", "Z").replace("T", " ");
}

function age(value) {
  const ms = Date.now() - new Date(value).getTime();
  if (!Number.isFinite(ms)) return "—";
  const days = Math.floor(ms / 86400000), hours = Math.floor((ms % 86400000) / 3600000);
  return days > 0 ? `${days} d ${hours} h` : `${hours} h ${Math.floor((ms % 3600000) / 60000)} min`;
}

async function confirmAction(text, okLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
  dialog.returnValue = "cancel";
  dialog.showModal();
  document.getElementById("confirm-cancel").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

// ---- forms: fields named by the API's own field paths, errors shown next to each ------------------

let fieldCounter = 0;

function field(label, path, input, hint) {
  const id = "f" + (++fieldCounter);
  input.id = id;
  input.dataset.field = path;
  const error = h("p", { class: "field-error", id: id + "-error", hidden: true });
  const describedBy = [hint ? id + "-hint" : null, id + "-error"].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", describedBy);
  const inline = input.type === "checkbox";
  return h("div", { class: inline ? "field inline" : "field", "data-for": path },
    inline ? [input, h("label", { for: id }, label)] : [h("label", { for: id }, label), input],
    hint ? h("span", { class: "hint", id: id + "-hint" }, hint) : null, error);
}

function clearErrors(form) {
  for (const element of form.querySelectorAll(".field-error")) { element.textContent = ""; element.hidden = true; }
  for (const element of form.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
  const summary = form.querySelector(".form-errors");
  if (summary) summary.replaceChildren();
}

/// Puts each of a 422's errors beside the field it names (the closest enclosing path that has a field), the
/// rest in the form's summary; focuses the first field in error.
function showErrors(form, error) {
  clearErrors(form);
  const summary = form.querySelector(".form-errors");
  const errors = (error.problem && Array.isArray(error.problem.errors)) ? error.problem.errors : [];
  let first = null;
  const unplaced = [];
  for (const item of errors) {
    let path = String(item.field || "");
    let input = null;
    while (path && !(input = form.querySelector(`[data-field="${CSS.escape(path)}"]`))) {
      // scopes[0] -> scopes, twoFAConfig.otpExpiry -> twoFAConfig: the closest enclosing field.
      path = /\[\d+\]$/.test(path) ? path.replace(/\[\d+\]$/, "") : path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    }
    if (!input) { unplaced.push(`${item.field}: ${item.message}`); continue; }
    const message = document.getElementById(input.id + "-error");
    message.textContent = (message.textContent ? message.textContent + "; " : "") + (path === item.field ? item.message : `${item.field} ${item.message}`);
    message.hidden = false;
    input.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  if (!errors.length) unplaced.push(describe(error));
  if (summary && unplaced.length) summary.replaceChildren(h("ul", {}, unplaced.map((text) => h("li", {}, text))));
  const target = first && first.tagName === "FIELDSET" ? first.querySelector("input") : first;
  (target || summary)?.focus?.();
}

/// A form value as the API should judge it: whole numbers as numbers, other text as sent (so the API's own
/// rule and message apply), empty as absent.
function numberOrText(value) {
  const text = value.trim();
  if (text === "") return null;
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

function textOrNull(value) { const text = value.trim(); return text === "" ? null : text; }

// ---- sign-in -------------------------------------------------------------------------------------

function signInView() {
  nav.hidden = true; signOutButton.hidden = true; who.textContent = "";
  const keyInput = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const keyForm = h("form", { class: "panel", "aria-labelledby": "signin-key" },
    h("h2", { id: "signin-key" }, "With an admin API key"),
    field("API key", "key", keyInput, "A key with the admin scope (token-broker api-keys create --scopes admin). Kept in this tab only."),
    h("div", { class: "form-errors", tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")));
  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await trySignIn(keyForm, { kind: "key", token: keyInput.value.trim(), label: "API key" });
  });
  const user = h("input", { type: "text", autocomplete: "username", required: true });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const loginForm = h("form", { class: "panel", "aria-labelledby": "signin-login" },
    h("h2", { id: "signin-login" }, "As a system administrator (Keycloak)"),
    field("Username", "username", user), field("Password", "password", password),
    h("div", { class: "form-errors", tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")));
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(loginForm);
    let answer;
    try {
      const response = await fetch("/v1/login", {
        method: "POST", headers: { "Content-Type": "application/json" }, cache: "no-store",
        body: JSON.stringify({ username: user.value, password: password.value }),
      });
      const payload = await response.json().catch(() => ({}));
      if (!response.ok) throw new APIError(response.status, payload);
      answer = payload;
    } catch (error) {
      password.value = "";
      showErrors(loginForm, error instanceof APIError ? error : new APIError(0, { detail: "the broker could not be reached" }));
      return;
    }
    password.value = "";
    await trySignIn(loginForm, loginSession(answer, user.value));
  });
  render("Sign in", h("div", { class: "signin" }, keyForm, loginForm));
}

/// Signs in with `candidate` if the broker takes it as a system admin's (the API-key list is for them only).
async function trySignIn(form, candidate) {
  clearErrors(form);
  let response;
  try {
    response = await fetch("/v1/api-keys", { headers: { "Authorization": "Bearer " + candidate.token, "Accept": "application/json" }, cache: "no-store" });
  } catch {
    show("The broker could not be reached.", true);
    return;
  }
  if (!response.ok && candidate.kind === "login" && candidate.refreshToken) logout(candidate.refreshToken);
  if (response.status === 401) { show("The broker refused these credentials.", true); return; }
  if (response.status === 403) { show("These credentials are not a system administrator's: the console needs an admin API key or a master-realm admin.", true); return; }
  if (!response.ok) { show(`The broker answered ${response.status}; try again.`, true); return; }
  saveSession(candidate);
  go("#/dashboard", "Signed in.", false);
}

// ---- dashboard -----------------------------------------------------------------------------------

async function dashboardView() {
  const [summary, months, expiries] = await Promise.all([
    api("GET", "/v1/dashboard/summary"), api("GET", "/v1/dashboard/new-tenants?months=12"), api("GET", "/v1/dashboard/upcoming-expiries?days=30"),
  ]);
  const tile = (label, value, name) => h("div", { class: "tile", "data-tile": name }, h("div", { class: "value" }, String(value)), h("div", { class: "label" }, label));
  const byStatus = summary.byStatus || {};
  const tiles = h("div", { class: "tiles" },
    tile("Total", summary.total, "total"), tile("Active", summary.active, "active"), tile("Inactive", summary.inactive, "inactive"),
    Object.keys(byStatus).map((status) => tile("Status " + status, byStatus[status], "status-" + status)));
  const list = (expiries.items || []);
  render("Dashboard",
    h("section", { "aria-labelledby": "tiles-h" }, h("h2", { id: "tiles-h" }, "Tenants"), tiles),
    h("section", { class: "panel", "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "New tenants by month (12 months)"), monthChart(months.months || [])),
    h("section", { class: "panel", "aria-labelledby": "exp-h" }, h("h2", { id: "exp-h" }, "Subscriptions ending in the next 30 days"),
      list.length === 0 ? h("p", {}, "None.") :
        h("div", { class: "table-wrap" }, h("table", { id: "expiries" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tenant"), h("th", { scope: "col" }, "Ends"), h("th", { scope: "col" }, "Days left"))),
          h("tbody", {}, list.map((item) => h("tr", {},
            h("td", {}, h("a", { href: "#/tenants/" + encodeURIComponent(item.tenantId) }, item.tenantId)),
            h("td", {}, formatDate(item.expiresAt)), h("td", {}, String(item.daysLeft)))))))));
}

function monthChart(months) {
  const width = 720, height = 240, left = 30, bottom = 36, top = 18;
  const max = Math.max(1, ...months.map((m) => Number(m.count) || 0));
  const slot = (width - left) / Math.max(1, months.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": "chart-title chart-desc", id: "new-tenants-chart" },
    svg("title", { id: "chart-title" }, "New tenants by month"),
    svg("desc", { id: "chart-desc" }, months.map((m) => `${m.month}: ${m.count}`).join(", ")),
    svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#aab1bd" }));
  months.forEach((m, index) => {
    const count = Number(m.count) || 0;
    const barHeight = ((height - bottom - top) * count) / max;
    const x = left + index * slot + slot * 0.15;
    const y = height - bottom - barHeight;
    chart.append(
      svg("rect", { class: "bar-rect", x, y, width: slot * 0.7, height: Math.max(barHeight, 0), "data-month": m.month, "data-count": count },
        svg("title", {}, `${m.month}: ${count}`)),
      svg("text", { class: "count", x: x + slot * 0.35, y: y - 4, "text-anchor": "middle" }, String(count)),
      svg("text", { x: x + slot * 0.35, y: height - bottom + 16, "text-anchor": "middle" }, String(m.month).slice(2)));
  });
  return chart;
}

// ---- tenants -------------------------------------------------------------------------------------

const STATUSES = ["active", "suspended", "expired", "deleted", "purged"];

async function tenantsView(params) {
  const status = params.get("status") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: "20" });
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  const page = await api("GET", "/v1/tenants?" + query);
  const filter = h("select", { id: "status-filter" }, h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const items = page.items || [];
  const next = page.nextCursor ? "#/tenants?" + new URLSearchParams({ ...(status ? { status } : {}), cursor: page.nextCursor }) : null;
  render("Tenants",
    h("form", { class: "toolbar", id: "filter-form", onsubmit: (event) => {
      event.preventDefault();
      location.hash = "#/tenants" + (filter.value ? "?status=" + filter.value : "");
    } },
      h("div", { class: "field" }, h("label", { for: "status-filter" }, "Status"), filter),
      h("button", { type: "submit", id: "apply-filter" }, "Show"),
      h("a", { href: "#/tenants/new", class: "button", id: "new-tenant" }, "New tenant")),
    items.length === 0 ? h("p", {}, "No tenants" + (status ? " with status " + status : "") + ".") :
      h("div", { class: "table-wrap" }, h("table", { id: "tenants" },
        h("thead", {}, h("tr", {}, ["Tenant", "Domain", "Status", "Created", "Subscription ends"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, items.map((t) => h("tr", { "data-tenant": t.tenantId },
          h("td", {}, h("a", { href: "#/tenants/" + encodeURIComponent(t.tenantId) }, t.tenantId)),
          h("td", {}, t.domain), h("td", {}, statusBadge(t.status)), h("td", {}, formatDate(t.createdAt)), h("td", {}, formatDate(t.expiresAt))))))),
    h("div", { class: "actions" },
      cursor ? h("a", { href: "#/tenants" + (status ? "?status=" + status : "") }, "First page") : null,
      next ? h("a", { href: next, id: "next-page" }, "Next page") : null));
}

function logoPreview(logo) {
  if (!logo || !logo.contentType || !logo.data) return h("span", { class: "hint" }, "no logo");
  // A data: URL in an <img>: an SVG logo cannot run script there.
  return h("img", { class: "logo-preview", alt: "Tenant logo", src: `data:${logo.contentType};base64,${logo.data}` });
}

async function tenantView(id) {
  const tenant = await api("GET", "/v1/tenants/" + encodeURIComponent(id));
  const kc = tenant.keycloak || {}, twoFA = tenant.twoFAConfig || {}, media = tenant.mediaServer || {};
  const props = (pairs) => h("dl", { class: "props" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : (v === null || v === undefined || v === "" ? "—" : String(v)))]));
  const actions = h("div", { class: "actions" });
  const status = tenant.status;
  if (status !== "deleted" && status !== "purged") {
    actions.append(h("a", { href: `#/tenants/${encodeURIComponent(id)}/edit`, id: "edit-tenant" }, "Edit"));
    if (status === "suspended") actions.append(h("button", { type: "button", id: "resume", onclick: () => act("resume") }, "Resume"));
    else actions.append(h("button", { type: "button", id: "suspend", onclick: () => act("suspend") }, "Suspend"));
    actions.append(h("button", { type: "button", class: "danger", id: "delete", onclick: () => act("delete") }, "Delete"));
  }
  async function act(action) {
    const text = {
      suspend: `Suspend ${id}? Its tokens stop verifying and no new ones are minted until it is resumed.`,
      resume: `Resume ${id}?`,
      delete: `Delete ${id}? Minting and verification stop at once and its API keys are revoked. This cannot be undone from the console.`,
    }[action];
    if (!(await confirmAction(text, action[0].toUpperCase() + action.slice(1)))) return;
    try {
      if (action === "delete") await api("DELETE", "/v1/tenants/" + encodeURIComponent(id));
      else await api("POST", `/v1/tenants/${encodeURIComponent(id)}/${action}`);
      show(`${id}: ${action === "delete" ? "deleted" : action === "suspend" ? "suspended" : "resumed"}.`, false);
      await tenantView(id);
    } catch (error) { failure(error); }
  }
  render("Tenant " + tenant.tenantId,
    h("div", { class: "panel" }, props([
      ["Status", statusBadge(status)], ["Domain", tenant.domain], ["Logo", logoPreview(tenant.logo)],
      ["Keycloak realm", kc.realm], ["Client id", kc.clientId], ["Issuer", kc.issuer], ["OTP Manager", kc.Otp_Manager_Url],
      ["2FA", twoFA.isEnabled ? `on: ${twoFA.channelType}, ${twoFA.serviceIdentifier}, ${twoFA.otpExpiry} s, ${twoFA.retryLimit} tries` : "off"],
      ["Media server", media.host ? `${media.host}:${media.port}` : null],
      ["Subscription ends", tenant.subscription && tenant.subscription.expiresAt ? formatDate(tenant.subscription.expiresAt) : null],
      ["Created", formatDate(tenant.createdAt)], ["Updated", formatDate(tenant.updatedAt)], ["Deleted", tenant.deletedAt ? formatDate(tenant.deletedAt) : null],
    ]), actions),
    h("p", {}, h("a", { href: "#/tenants" }, "All tenants"), " · ", h("a", { href: "#/audit?tenantId=" + encodeURIComponent(id) }, "Audit trail")));
}

function logoInput(current) {
  const input = h("input", { type: "file", accept: "image/png,image/jpeg,image/svg+xml,image/webp" });
  const preview = h("div", { class: "logo-slot", id: "logo-preview" }, logoPreview(current));
  const state = { logo: undefined };
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) { state.logo = undefined; preview.replaceChildren(logoPreview(current)); return; }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      const url = String(reader.result);
      const comma = url.indexOf(",");
      state.logo = { contentType: file.type || "application/octet-stream", data: url.slice(comma + 1) };
      preview.replaceChildren(logoPreview(state.logo));
    });
    reader.readAsDataURL(file);
  });
  return { input, preview, state };
}

function twoFAFields(current) {
  const enabled = h("input", { type: "checkbox", checked: Boolean(current.isEnabled) });
  const channel = h("select", {}, ["SMS", "Email"].map((c) => h("option", { value: c, selected: current.channelType === c }, c)));
  const service = h("input", { type: "text", value: current.serviceIdentifier || "" });
  const expiry = h("input", { type: "text", inputmode: "numeric", value: current.otpExpiry ?? 120 });
  const retries = h("input", { type: "text", inputmode: "numeric", value: current.retryLimit ?? 3 });
  const set = h("fieldset", {}, h("legend", {}, "Two-factor login (OTP)"),
    field("2FA on", "twoFAConfig.isEnabled", enabled),
    field("Channel", "twoFAConfig.channelType", channel),
    field("Service identifier", "twoFAConfig.serviceIdentifier", service, "The OTP Manager's sender, e.g. sms-gateway-1"),
    field("OTP expiry (seconds)", "twoFAConfig.otpExpiry", expiry, "30-900"),
    field("Attempts", "twoFAConfig.retryLimit", retries, "1-10"));
  const value = () => enabled.checked
    ? { isEnabled: true, channelType: channel.value, serviceIdentifier: textOrNull(service.value), otpExpiry: numberOrText(expiry.value), retryLimit: numberOrText(retries.value) }
    : { isEnabled: false };
  const sync = () => { for (const el of [channel, service, expiry, retries]) el.disabled = !enabled.checked; };
  enabled.addEventListener("change", sync);
  sync();
  return { set, value };
}

function mediaFields(current) {
  const host = h("input", { type: "text", value: current.host || "" });
  const port = h("input", { type: "text", inputmode: "numeric", value: current.port ?? "" });
  return {
    set: h("fieldset", {}, h("legend", {}, "Media server"), field("Host", "mediaServer.host", host), field("Port", "mediaServer.port", port)),
    value: () => (host.value.trim() === "" && port.value.trim() === "") ? undefined : { host: textOrNull(host.value), port: numberOrText(port.value) },
  };
}

function subscriptionField(current) {
  const date = h("input", { type: "date", value: current && current.expiresAt ? String(current.expiresAt).slice(0, 10) : "" });
  return {
    element: field("Subscription ends (UTC)", "subscription.expiresAt", date, "Empty: no end"),
    value: () => date.value ? { expiresAt: date.value + "T00:00:00Z" } : undefined,
  };
}

function newTenantView() {
  const id = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  const domain = h("input", { type: "text", spellcheck: "false" });
  const realm = h("input", { type: "text", spellcheck: "false" });
  const clientId = h("input", { type: "text", value: "cx-portal" });
  const clientSecret = h("input", { type: "password", autocomplete: "new-password" });
  const issuer = h("input", { type: "text", spellcheck: "false" });
  const otpURL = h("input", { type: "text", spellcheck: "false", placeholder: "http://ef-cx-otp-manager-svc:3000/" });
  const twoFA = twoFAFields({ isEnabled: true, channelType: "SMS", otpExpiry: 120, retryLimit: 3 });
  const media = mediaFields({});
  const subscription = subscriptionField(null);
  const logo = logoInput(null);
  const form = h("form", { id: "tenant-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Tenant"),
      field("Tenant id", "tenantId", id, "1-63 lowercase letters, digits and -, starting with a letter"),
      field("Domain", "domain", domain, "Empty: <tenant id>.<base domain>"), subscription.element,
      field("Logo", "logo", logo.input, "PNG, JPEG, SVG or WebP, at most 512 KiB"), logo.preview),
    h("fieldset", {}, h("legend", {}, "Keycloak"),
      field("Realm", "keycloak.realm", realm), field("Client id", "keycloak.clientId", clientId),
      field("Client secret", "keycloak.clientSecret", clientSecret, "Sealed at rest; never shown again"),
      field("Issuer", "keycloak.issuer", issuer, "Empty: <keycloak-url>/realms/<realm>"),
      field("OTP Manager URL", "keycloak.Otp_Manager_Url", otpURL)),
    twoFA.set, media.set,
    h("div", { class: "form-errors", tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create tenant"), h("a", { href: "#/tenants" }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const keycloak = { realm: textOrNull(realm.value), clientId: textOrNull(clientId.value) };
    if (clientSecret.value) keycloak.clientSecret = clientSecret.value;
    if (issuer.value.trim()) keycloak.issuer = issuer.value.trim();
    if (otpURL.value.trim()) keycloak.Otp_Manager_Url = otpURL.value.trim();
    const body = { tenantId: id.value.trim(), keycloak, twoFAConfig: twoFA.value() };
    if (domain.value.trim()) body.domain = domain.value.trim();
    const mediaValue = media.value(); if (mediaValue) body.mediaServer = mediaValue;
    const sub = subscription.value(); if (sub) body.subscription = sub;
    if (logo.state.logo) body.logo = logo.state.logo;
    try {
      const created = await api("POST", "/v1/tenants", body);
      clientSecret.value = "";
      go("#/tenants/" + encodeURIComponent(created.tenantId), `Tenant ${created.tenantId} created.`);
    } catch (error) {
      if (error instanceof APIError && error.status === 401) return;
      showErrors(form, error);
    }
  });
  render("New tenant", form);
}

function sameTwoFA(a, b) {
  if (!a.isEnabled || !b.isEnabled) return Boolean(a.isEnabled) === Boolean(b.isEnabled);
  return ["channelType", "serviceIdentifier", "otpExpiry", "retryLimit"].every((k) => a[k] === b[k]);
}

async function editTenantView(tenantId) {
  const { body: tenant, etag } = await api("GET", "/v1/tenants/" + encodeURIComponent(tenantId), undefined, { withETag: true });
  const kc = tenant.keycloak || {};
  const otpURL = h("input", { type: "text", spellcheck: "false", value: kc.Otp_Manager_Url || "" });
  const twoFA = twoFAFields(tenant.twoFAConfig || {});
  const media = mediaFields(tenant.mediaServer || {});
  const subscription = subscriptionField(tenant.subscription);
  const logo = logoInput(tenant.logo);
  const form = h("form", { id: "tenant-form", novalidate: true },
    h("p", { class: "hint" }, "Only these fields can change after creation; the id, domain and Keycloak client are fixed."),
    h("fieldset", {}, h("legend", {}, "Tenant"), subscription.element,
      field("Logo", "logo", logo.input, "PNG, JPEG, SVG or WebP, at most 512 KiB; empty keeps the current one"), logo.preview,
      field("OTP Manager URL", "keycloak.Otp_Manager_Url", otpURL)),
    twoFA.set, media.set,
    h("div", { class: "form-errors", tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"), h("a", { href: "#/tenants/" + encodeURIComponent(tenantId) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Only what changed is sent, and only if nobody changed the tenant since it was read (If-Match: 412 otherwise).
    const body = {};
    const twoFAValue = twoFA.value();
    if (!sameTwoFA(twoFAValue, tenant.twoFAConfig || {})) body.twoFAConfig = twoFAValue;
    const url = otpURL.value.trim();
    if (url !== (kc.Otp_Manager_Url || "")) body.keycloak = { Otp_Manager_Url: url === "" ? null : url };
    const mediaValue = media.value();
    const mediaBefore = tenant.mediaServer || {};
    if (mediaValue && (mediaValue.host !== (mediaBefore.host ?? null) || mediaValue.port !== (mediaBefore.port ?? null))) {
      body.mediaServer = { ...mediaBefore, ...mediaValue };   // other members of the object are kept
    }
    const sub = subscription.value();
    const before = tenant.subscription && tenant.subscription.expiresAt ? String(tenant.subscription.expiresAt).slice(0, 10) : "";
    if ((sub ? sub.expiresAt.slice(0, 10) : "") !== before) body.subscription = sub || { expiresAt: null };
    if (logo.state.logo) body.logo = logo.state.logo;
    if (Object.keys(body).length === 0) { go("#/tenants/" + encodeURIComponent(tenantId), "Nothing changed."); return; }
    try {
      await api("PATCH", "/v1/tenants/" + encodeURIComponent(tenantId), body, { ifMatch: etag || undefined });
      go("#/tenants/" + encodeURIComponent(tenantId), `Tenant ${tenantId} saved.`);
    } catch (error) {
      if (error instanceof APIError && error.status === 401) return;
      showErrors(form, error);
    }
  });
  render("Edit tenant " + tenantId, form);
}

// ---- API keys ------------------------------------------------------------------------------------

const SCOPES = ["admin", "token:mint", "token:introspect", "otp", "tenants:read", "tenants:write"];

async function apiKeysView() {
  const keys = (await api("GET", "/v1/api-keys")).items || [];
  const name = h("input", { type: "text", required: true });
  const tenants = h("input", { type: "text", value: "*", spellcheck: "false" });
  const scopeBoxes = SCOPES.map((scope) => h("input", { type: "checkbox", value: scope, name: "scope" }));
  const scopeSet = h("fieldset", { "data-field": "scopes", id: "scopes-set" }, h("legend", {}, "Scopes"),
    scopeBoxes.map((box) => { box.id = "scope-" + box.value.replace(":", "-"); return h("div", { class: "field inline" }, box, h("label", { for: box.id }, box.value)); }),
    h("p", { class: "field-error", id: "scopes-set-error", hidden: true }));
  const once = h("div", { id: "new-key", "aria-live": "polite" });
  const form = h("form", { class: "panel", id: "key-form", novalidate: true, "aria-labelledby": "new-key-h" },
    h("h2", { id: "new-key-h" }, "Create a key"),
    field("Name", "name", name, "Who uses the key"),
    field("Tenants", "tenants", tenants, "Comma-separated: * for all, t1 (and its subtenants) or t1/sub1"),
    scopeSet,
    h("div", { class: "form-errors", tabindex: "-1", role: "alert" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create key")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      name: name.value.trim(),
      scopes: scopeBoxes.filter((b) => b.checked).map((b) => b.value),
      tenants: tenants.value.split(",").map((t) => t.trim()).filter(Boolean),
    };
    try {
      const created = await api("POST", "/v1/api-keys", body);
      const secret = h("input", { type: "text", readonly: true, value: created.key, id: "new-key-value", "aria-label": "The new key", class: "mono" });
      const copy = h("button", { type: "button", id: "copy-key" }, "Copy");
      copy.addEventListener("click", async () => {
        try { await navigator.clipboard.writeText(secret.value); copy.textContent = "Copied"; }
        catch { secret.select(); copy.textContent = "Selected: press Ctrl+C"; }
      });
      once.replaceChildren(h("div", { class: "panel" },
        h("p", {}, h("strong", {}, `Key ${created.id} created. `), "It is shown only this once: copy it now."),
        h("div", { class: "secret-once" }, secret, copy),
        h("div", { class: "actions" }, h("button", { type: "button", id: "dismiss-key", onclick: () => apiKeysView().catch(failure) }, "Done, hide it"))));
      form.reset();
      tenants.value = "*";
      await refreshKeyRows();
      secret.focus();
      secret.select();
    } catch (error) {
      if (error instanceof APIError && error.status === 401) return;
      showErrors(form, error);
    }
  });
  const keyRow = (key) => {
    const revoked = Boolean(key.revokedAt);
    return h("tr", { "data-key": key.id },
      h("td", { class: "mono" }, key.id), h("td", {}, key.name), h("td", {}, (key.scopes || []).join(", ")), h("td", {}, (key.tenants || []).join(", ")),
      h("td", {}, formatDate(key.createdAt)), h("td", {}, revoked ? statusBadge("revoked") : statusBadge("active")),
      h("td", {}, revoked ? "" : h("button", { type: "button", class: "danger", "data-revoke": key.id, "aria-label": `Revoke key ${key.id} (${key.name})`, onclick: () => revoke(key) }, "Revoke")));
  };
  const tbody = h("tbody", {}, keys.map(keyRow));
  async function refreshKeyRows() {
    try { tbody.replaceChildren(...((await api("GET", "/v1/api-keys")).items || []).map(keyRow)); } catch (error) { failure(error); }
  }
  async function revoke(key) {
    if (!(await confirmAction(`Revoke key ${key.id} (${key.name})? Every caller using it is refused from now on.`, "Revoke"))) return;
    try {
      await api("DELETE", "/v1/api-keys/" + encodeURIComponent(key.id));
      show(`Key ${key.id} revoked.`, false);
      await apiKeysView();
    } catch (error) { failure(error); }
  }
  render("API keys", form, once,
    h("div", { class: "table-wrap" }, h("table", { id: "api-keys" },
      h("thead", {}, h("tr", {}, ["Id", "Name", "Scopes", "Tenants", "Created", "State", "Action"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)));
}

// ---- audit ---------------------------------------------------------------------------------------

async function auditView(params) {
  const tenantId = params.get("tenantId") || "";
  const since = params.get("since") || "";
  const tenantInput = h("input", { type: "text", value: tenantId, id: "audit-tenant", spellcheck: "false" });
  const sinceInput = h("input", { type: "datetime-local", value: since, id: "audit-since" });
  const query = new URLSearchParams({ limit: "200" });
  if (tenantId) query.set("tenantId", tenantId);
  if (since) {
    const at = new Date(/Z$/.test(since) ? since : since + "Z");
    if (Number.isNaN(at.getTime())) { render("Audit", h("p", { class: "form-errors" }, "That time is not a date.")); return; }
    query.set("since", at.toISOString());
  }
  const form = h("form", { class: "toolbar", id: "audit-form" },
    h("div", { class: "field" }, h("label", { for: "audit-tenant" }, "Tenant"), tenantInput),
    h("div", { class: "field" }, h("label", { for: "audit-since" }, "Since (UTC)"), sinceInput),
    h("button", { type: "submit", class: "primary" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (tenantInput.value.trim()) next.set("tenantId", tenantInput.value.trim());
    if (sinceInput.value) next.set("since", sinceInput.value);
    location.hash = "#/audit" + (next.toString() ? "?" + next : "");
  });
  let events = [];
  try {
    events = (await api("GET", "/v1/audit?" + query)).items || [];
  } catch (error) {
    if (error instanceof APIError && error.status === 401) return;
    render("Audit", form, h("p", { class: "form-errors" }, describe(error)));
    return;
  }
  const nextPage = events.length === 200
    ? "#/audit?" + new URLSearchParams({ ...(tenantId ? { tenantId } : {}), since: events[events.length - 1].at })
    : null;
  render("Audit", form,
    h("p", { class: "hint" }, `${events.length} event(s), oldest first.`,
      nextPage ? [" ", h("a", { href: nextPage, id: "audit-next" }, "Later events"), " (from the last one shown)"] : null),
    h("div", { class: "table-wrap" }, h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, ["At", "Actor", "Action", "Tenant", "Outcome", "Request"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, events.map((e) => h("tr", {},
        h("td", {}, formatDate(e.at)), h("td", { class: "mono" }, e.actor),
        h("td", {}, e.action, e.counts ? h("span", { class: "hint" }, " " + Object.entries(e.counts).map(([k, v]) => `${k} ${v}`).join(", ")) : null),
        h("td", {}, e.tenantId || "—"), h("td", {}, e.outcome), h("td", { class: "mono" }, e.requestId || "—")))))));
}

// ---- signing keys --------------------------------------------------------------------------------

async function keysView() {
  const ring = await api("GET", "/v1/keys");
  const keys = ring.keys || [];
  const active = keys.find((k) => k.state === "active");
  render("Signing keys",
    h("div", { class: "tiles" },
      h("div", { class: "tile", "data-tile": "active-key" }, h("div", { class: "value mono" }, active ? active.alg : "—"), h("div", { class: "label" }, "Active key's algorithm")),
      h("div", { class: "tile", "data-tile": "active-age" }, h("div", { class: "value" }, active ? age(active.activatedAt || active.createdAt) : "—"), h("div", { class: "label" }, "Active key's age"))),
    h("h2", {}, "Key ring"),
    h("div", { class: "table-wrap" }, h("table", { id: "signing-keys" },
      h("thead", {}, h("tr", {}, ["Key id (kid)", "Algorithm", "State", "Published", "Created", "Activated"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, keys.map((k) => h("tr", {},
        h("td", { class: "mono" }, k.kid), h("td", {}, k.alg), h("td", {}, statusBadge(k.state)), h("td", {}, k.published ? "yes" : "no"),
        h("td", {}, formatDate(k.createdAt)), h("td", {}, formatDate(k.activatedAt))))))),
    h("p", { class: "hint" }, "Rotate with token-broker keys rotate on the broker's host, then SIGHUP; the JWKS is at ", h("a", { href: "/.well-known/jwks.json" }, "/.well-known/jwks.json"), "."));
}

// ---- routing -------------------------------------------------------------------------------------

const TENANT_ID = /^[a-z][a-z0-9-]{0,62}$/;

async function route() {
  // Only "#/..." is a view; anything else (an in-page link) leaves the view as it is.
  if (location.hash && !location.hash.startsWith("#/")) return;
  const [path, queryText] = (location.hash.replace(/^#/, "") || "/dashboard").split("?");
  const params = new URLSearchParams(queryText || "");
  const current = session();
  if (!current) { signInView(); return; }
  if (path === "/signin") { go("#/dashboard"); return; }
  nav.hidden = false; signOutButton.hidden = false;
  who.textContent = current.kind === "key" ? "signed in with an API key" : "signed in as " + current.label;
  const section = "/" + (path.split("/")[1] || "");
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === "#" + section) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    render("Not found", h("p", {}, "That address names nothing here."));
    return;
  }
  if (parts[0] === "tenants" && parts[1] && parts[1] !== "new" && !TENANT_ID.test(parts[1])) {
    render("Not found", h("p", {}, "That is not a tenant id."));
    return;
  }
  try {
    if (parts[0] === "tenants" && parts[1] === "new") newTenantView();
    else if (parts[0] === "tenants" && parts[1] && parts[2] === "edit") await editTenantView(parts[1]);
    else if (parts[0] === "tenants" && parts[1]) await tenantView(parts[1]);
    else if (parts[0] === "tenants") await tenantsView(params);
    else if (parts[0] === "api-keys") await apiKeysView();
    else if (parts[0] === "audit") await auditView(params);
    else if (parts[0] === "keys") await keysView();
    else await dashboardView();
  } catch (error) {
    if (error instanceof APIError && error.status === 404) { render("Not found", h("p", {}, describe(error))); return; }
    if (error instanceof APIError && error.status === 401) return;
    // Not the previous view under the new address: say what failed here.
    render("Something went wrong", h("p", { class: "form-errors" }, describe(error)));
  }
}

signOutButton.addEventListener("click", () => endSession("Signed out."));
document.querySelector("a.skip").addEventListener("click", (event) => { event.preventDefault(); main.focus(); });
window.addEventListener("hashchange", () => {
  show(pending ? pending.message : "", pending ? pending.isError : false);
  pending = null;
  route();
});
// A session that ends while the page sits idle returns to sign-in without waiting for a click.
setInterval(() => { if (!session() && location.hash !== "#/signin" && !nav.hidden) endSession("Your session has expired; sign in again."); }, 5000);
route();
