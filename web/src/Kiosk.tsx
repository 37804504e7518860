// /kiosk#<token>: the form a client fills in on a shared device. The page reads the kiosk token
// from the URL's fragment (never sent to the server, never stored), drops it from the address bar,
// and sends it as a bearer token to /v1/kiosk/form only: it links nowhere and the token opens
// nothing but this one form of this one client, until it is submitted or expires.
import { useEffect, useState, type FormEvent } from 'react';
import { explain, problemOf } from './lib/api';
import { kioskTokenFrom } from './lib/kiosk';
import { FormError, fieldError } from './lib/ui';

let token = '';

async function kioskCall<T>(method: 'GET' | 'POST', body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = crypto.randomUUID();
  }
  const res = await fetch('/v1/kiosk/form', { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) throw problemOf(res.status, data);
  return data as T;
}

interface KioskForm {
  form_id: string | null;
  document_id: string | null;
  expires_at: string;
  client: { first_name: string };
}

export function Kiosk() {
  const [form, setForm] = useState<KioskForm>();
  const [state, setState] = useState<'loading' | 'open' | 'done' | 'closed'>('loading');
  const [why, setWhy] = useState('');
  const [answer, setAnswer] = useState('');
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const t = kioskTokenFrom(location.hash);
    if (t) token = t;
    if (location.hash) history.replaceState(null, '', '/kiosk');
    if (!token) {
      setWhy('This device has no kiosk session. Please ask a member of staff to start one.');
      setState('closed');
      return;
    }
    kioskCall<KioskForm>('GET')
      .then((f) => {
        setForm(f);
        setState('open');
      })
      .catch((e) => {
        token = '';
        setWhy(closedWords(e));
        setState('closed');
      });
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await kioskCall('POST', { answers: { response: answer } });
      token = '';
      setState('done');
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="narrow kiosk" id="main">
      {state === 'loading' && <p className="status" role="status">Loading…</p>}
      {state === 'closed' && (
        <>
          <h1>Kiosk</h1>
          <p className="form-error" role="alert">{why}</p>
        </>
      )}
      {state === 'done' && (
        <>
          <h1>Thank you</h1>
          <p className="notice" role="status">Your answers were sent to your care team. Please hand the device back to a member of staff.</p>
        </>
      )}
      {state === 'open' && form && (
        <form onSubmit={submit} aria-labelledby="kiosk-title" noValidate>
          <h1 id="kiosk-title">Hello, {form.client.first_name}</h1>
          <p>
            Please fill in {form.form_id ? <>the form <strong>{form.form_id}</strong></> : 'this document'}. Your answers go only to your care
            team; this page can be sent once and closes at {new Date(form.expires_at).toLocaleTimeString()}.
          </p>
          <FormError error={error} />
          <div className="field">
            <label htmlFor="kiosk-answer">Your answers</label>
            <textarea id="kiosk-answer" rows={8} value={answer} onChange={(e) => setAnswer(e.target.value)} required
              aria-invalid={fieldError(error, 'answers') ? true : undefined} />
            {fieldError(error, 'answers') && <div className="error" role="alert">{fieldError(error, 'answers')}</div>}
          </div>
          <div className="actions"><button type="submit" disabled={!answer.trim()}>Send my answers</button></div>
        </form>
      )}
    </main>
  );
}

function closedWords(e: unknown): string {
  const status = (e as { status?: number }).status;
  if (status === 409) return 'This form was already sent. Please hand the device back to a member of staff.';
  if (status === 401) return 'This kiosk session has ended or is not valid. Please ask a member of staff to start a new one.';
  return explain(e);
}
