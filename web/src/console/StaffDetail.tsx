// One staff member: what they are (role, type, locations, programs, modules) with the edits the
// logged-in person may make, the account actions (unlock, deactivate, authenticator reset,
// temporary password, end sessions) and the member's timeline. Controls the session's permissions
// do not allow are hidden or disabled; the server stays the authority and its refusals show here.
import { useEffect, useState, type FormEvent } from 'react';
import { allOf, get, post, put } from '../lib/api';
import { Link } from '../lib/router';
import { staffChanges, type StaffEditable } from '../lib/staffEdit';
import { Check, Field, FormError, Select, Status, fieldError, useLoad } from '../lib/ui';
import { can, mayManage, roles, staffTypes, useSession } from './session';
import { Timeline } from './Timeline';
import { AccessLog } from './AccessLog';

interface Member extends StaffEditable {
  id: string;
  username: string;
  first_name: string;
  middle_name?: string;
  last_name: string;
  position: string;
  email: string;
  active: boolean;
  locked?: boolean;
  locked_until?: string | null;
  failed_attempts?: number;
  mfa_enrolled?: boolean;
}
interface Named { id: string; name: string }

export function StaffDetailPage({ id }: { id: string }) {
  const { session } = useSession();
  const member = useLoad(() => get<Member>(`/v1/staff/${id}`), [id]);
  const locations = useLoad(() => (can(session, 'agency.read') ? allOf<Named>('/v1/locations') : Promise.resolve({ items: [] })), []);
  const programs = useLoad(() => (can(session, 'agency.read') ? allOf<Named>('/v1/programs') : Promise.resolve({ items: [] })), []);
  const staff = useLoad(() => get<{ items: { id: string; first_name: string; last_name: string }[] }>('/v1/staff?limit=200'), []);
  const [historyKey, setHistoryKey] = useState(0);
  if (!member.data) return <Status loading={member.loading} error={member.error} />;
  const m = member.data;
  const name = `${m.first_name} ${m.middle_name ? m.middle_name + ' ' : ''}${m.last_name}`;
  const nameOf = (sid: string) => {
    const s = staff.data?.items.find((x) => x.id === sid);
    return s ? `${s.first_name} ${s.last_name}` : undefined;
  };
  const changed = () => {
    member.reload();
    setHistoryKey((k) => k + 1);
  };
  return (
    <section aria-labelledby="member-title">
      <p><Link to="/staff">← All staff</Link></p>
      <h1 id="member-title">{name}</h1>
      <dl className="facts">
        <dt>Username</dt><dd><code>{m.username}</code></dd>
        <dt>Position</dt><dd>{m.position || '—'}</dd>
        <dt>E-mail</dt><dd>{m.email || '—'}</dd>
        <dt>Status</dt><dd data-testid="member-status">{memberStatus(m)}</dd>
        {m.mfa_enrolled !== undefined && (<><dt>Authenticator</dt><dd>{m.mfa_enrolled ? 'set up' : 'not set up'}</dd></>)}
      </dl>
      <EditAccess member={m} name={name} locations={locations.data?.items ?? []} programs={programs.data?.items ?? []} onSaved={changed} />
      <AccountActions member={m} name={name} onChanged={changed} />
      {can(session, 'events.read') && <Timeline key={historyKey} path={`/v1/staff/${id}/history`} title="History" nameOf={nameOf} self={id} />}
      {can(session, 'audit.read') && <AccessLog query={`actor_id=${id}`} title="Records opened" nameOf={nameOf} />}
    </section>
  );
}

function memberStatus(m: Member): string {
  if (!m.active) return 'Deactivated: cannot log in; the username stays reserved.';
  if (m.locked) return `Locked after ${m.failed_attempts ?? 'several'} wrong passwords${m.locked_until ? ` until ${new Date(m.locked_until).toLocaleString()}` : ''}.`;
  return 'Active';
}

