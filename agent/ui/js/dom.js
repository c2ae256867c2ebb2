// Small DOM helpers. Log data is untrusted (any client can send any URL or User-Agent):
// everything is put on the page as text nodes, never as HTML.

/** Create an element: `el('td', { class: 'num' }, 'text', childNode)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace an element's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
}

/** A muted one-line message in a panel ("not available", "no results"). */
export function note(text, kind = 'muted') {
  return el('p', { class: `note ${kind}` }, text);
}

const integer = new Intl.NumberFormat('en-US');

/** 1234567 -> "1,234,567". */
export function count(n) {
  return typeof n === 'number' ? integer.format(n) : '–';
}

/** An RFC 3339 time as local "HH:MM:SS" (with the date when it is not today). */
export function clock(rfc3339) {
  const t = new Date(rfc3339);
  if (Number.isNaN(t.getTime())) return String(rfc3339 ?? '');
  const time = t.toLocaleTimeString('en-GB', { hour12: false });
  const today = new Date().toDateString() === t.toDateString();
  return today ? time : `${t.toISOString().slice(0, 10)} ${time}`;
}

/** A score badge, coloured by how far above the usual threshold it is. */
export function score(value) {
  if (typeof value !== 'number') return el('span', { class: 'score' }, '–');
  const level = value >= 0.8 ? 'high' : value >= 0.6 ? 'mid' : 'low';
  return el('span', { class: `score ${level}`, title: `anomaly score ${value}` }, value.toFixed(2));
}

/** An HTTP status, coloured by class. */
export function status(code) {
  const cls = code >= 500 ? 's5' : code >= 400 ? 's4' : code >= 300 ? 's3' : 's2';
  return el('span', { class: `status ${cls}` }, code ?? '–');
}
