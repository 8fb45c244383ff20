// The line above the page that says what an action did, or what went wrong.
const notice = document.getElementById('notice');

export function tell(text, isError = false) {
  notice.textContent = text;
  notice.className = isError ? 'error' : '';
  notice.hidden = false;
}

export function hush() {
  notice.hidden = true;
}
