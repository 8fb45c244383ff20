// The line above the page that says what an action did, or what went wrong.
const notice = document.getElementById('notice');

/**
 * Says `content`: text, an element (a link to what the action made) or a list of both. Strings are inserted
 * as text, never parsed as markup.
 */
export function tell(content, isError = false) {
  notice.replaceChildren(...[content].flat());
  notice.className = isError ? 'error' : '';
  notice.hidden = false;
}

export function hush() {
  notice.hidden = true;
}
