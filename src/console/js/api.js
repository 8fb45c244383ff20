// The console's only way to the service: the public API with the key the user logged in with. The key lives in
// this tab's sessionStorage, so closing the tab forgets it.
const STORAGE = 'hookrelay.apiKey';

export class ApiError extends Error {
  constructor(problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.problem = problem;
  }
}

export const session = {
  key: () => sessionStorage.getItem(STORAGE),
  login: (key) => sessionStorage.setItem(STORAGE, key),
  logout: () => sessionStorage.removeItem(STORAGE),
};

/** Calls the API; a problem+json answer is thrown as an ApiError, and a 401 also logs out. */
export async function api(method, path, { body, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query ?? {}))
    if (value !== undefined && value !== '' && value !== null) url.searchParams.set(name, String(value));
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${session.key()}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (response.status === 401) {
    session.logout();
    if (location.hash !== '#/login') location.hash = '#/login';
  }
  if (!response.ok) throw new ApiError(data ?? { title: `HTTP ${response.status}`, status: response.status });
  return data;
}
