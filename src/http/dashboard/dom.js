// Small DOM and API helpers of the dashboard. Everything from the server is inserted as text, never
// as HTML (error messages and payloads come from actors and streams). Requests carry the operator's
// token, kept for the tab's session only.

const TOKEN_KEY = "troupe-token";

export const $ = (id) => document.getElementById(id);
export const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
export const num = (value) => (value === null || value === undefined ? "unknown" : fmt.format(value));

const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));
$("token-form").addEventListener("submit", (event) => event.preventDefault());

export function headers() {
  const token = tokenInput.value.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Builds an element; children are nodes or text (never parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, String(value));
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function say(text, bad = false) {
  const box = $("message");
  box.textContent = text;
  box.className = bad ? "message bad" : "message";
  box.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => {
    box.hidden = true;
  }, 5000);
}

export async function api(path, init = {}) {
  const response = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers ?? {}) } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

export function emptyRow(span, text) {
  return el("tr", {}, el("td", { colSpan: span, class: "empty" }, text));
}
