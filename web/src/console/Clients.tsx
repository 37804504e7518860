import { useState, type FormEvent } from 'react';
import { call, get, post, put } from '../lib/api';
import { carelogColumns, guessMapping, mappingProblems, remapCsv, splitHeader, type ColumnMapping } from '../lib/csv';
import { portalAccountStatus, type PortalAccount } from '../lib/portalAccount';
import { Link } from '../lib/router';
import { Field, FormError, Select, Status, fieldError, useLoad } from '../lib/ui';
import { ClientKiosk } from './ClientKiosk';
import { can, useSession } from './session';
import { Timeline } from './Timeline';
import { AccessLog } from './AccessLog';

interface Client {
  id: string;
  first_name: string;
  last_name: string;
  date_of_birth: string;
  email?: string | null;
  phone?: string | null;
  staff_ids: string[];
  portal_username?: string | null;
  portal_account_id?: string | null;
}

export function ClientsPage() {
  const { session } = useSession();
  const [q, setQ] = useState('');
  const [adding, setAdding] = useState(false);
  const list = useLoad(() => get<{ items: Client[] }>(`/v1/clients${q ? `?q=${encodeURIComponent(q)}` : ''}`), [q]);
  return (
    <section aria-labelledby="clients-title">
      <div className="title-row">
        <h1 id="clients-title">Clients</h1>
        <div className="actions">
          {can(session, 'clients.import') && <Link className="button" to="/clients/import">Import CSV</Link>}
          {can(session, 'clients.create') && <button onClick={() => setAdding(!adding)} aria-expanded={adding}>{adding ? 'Close' : 'Add client'}</button>}
        </div>
      </div>
      {adding && <AddClient onAdded={list.reload} />}
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search clients" value={q} onChange={(e) => setQ(e.target.value)} />
      </form>
      <Status loading={list.loading && !list.data} error={list.error} empty={list.data?.items.length === 0} emptyText="No clients you may see yet." />
      {list.data && list.data.items.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Client list">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Date of birth</th><th scope="col">Portal</th></tr></thead>
            <tbody>
              {list.data.items.map((c) => (
                <tr key={c.id}>
                  <td><Link to={`/clients/${c.id}`}>{c.last_name}, {c.first_name}</Link></td>
                  <td>{c.date_of_birth}</td>
                  <td>{c.portal_username ? <code>{c.portal_username}</code> : <span className="muted">not registered</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const emptyClient = { first_name: '', last_name: '', date_of_birth: '', email: '', phone: '' };

function AddClient({ onAdded }: { onAdded: () => void }) {
  const [form, setForm] = useState(emptyClient);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const set = (k: keyof typeof emptyClient) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: Record<string, string> = {};
      for (const [k, v] of Object.entries(form)) if (v.trim()) body[k] = v.trim();
      await post('/v1/clients', body);
      setDone(`${form.first_name} ${form.last_name} was added.`);
      setForm(emptyClient);
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-client-title" noValidate>
      <h2 id="add-client-title">Add a client</h2>
      {done && <div className="notice" role="status">{done}</div>}
      <FormError error={error} />
      <div className="grid">
        <Field label="First name" value={form.first_name} onChange={set('first_name')} required error={fieldError(error, 'first_name')} />
        <Field label="Last name" value={form.last_name} onChange={set('last_name')} required error={fieldError(error, 'last_name')} />
        <Field label="Date of birth" type="date" value={form.date_of_birth} onChange={set('date_of_birth')} required error={fieldError(error, 'date_of_birth')} />
        <Field label="E-mail" type="email" value={form.email} onChange={set('email')} error={fieldError(error, 'email')} />
        <Field label="Phone" type="tel" value={form.phone} onChange={set('phone')} error={fieldError(error, 'phone')} />
      </div>
      <div className="actions"><button type="submit">Add client</button></div>
    </form>
  );
}

interface Invitation {
  id: string;
  email: string;
  state: 'sent' | 'registered' | 'expired' | 'revoked';
  sent_at: string;
  expires_at: string;
}

const stateWords: Record<Invitation['state'], string> = {
  sent: 'Sent, waiting for the client to register',
  registered: 'Registered',
  expired: 'Expired (send a new link)',
  revoked: 'Revoked',
};

export function ClientPage({ id }: { id: string }) {
  const { session } = useSession();
  const client = useLoad(() => get<Client>(`/v1/clients/${id}`), [id]);
  const invitations = useLoad(() => get<{ items: Invitation[] }>(`/v1/clients/${id}/portal/invitations`), [id]);
  const staff = useLoad(() => get<{ items: { id: string; first_name: string; last_name: string; username: string; active: boolean }[]; next_cursor?: string | null }>('/v1/staff?limit=200'), []);
  const [error, setError] = useState<unknown>();
  const [assignee, setAssignee] = useState('');
  const [historyKey, setHistoryKey] = useState(0);
  const act = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await f();
      client.reload();
      invitations.reload();
      setHistoryKey((k) => k + 1);
    } catch (e) {
      setError(e);
    }
  };
  if (!client.data) return <Status loading={client.loading} error={client.error} />;
  const c = client.data;
  const staffName = (sid: string) => {
    const s = staff.data?.items.find((x) => x.id === sid);
    if (s) return `${s.first_name} ${s.last_name}`;
    // whoever acts on a client's record is staff or the client themself (through their portal
    // account or a kiosk session); with the whole staff list at hand, anyone else is the client
    return staff.data && !staff.data.next_cursor ? `${c.first_name} ${c.last_name}` : undefined;
  };
  const nameOf = (sid: string) => {
    const s = staff.data?.items.find((x) => x.id === sid);
    return s ? `${s.first_name} ${s.last_name} (${s.username})` : sid;
  };
  const mayInvite = can(session, 'portal.invite');
  return (
    <section aria-labelledby="client-title">
      <p><Link to="/clients">← All clients</Link></p>
      <h1 id="client-title">{c.first_name} {c.last_name}</h1>
      <dl className="facts">
        <dt>Date of birth</dt><dd>{c.date_of_birth}</dd>
        <dt>E-mail</dt><dd>{c.email || '—'}</dd>
        <dt>Phone</dt><dd>{c.phone || '—'}</dd>
        <dt>Portal username</dt><dd>{c.portal_username || 'not registered'}</dd>
      </dl>
      <FormError error={error} />
      <h2>Assigned staff</h2>
      {c.staff_ids.length === 0 ? <p className="muted">Nobody is assigned yet.</p> : (
        <ul>
          {c.staff_ids.map((sid) => (
            <li key={sid}>
              {nameOf(sid)}{' '}
              {can(session, 'clients.assign_staff') && <button className="small" onClick={() => act(() => call('DELETE', `/v1/clients/${id}/staff/${sid}`))}>Unassign</button>}
            </li>
          ))}
        </ul>
      )}
      {can(session, 'clients.assign_staff') && staff.data && (
        <form className="inline" onSubmit={(e) => { e.preventDefault(); if (assignee) act(() => put(`/v1/clients/${id}/staff/${assignee}`)); }}>
          <Select label="Staff member to assign" value={assignee} onChange={(e) => setAssignee(e.target.value)}
            options={[['', 'Choose…'], ...staff.data.items.filter((s) => s.active && !c.staff_ids.includes(s.id)).map((s) => [s.id, `${s.first_name} ${s.last_name} (${s.username})`] as [string, string])]} />
          <button type="submit">Assign</button>
        </form>
      )}
      <h2>Portal invitations</h2>
      <Status loading={invitations.loading && !invitations.data} error={invitations.error} empty={invitations.data?.items.length === 0} emptyText="No invitation sent yet." />
      {invitations.data && invitations.data.items.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Portal invitations">
          <table>
            <thead><tr><th scope="col">Sent to</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {invitations.data.items.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.email}</td>
                  <td data-testid="invitation-state">{stateWords[inv.state]}</td>
                  <td>{new Date(inv.expires_at).toLocaleString()}</td>
                  <td><div className="row-actions">
                    {mayInvite && (inv.state === 'sent' || inv.state === 'expired') && <button className="small" onClick={() => act(() => post(`/v1/portal/invitations/${inv.id}/resend`))}>Resend</button>}
                    {mayInvite && inv.state === 'sent' && <button className="small danger" onClick={() => act(() => post(`/v1/portal/invitations/${inv.id}/revoke`))}>Revoke</button>}
                  </div></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {mayInvite && !c.portal_username && (
        <button onClick={() => act(() => post(`/v1/clients/${id}/portal/invitations`))} disabled={!c.email}>
          Invite to the portal
        </button>
      )}
      {mayInvite && !c.email && <p className="muted">The client needs an e-mail address to be invited.</p>}
      {!mayInvite && <p className="muted">Inviting to the portal needs the client portal module (agency settings) and the permission for it.</p>}
      {c.portal_account_id && <PortalAccountSection accountId={c.portal_account_id} firstName={c.first_name} onChanged={() => { client.reload(); setHistoryKey((k) => k + 1); }} />}
      {can(session, 'messaging.use') && <Threads clientId={id} />}
      <ClientKiosk clientId={id} firstName={c.first_name} />
      {can(session, 'events.read') && <Timeline key={historyKey} path={`/v1/clients/${id}/history`} title="History" nameOf={staffName} />}
      {can(session, 'audit.read') && <AccessLog query={`subject_id=${id}`} title="Who opened this record" nameOf={staffName} />}
    </section>
  );
}

// The client's portal account: its state, and for administrators (staff.password_reset) a
// temporary password for a client who lost theirs, with a required reason kept in the event. The
// password is shown once; only its hash is kept.
function PortalAccountSection({ accountId, firstName, onChanged }: { accountId: string; firstName: string; onChanged: () => void }) {
  const { session } = useSession();
  const account = useLoad(() => get<PortalAccount>(`/v1/portal/accounts/${accountId}`), [accountId]);
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>();
  const [temporary, setTemporary] = useState('');
  const mayReset = can(session, 'staff.password_reset');
  const give = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await post<{ temporary_password?: string }>(`/v1/portal/accounts/${accountId}/temporary-password`, { reason: reason.trim() });
      setTemporary(r.temporary_password ?? '');
      setReason('');
      setAsking(false);
      account.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const a = account.data;
  return (
    <section className="card" aria-labelledby="portal-account-title">
      <h2 id="portal-account-title">Portal account</h2>
      <Status loading={account.loading && !a} error={account.error} />
      {a && (
        <dl className="facts">
          <dt>Username</dt><dd>{a.username ? <code>{a.username}</code> : 'not chosen yet'}</dd>
          <dt>Last login</dt><dd>{a.last_login_at ? new Date(a.last_login_at).toLocaleString() : 'never'}</dd>
          <dt>Status</dt><dd data-testid="portal-account-status">{portalAccountStatus(a)}</dd>
        </dl>
      )}
      {temporary && (
        <div className="notice" role="status">
          The portal account has a temporary password; every session of it ended. Temporary password (shown only now; {firstName} chooses
          their own at the next login):{' '}
          <code className="secret" data-testid="temporary-password">{temporary}</code>
        </div>
      )}
      {mayReset && !asking && (
        <button type="button" onClick={() => { setAsking(true); setTemporary(''); setError(undefined); }}>Give a temporary password</button>
      )}
      {mayReset && asking && (
        <form onSubmit={give} aria-labelledby="portal-temporary-title" noValidate>
          <h3 id="portal-temporary-title">Give a temporary password</h3>
          <p>For a client who lost their password: the account is unlocked, its sessions end, and {firstName} chooses their own password at the next login. Give it to them in person or by phone.</p>
          <FormError error={error} />
          <Field label="Reason (kept with the change)" value={reason} required maxLength={500} onChange={(e) => setReason(e.target.value)} error={fieldError(error, 'reason')}
            hint="Say why, for example “forgot the password” or “locked out”." />
          <div className="actions">
            <button type="submit">Create temporary password</button>
            <button type="button" className="link" onClick={() => { setAsking(false); setError(undefined); }}>Cancel</button>
          </div>
        </form>
      )}
    </section>
  );
}

interface Message { id: string; sender_kind: 'staff' | 'client'; body: string; sent_at: string }

function Threads({ clientId }: { clientId: string }) {
  const { session } = useSession();
  const threads = useLoad(() => get<{ items: { id: string; message_count: number }[] }>(`/v1/messages/threads?client_id=${clientId}`), [clientId]);
  if (!can(session, 'messaging.use')) return null;
  return (
    <>
      <h2>Messages</h2>
      <Status loading={threads.loading && !threads.data} error={threads.error} empty={threads.data?.items.length === 0} emptyText="No messages with this client yet." />
      {threads.data?.items.map((t) => <Thread key={t.id} clientId={clientId} threadId={t.id} />)}
    </>
  );
}

function Thread({ clientId, threadId }: { clientId: string; threadId: string }) {
  const thread = useLoad(() => get<{ messages: Message[] }>(`/v1/messages/threads/${threadId}`), [threadId]);
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const send = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await post('/v1/messages', { client_id: clientId, thread_id: threadId, body: text });
      setText('');
      thread.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="card thread">
      <ol className="messages">
        {thread.data?.messages.map((m) => (
          <li key={m.id} className={m.sender_kind}><span className="muted">{m.sender_kind === 'client' ? 'Client' : 'Staff'} · {new Date(m.sent_at).toLocaleString()}</span><p>{m.body}</p></li>
        ))}
      </ol>
      <form onSubmit={send} noValidate>
        <FormError error={error} />
        <Field label="Reply" value={text} onChange={(e) => setText(e.target.value)} error={fieldError(error, 'body')} />
        <div className="actions"><button type="submit">Send reply</button></div>
      </form>
    </div>
  );
}

interface ImportRow { line: number; status: 'imported' | 'valid' | 'failed'; errors?: { field: string; message: string }[] }
interface ImportReport { dry_run: boolean; records: number; imported: number; valid: number; failed: number; rows: ImportRow[] }

export function ImportPage() {
  const [text, setText] = useState('');
  const [header, setHeader] = useState<string[]>([]);
  const [mapping, setMapping] = useState<ColumnMapping>({});
  const [report, setReport] = useState<ImportReport>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const onFile = async (file: File | undefined) => {
    setReport(undefined);
    setError(undefined);
    if (!file) return;
    const t = await file.text();
    setText(t);
    const h = splitHeader(t).header;
    setHeader(h);
    setMapping(guessMapping(h));
  };
  const problems = header.length ? mappingProblems(mapping) : [];
  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      setReport(await call<ImportReport>('POST', `/v1/clients/import?dry_run=${dryRun}`, remapCsv(text, mapping), 'text/csv'));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="import-title">
      <p><Link to="/clients">← All clients</Link></p>
      <h1 id="import-title">Import clients from a CSV file</h1>
      <p>First check the file: a dry run reports every row and adds nobody. Then import.</p>
      <Field label="CSV file" type="file" accept=".csv,text/csv" onChange={(e) => onFile(e.target.files?.[0])} />
      {header.length > 0 && (
        <fieldset className="card">
          <legend>Which column of your file holds what?</legend>
          <div className="grid">
            {carelogColumns.map((col) => (
              <Select key={col} label={col.replace(/_/g, ' ')} value={mapping[col] ?? ''} onChange={(e) => setMapping({ ...mapping, [col]: e.target.value || undefined })}
                options={[['', '(not in the file)'], ...header.map((h) => [h, h] as [string, string])]} />
            ))}
          </div>
          {problems.map((p) => <p key={p} className="error" role="alert">{p}</p>)}
          <div className="actions">
            <button onClick={() => run(true)} disabled={busy || problems.length > 0}>Check (dry run)</button>
            <button onClick={() => run(false)} disabled={busy || problems.length > 0 || !report?.dry_run || report.valid === 0}>Import {report?.dry_run ? `${report.valid} valid rows` : ''}</button>
          </div>
        </fieldset>
      )}
      <FormError error={error} />
      {report && (
        <div aria-live="polite">
          <h2>{report.dry_run ? 'Dry run: nothing was imported' : 'Import done'}</h2>
          <p data-testid="import-summary">{report.records} rows: {report.dry_run ? `${report.valid} would be imported` : `${report.imported} imported`}, {report.failed} with problems.</p>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="Import report">
            <table>
              <thead><tr><th scope="col">Line</th><th scope="col">Result</th><th scope="col">Problems</th></tr></thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.line} className={r.status}>
                    <td>{r.line}</td>
                    <td>{r.status === 'failed' ? 'Problem' : r.status === 'valid' ? 'OK' : 'Imported'}</td>
                    <td>{r.errors?.map((e) => `${e.field.replace(/_/g, ' ')}: ${e.message}`).join('; ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </section>
  );
}
