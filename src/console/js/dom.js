// Small DOM helpers: elements built from text (never from HTML strings, so nothing from the API is parsed as
// markup), tables, badges and times.

/** `h('a', { href: '#/x', onclick: fn }, 'text', child)`: an element with attributes, listeners and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (name === 'value') element.value = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/**
 * A table of `rows`; each column is `[heading, row => cell]`, a cell being text or an element. It scrolls
 * sideways in its own box when the screen is narrower than it.
 */
export function table(columns, rows, empty = 'Nothing here yet.') {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map(([heading]) => h('th', {}, heading)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            columns.map(([, cell, className]) => h('td', { class: className }, cell(row) ?? '')),
          ),
        ),
      ),
    ),
  );
}

/** Name/value pairs as a definition list. */
export function fields(pairs) {
  return h(
    'dl',
    {},
    pairs.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value ?? '—')]),
  );
}

export const badge = (text) => h('span', { class: `badge ${text}` }, text);

export const link = (href, text) => h('a', { href }, text);

/** A time as "3 min ago" (or "in 20 s", for a time to come) with the exact time on hover. */
export function when(iso) {
  if (!iso) return '—';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const size = Math.abs(seconds);
  const span =
    size < 60
      ? `${size} s`
      : size < 3600
        ? `${Math.round(size / 60)} min`
        : size < 86_400
          ? `${Math.round(size / 3600)} h`
          : undefined;
  const text =
    span === undefined ? new Date(iso).toLocaleString() : seconds < 0 ? `in ${span}` : `${span} ago`;
  return h('time', { datetime: iso, title: iso }, text);
}

export function excerpt(value, max = 80) {
  if (value === null || value === undefined) return '';
  const text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A signing secret, masked until the operator asks to see it (a screen share or a shoulder should not show
 * it). `reveal()` shows it, as after a rotation, when the new one is what the operator came for.
 */
export function secretField(secret) {
  let shown = false;
  const text = h('span', { class: 'mono', id: 'secret' });
  const toggle = h('button', { type: 'button', class: 'secondary small', onclick: () => set(!shown) });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'secondary small',
      onclick: () => navigator.clipboard?.writeText(secret),
    },
    'Copy',
  );
  function set(visible) {
    shown = visible;
    text.textContent = shown ? secret : `${secret.slice(0, 6)}${'•'.repeat(16)}`;
    toggle.textContent = shown ? 'Hide' : 'Reveal';
  }
  set(false);
  return {
    element: h('span', { class: 'row-actions' }, text, toggle, copy),
    reveal(next) {
      secret = next;
      set(true);
    },
  };
}

/** Replaces what `container` shows. */
export function show(container, ...children) {
  container.replaceChildren(...children.flat().filter(Boolean));
}
