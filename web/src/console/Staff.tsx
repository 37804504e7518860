import { useEffect, useRef, useState, type FormEvent } from 'react';
import { allOf, get, post, put } from '../lib/api';
import { Link } from '../lib/router';
import { describePreview, readyToPreview, type UsernamePreview } from '../lib/username';
import { Check, Field, FormError, Select, Status, fieldError, useLoad } from '../lib/ui';
import { can, mayManage, roles, staffTypes, useSession } from './session';

interface Staff {
  id: string;
  username: string;
  first_name: string;
  middle_name?: string;
  last_name: string;
  position: string;
  email: string;
  role: string;
  type: string;
  active: boolean;
  permissions?: { client_portal?: boolean; messaging?: boolean };
}

interface Named { id: string; name: string }

const label = (list: [string, string][], v: string) => list.find(([k]) => k === v)?.[1] ?? v;

export function StaffPage() {
  const { session } = useSession();
  const [role, setRole] = useState('');
  const [type, setType] = useState('');
  const [active, setActive] = useState('true');
  const [q, setQ] = useState('');
  const [location, setLocation] = useState('');
  const [program, setProgram] = useState('');
  const [adding, setAdding] = useState(false);
  const places = useLoad(
    () =>
      can(session, 'agency.read')
        ? Promise.all([allOf<Named>('/v1/locations'), allOf<Named>('/v1/programs')])
        : Promise.resolve([{ items: [] }, { items: [] }] as { items: Named[] }[]),
    [],
  );
  const query = new URLSearchParams();
  if (role) query.set('role', role);
  if (type) query.set('type', type);
  if (location) query.set('location_id', location);
  if (program) query.set('program_id', program);
  if (active) query.set('active', active);
  if (q) query.set('q', q);
  const list = useLoad(() => get<{ items: Staff[] }>(`/v1/staff?${query}`), [query.toString()]);

  return (
    <section aria-labelledby="staff-title">
      <div className="title-row">
        <h1 id="staff-title">Staff</h1>
        {can(session, 'staff.create') && (
          <button onClick={() => setAdding(!adding)} aria-expanded={adding}>
            {adding ? 'Close' : 'Add staff'}
          </button>
        )}
      </div>
      {adding && <AddStaff onAdded={list.reload} />}
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search" value={q} onChange={(e) => setQ(e.target.value)} />
        <Select label="Role" value={role} onChange={(e) => setRole(e.target.value)} options={[['', 'Any role'], ...roles]} />
        <Select label="Type" value={type} onChange={(e) => setType(e.target.value)} options={[['', 'Any type'], ...staffTypes]} />
        {(places.data?.[0].items.length ?? 0) > 0 && (
          <Select label="Location" value={location} onChange={(e) => setLocation(e.target.value)} options={[['', 'Any location'], ...places.data![0].items.map((l) => [l.id, l.name] as [string, string])]} />
        )}
        {(places.data?.[1].items.length ?? 0) > 0 && (
          <Select label="Program" value={program} onChange={(e) => setProgram(e.target.value)} options={[['', 'Any program'], ...places.data![1].items.map((p) => [p.id, p.name] as [string, string])]} />
        )}
        <Select label="Status" value={active} onChange={(e) => setActive(e.target.value)} options={[['true', 'Active'], ['false', 'Deactivated'], ['', 'All']]} />
      </form>
      <Status loading={list.loading && !list.data} error={list.error} empty={list.data?.items.length === 0} emptyText="No staff match these filters." />
      {list.data && list.data.items.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Staff list">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Username</th>
                <th scope="col">Role</th>
                <th scope="col">Type</th>
                <th scope="col">Modules</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((s) => (
                <StaffRow key={s.id} staff={s} onChanged={list.reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function StaffRow({ staff, onChanged }: { staff: Staff; onChanged: () => void }) {
  const { session } = useSession();
  const [error, setError] = useState<unknown>();
  const name = `${staff.first_name} ${staff.middle_name ? staff.middle_name + ' ' : ''}${staff.last_name}`;
  const act = async (f: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await f();
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  // Shown as chosen at once; put back if the server refuses. While a change is on its way, a
  // reloaded list (answering an earlier change) does not overwrite what the person just chose.
  const [modules, setModules] = useState({ client_portal: !!staff.permissions?.client_portal, messaging: !!staff.permissions?.messaging });
  const pending = useRef(0);
  useEffect(() => {
    if (pending.current === 0) setModules({ client_portal: !!staff.permissions?.client_portal, messaging: !!staff.permissions?.messaging });
  }, [staff]);
  const setModule = async (module: 'client_portal' | 'messaging', on: boolean) => {
    setModules((m) => ({ ...m, [module]: on }));
    pending.current++;
    setError(undefined);
    try {
      await put(`/v1/staff/${staff.id}/permissions`, { [module]: on });
    } catch (e) {
      setError(e);
      setModules((m) => ({ ...m, [module]: !on }));
    } finally {
      pending.current--;
    }
    onChanged();
  };
  const manage = mayManage(session, staff);
  const mayGrant = manage && can(session, 'staff.permissions');
  return (
    <tr>
      <td><Link to={`/staff/${staff.id}`}>{name}</Link><div className="muted">{staff.position}</div></td>
      <td><code>{staff.username}</code></td>
      <td>{label(roles, staff.role)}</td>
      <td>{label(staffTypes, staff.type)}{!staff.active && <div className="muted">deactivated</div>}</td>
      <td>
        <Check label={`Client portal for ${name}`} checked={modules.client_portal} disabled={!mayGrant} onChange={(e) => setModule('client_portal', e.target.checked)} />
        <Check label={`Messaging for ${name}`} checked={modules.messaging} disabled={!mayGrant} onChange={(e) => setModule('messaging', e.target.checked)} />
      </td>
      <td><div className="row-actions">
        {manage && can(session, 'staff.unlock') && <button className="small" onClick={() => act(() => post(`/v1/staff/${staff.id}/unlock`)).catch(() => undefined)}>Unlock</button>}
        {manage && can(session, 'staff.deactivate') && staff.active && staff.id !== session.staff.id && (
          <button className="small danger" onClick={() => confirm(`Deactivate ${name}? Their username stays reserved.`) && act(() => post(`/v1/staff/${staff.id}/deactivate`, {})).catch(() => undefined)}>
            Deactivate
          </button>
        )}
        {error !== undefined && <FormError error={error} />}
      </div></td>
    </tr>
  );
}

const empty = { first_name: '', middle_name: '', last_name: '', gender: '', position: '', email: '', role: 'therapist', type: 'therapy_counseling' };

function AddStaff({ onAdded }: { onAdded: () => void }) {
  const [form, setForm] = useState(empty);
  const [preview, setPreview] = useState<UsernamePreview>();
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<{ username: string; temporary_password?: string }>();
  const set = (k: keyof typeof empty) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  useEffect(() => {
    if (!readyToPreview(form.first_name, form.last_name)) {
      setPreview(undefined);
      return;
    }
    const q = new URLSearchParams({ first_name: form.first_name, last_name: form.last_name });
    if (form.middle_name) q.set('middle_name', form.middle_name);
    const t = setTimeout(() => {
      get<UsernamePreview>(`/v1/username-preview?${q}`).then(setPreview, () => setPreview(undefined));
    }, 200);
    return () => clearTimeout(t);
  }, [form.first_name, form.middle_name, form.last_name]);

  const text = preview && describePreview(preview);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: Record<string, string> = { ...form };
      if (!body.middle_name) delete body.middle_name;
      const r = await post<{ username: string; temporary_password?: string }>('/v1/staff', body);
      setCreated(r);
      setForm(empty);
      onAdded();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-staff-title" noValidate>
      <h2 id="add-staff-title">Add a staff member</h2>
      {created && (
        <div className="notice" role="status">
          Added <strong>{created.username}</strong>.
          {created.temporary_password && (
            <>
              {' '}Temporary password (shown only now; they choose their own at first login):{' '}
              <code className="secret">{created.temporary_password}</code>
            </>
          )}
        </div>
      )}
      <FormError error={error} />
      <div className="grid">
        <Field label="First name" value={form.first_name} onChange={set('first_name')} required error={fieldError(error, 'first_name')} />
        <Field label="Middle name" value={form.middle_name} onChange={set('middle_name')} error={fieldError(error, 'middle_name')}
          hint={text?.offerMiddle ? 'A middle name gives a unique username with its initial.' : undefined} />
        <Field label="Last name" value={form.last_name} onChange={set('last_name')} required error={fieldError(error, 'last_name')} />
      </div>
      <p className={`preview ${text && !text.username ? 'warn' : ''}`} aria-live="polite" data-testid="username-preview">
        {text ? text.message : 'The username is made from the first initial and the last name.'}
      </p>
      <div className="grid">
        <Field label="Gender" value={form.gender} onChange={set('gender')} required error={fieldError(error, 'gender')} />
        <Field label="Position" value={form.position} onChange={set('position')} required error={fieldError(error, 'position')} />
        <Field label="E-mail" type="email" value={form.email} onChange={set('email')} required error={fieldError(error, 'email')} />
        <Select label="Role" value={form.role} onChange={set('role')} options={roles} error={fieldError(error, 'role')} />
        <Select label="Type" value={form.type} onChange={set('type')} options={staffTypes} error={fieldError(error, 'type')} />
      </div>
      <div className="actions"><button type="submit">Add staff member</button></div>
    </form>
  );
}
