// Kiosk sessions of one client: start one (its link is shown once) and hand this device over,
// or open the link on another device; the client's kiosk sessions with their state.
import { useState, type FormEvent } from 'react';
import { get, post, setCsrf } from '../lib/api';
import { kioskLink } from '../lib/kiosk';
import { navigate } from '../lib/router';
import { Field, FormError, Status, fieldError, useLoad } from '../lib/ui';
import { can, useSession } from './session';

interface KioskSession {
  id: string;
  form_id: string | null;
  document_id: string | null;
  started_at: string;
  expires_at: string;
  state: 'active' | 'expired' | 'submitted';
  answers?: Record<string, unknown> | null;
}

const stateWords: Record<KioskSession['state'], string> = { active: 'Open', expired: 'Expired', submitted: 'Filled in' };

export function ClientKiosk({ clientId, firstName }: { clientId: string; firstName: string }) {
  const { session } = useSession();
  const sessions = useLoad(() => get<{ items: KioskSession[] }>(`/v1/clients/${clientId}/kiosk-sessions`), [clientId]);
  const [formId, setFormId] = useState('');
  const [minutes, setMinutes] = useState('60');
  const [error, setError] = useState<unknown>();
  const [started, setStarted] = useState<{ token: string; expires_at: string }>();
  const mayStart = can(session, 'kiosk.start');
  const start = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setStarted(undefined);
    try {
      const body: Record<string, unknown> = { client_id: clientId, form_id: formId.trim() };
      if (minutes) body.expires_in_minutes = Number(minutes);
      setStarted(await post<{ token: string; expires_at: string }>('/v1/kiosk/sessions', body));
      setFormId('');
      sessions.reload();
    } catch (err) {
      setError(err);
    }
  };
  // The staff session ends on this device first: the client then holds a device that opens
  // nothing but their form.
  const handOver = async () => {
    if (!started) return;
    try {
      await post('/v1/auth/logout');
    } finally {
      setCsrf(undefined);
      navigate(`/kiosk#${encodeURIComponent(started.token)}`, true);
    }
  };
  return (
    <section aria-labelledby="kiosk-title">
      <h2 id="kiosk-title">Kiosk</h2>
      {mayStart ? (
        <form className="card" onSubmit={start} aria-label="Start a kiosk session" noValidate>
          <p>A kiosk session lets {firstName} fill in one form on a shared device that opens nothing else.</p>
          <FormError error={error} />
          <div className="grid">
            <Field label="Form" value={formId} onChange={(e) => setFormId(e.target.value)} required error={fieldError(error, 'form_id')}
              hint="The name of the form to fill in, for example intake-questionnaire." />
            <Field label="Open for (minutes)" type="number" min={1} max={1440} value={minutes} onChange={(e) => setMinutes(e.target.value)} error={fieldError(error, 'expires_in_minutes')} />
          </div>
          <div className="actions"><button type="submit" disabled={!formId.trim()}>Start kiosk session</button></div>
          {started && (
            <div className="notice" role="status">
              <p>The kiosk session is open until {new Date(started.expires_at).toLocaleString()}. Its link is shown only now:</p>
              <p><code className="secret" data-testid="kiosk-link">{kioskLink(location.origin, started.token)}</code></p>
              <p>Open it on the shared device, or hand this device over: you are logged out here first.</p>
              <button type="button" onClick={handOver}>Log out and open the kiosk on this device</button>
            </div>
          )}
        </form>
      ) : (
        <p className="muted">Starting a kiosk session needs the kiosk permission.</p>
      )}
      <Status loading={sessions.loading && !sessions.data} error={sessions.error} empty={sessions.data?.items.length === 0} emptyText="No kiosk sessions yet." />
      {sessions.data && sessions.data.items.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Kiosk sessions">
          <table>
            <thead><tr><th scope="col">Form</th><th scope="col">Started</th><th scope="col">State</th><th scope="col">Answers</th></tr></thead>
            <tbody>
              {sessions.data.items.map((k) => (
                <tr key={k.id}>
                  <td>{k.form_id ?? k.document_id}</td>
                  <td>{new Date(k.started_at).toLocaleString()}</td>
                  <td data-testid="kiosk-state">{stateWords[k.state] ?? k.state}</td>
                  <td>{k.answers ? Object.values(k.answers).map(String).join(' · ') : k.state === 'submitted' ? <span className="muted">shown to clinical staff only</span> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