function EditAccess({ member, name, locations, programs, onSaved }: { member: Member; name: string; locations: Named[]; programs: Named[]; onSaved: () => void }) {
  const { session } = useSession();
  const initial = (): StaffEditable => ({
    role: member.role,
    type: member.type,
    location_ids: member.location_ids ?? [],
    program_ids: member.program_ids ?? [],
    permissions: { client_portal: !!member.permissions?.client_portal, messaging: !!member.permissions?.messaging },
  });
  const [form, setForm] = useState<StaffEditable>(initial);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setForm(initial()), [member]); // eslint-disable-line react-hooks/exhaustive-deps
  // a deactivated member is shown as they were left; nothing of theirs changes any more
  const manage = mayManage(session, member) && member.active;
  const mayRole = manage && can(session, 'staff.roles');
  const mayUpdate = manage && can(session, 'staff.update');
  const mayModules = manage && can(session, 'staff.permissions');
  if (!mayRole && !mayUpdate && !mayModules && !member.active) return null;
  const roleOptions = roles.filter(([r]) => r !== 'org_admin' || can(session, 'staff.grant_org_admin') || member.role === 'org_admin');
  const toggle = (list: string[], id: string, on: boolean) => (on ? [...list, id] : list.filter((x) => x !== id));
  const changes = staffChanges(initial(), form);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSaved('');
    setBusy(true);
    try {
      for (const c of changes) await put(`/v1/staff/${member.id}/${c.route}`, c.body);
      setSaved(changes.length ? `Saved the changes to ${name}.` : 'Nothing to save: nothing was changed.');
      onSaved();
    } catch (err) {
      setError(err);
      onSaved(); // what did go through shows
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="access-title" noValidate>
      <h2 id="access-title">Role and access</h2>
      {!manage && <p className="muted">{member.active ? "You may look at this staff member's access but not change it." : 'This account is deactivated: its access no longer changes.'}</p>}
      {saved && <div className="notice" role="status">{saved}</div>}
      <FormError error={error} />
      <div className="grid">
        <Select label="Role" value={form.role} disabled={!mayRole || busy} onChange={(e) => setForm({ ...form, role: e.target.value })} options={roleOptions} error={fieldError(error, 'role')} />
        <Select label="Type" value={form.type} disabled={!mayUpdate || busy} onChange={(e) => setForm({ ...form, type: e.target.value })} options={staffTypes} error={fieldError(error, 'type')} />
      </div>
      <fieldset disabled={!mayUpdate || busy}>
        <legend>Locations</legend>
        {locations.length === 0 && <p className="muted">The agency has no locations yet.</p>}
        {locations.map((l) => (
          <Check key={l.id} label={l.name} checked={form.location_ids.includes(l.id)} onChange={(e) => setForm({ ...form, location_ids: toggle(form.location_ids, l.id, e.target.checked) })} />
        ))}
        {fieldError(error, 'location_ids') && <p className="error" role="alert">{fieldError(error, 'location_ids')}</p>}
      </fieldset>
      <fieldset disabled={!mayUpdate || busy}>
        <legend>Programs</legend>
        {programs.length === 0 && <p className="muted">The agency has no programs yet.</p>}
        {programs.map((p) => (
          <Check key={p.id} label={p.name} checked={form.program_ids.includes(p.id)} onChange={(e) => setForm({ ...form, program_ids: toggle(form.program_ids, p.id, e.target.checked) })} />
        ))}
        {fieldError(error, 'program_ids') && <p className="error" role="alert">{fieldError(error, 'program_ids')}</p>}
      </fieldset>
      <fieldset disabled={!mayModules || busy}>
        <legend>Modules</legend>
        <Check label="Client portal" checked={form.permissions.client_portal} onChange={(e) => setForm({ ...form, permissions: { ...form.permissions, client_portal: e.target.checked } })} />
        <Check label="Messaging" checked={form.permissions.messaging} onChange={(e) => setForm({ ...form, permissions: { ...form.permissions, messaging: e.target.checked } })} />
      </fieldset>
      {(mayRole || mayUpdate || mayModules) && (
        <div className="actions"><button type="submit" disabled={busy || changes.length === 0}>Save changes</button></div>
      )}
    </form>
  );
}

function AccountActions({ member, name, onChanged }: { member: Member; name: string; onChanged: () => void }) {
  const { session } = useSession();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState('');
  const [temporary, setTemporary] = useState('');
  const [confirming, setConfirming] = useState(false);
  const self = member.id === session.staff.id;
  const manage = mayManage(session, member) && !self;
  const may = (p: string) => manage && can(session, p);
  if (!may('staff.unlock') && !may('staff.deactivate') && !may('staff.mfa_reset') && !may('staff.password_reset') && !may('staff.sessions')) return null;
  const act = async (what: string, path: string, body: Record<string, unknown>) => {
    setError(undefined);
    setDone('');
    setTemporary('');
    try {
      const r = await post<{ temporary_password?: string }>(`/v1/staff/${member.id}/${path}`, body);
      setDone(what);
      if (r.temporary_password) setTemporary(r.temporary_password);
      setReason('');
      setConfirming(false);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const withReason = reason.trim() ? { reason: reason.trim() } : {};
  return (
    <section className="card" aria-labelledby="account-title">
      <h2 id="account-title">Account</h2>
      {done && (
        <div className="notice" role="status">
          {done}
          {temporary && (
            <>
              {' '}Temporary password (shown only now; {member.first_name} chooses their own at the next login):{' '}
              <code className="secret" data-testid="temporary-password">{temporary}</code>
            </>
          )}
        </div>
      )}
      <FormError error={error} />
      {member.active ? (
        <>
          <Field label="Reason (kept with the change)" value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} error={fieldError(error, 'reason')}
            hint="Say why, for example “lost phone” or “left the agency”." />
          <div className="row-actions">
            {may('staff.unlock') && (
              <button type="button" disabled={member.locked === false} onClick={() => act(`${name} was unlocked.`, 'unlock', {})}>Unlock</button>
            )}
            {may('staff.password_reset') && <button type="button" onClick={() => act(`${name} has a temporary password; every session of theirs ended.`, 'temporary-password', withReason)}>Give a temporary password</button>}
            {may('staff.mfa_reset') && <button type="button" onClick={() => act(`${name}'s authenticator was removed; they set one up again at their next login.`, 'mfa/reset', withReason)}>Reset authenticator</button>}
            {may('staff.sessions') && <button type="button" onClick={() => act(`Every session of ${name} ended.`, 'sessions/end', withReason)}>End all sessions</button>}
            {may('staff.deactivate') && !confirming && <button type="button" className="danger" onClick={() => setConfirming(true)}>Deactivate…</button>}
          </div>
          {confirming && (
            <div className="confirm" role="group" aria-label="Confirm deactivation">
              <p>Deactivate {name}? They can no longer log in and their sessions end; the username {member.username} stays reserved.</p>
              <div className="row-actions">
                <button type="button" className="danger" onClick={() => act(`${name} was deactivated.`, 'deactivate', withReason)}>Yes, deactivate</button>
                <button type="button" className="link" onClick={() => setConfirming(false)}>Cancel</button>
              </div>
            </div>
          )}
        </>
      ) : (
        <p className="muted">This account is deactivated.</p>
      )}
    </section>
  );
}
