// The API as the browser uses it: same origin, the session in an HttpOnly cookie (never in
// script-readable storage), the CSRF token kept in memory and sent on every unsafe request.
// Problem bodies (application/problem+json) become ApiError with the per-field messages.
import { collectPages, withCursor, withParam, type Page } from './pages';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly fields: FieldError[],
  ) {
    super(detail || title);
  }
  /** The server's words for one field, joined; "" when it said nothing about it. */
  fieldMessage(field: string): string {
    return this.fields
      .filter((f) => f.field === field)
      .map((f) => f.message)
      .join('; ');
  }
}

export const sessionEndedEvent = 'carelog:session-ended';

let csrf = '';
export function setCsrf(token: string | undefined): void {
  csrf = token ?? '';
}

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (unsafe.has(method)) {
    if (csrf) headers['X-CSRF-Token'] = csrf;
    headers['Idempotency-Key'] = crypto.randomUUID();
  }
  let payload: BodyInit | undefined;
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) {
    // A session that ended (idle timeout, logout elsewhere) while the page was open: the page
    // shows the login with the reason. Asking who is logged in is not such a request.
    if (res.status === 401 && path !== '/v1/auth/session' && path !== '/v1/portal/me' && !path.endsWith('/login'))
      window.dispatchEvent(new Event(sessionEndedEvent));
    throw problemOf(res.status, data);
  }
  return data as T;
}

export function problemOf(status: number, data: Record<string, unknown>): ApiError {
  const errors = Array.isArray(data.errors) ? (data.errors as FieldError[]) : [];
  return new ApiError(status, String(data.title ?? 'Error'), String(data.detail ?? ''), errors);
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => call<T>('POST', path, body);
export const put = <T>(path: string, body: unknown = {}) => call<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown) => call<T>('PATCH', path, body);

/** Words a person understands for what went wrong (the problem's detail, or a plain fallback). */
export function explain(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return e.detail === 'invalid credentials'
      ? 'That agency, username and password do not match. After several wrong tries the account is locked for a while; an administrator can unlock it.'
      : 'Your session has ended (it closes after a period without activity). Please log in again.';
    return e.detail || e.title;
  }
  return 'The server could not be reached. Check your connection and try again.';
}

/** Every item of a paged listing at `path`, 500 a page, as one {items}. */
export async function allOf<T>(path: string): Promise<{ items: T[] }> {
  const first = withParam(path, 'limit', '500');
  return { items: await collectPages((cursor) => get<Page<T>>(withCursor(first, cursor))) };
}
