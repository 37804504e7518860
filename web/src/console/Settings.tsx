import { useEffect, useState, type FormEvent } from 'react';
import { get, patch } from '../lib/api';
import { Check, Field, FormError, Status, fieldError, useLoad } from '../lib/ui';
import { can, roles, useSession } from './session';

interface Settings {
  name: string;
  slug: string;
  client_portal_enabled: boolean;
  messaging_enabled: boolean;
  password_policy: { min_length: number; require_upper: boolean; require_lower: boolean; require_digit: boolean; require_symbol: boolean; disallow_username: boolean };
  lockout: { threshold: number; minutes: number };
  session_idle_minutes: number;
  password_expiry_days: number;
  mfa_required_roles: string[];
}

export function SettingsPage() {
  const { session } = useSession();
  const loaded = useLoad(() => get<Settings>('/v1/agency/settings'), []);
  const [s, setS] = useState<Settings>();
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  useEffect(() => setS(loaded.data), [loaded.data]);
  if (!s) return <Status loading={loaded.loading} error={loaded.error} />;
  const mayChange = can(session, 'agency.settings');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      await patch('/v1/agency/settings', {
        client_portal_enabled: s.client_portal_enabled,
        messaging_enabled: s.messaging_enabled,
        password_policy: s.password_policy,
        lockout: s.lockout,
        session_idle_minutes: s.session_idle_minutes,
        password_expiry_days: s.password_expiry_days,
        mfa_required_roles: s.mfa_required_roles,
      });
      setSaved(true);
      loaded.reload();
    } catch (err) {
      setError(err);
    }
  };
  const num = (v: string) => (v === '' ? 0 : Number(v));
  const pp = s.password_policy;
  return (
    <section aria-labelledby="settings-title">
      <h1 id="settings-title">Agency settings</h1>
      <p>{s.name} · agency code <code>{s.slug}</code></p>
      <form onSubmit={submit} noValidate>
        <fieldset disabled={!mayChange}>
          <FormError error={error} />
          {saved && <div className="notice" role="status">Settings saved.</div>}
          <fieldset className="card">
            <legend>Modules</legend>
            <Check label="Client portal" checked={s.client_portal_enabled} onChange={(e) => setS({ ...s, client_portal_enabled: e.target.checked })} />
            <Check label="Messaging between staff and clients" checked={s.messaging_enabled} onChange={(e) => setS({ ...s, messaging_enabled: e.target.checked })} />
          </fieldset>
          <fieldset className="card">
            <legend>Passwords</legend>
            <Field label="Minimum length" type="number" min={8} value={pp.min_length} onChange={(e) => setS({ ...s, password_policy: { ...pp, min_length: num(e.target.value) } })} error={fieldError(error, 'password_policy.min_length')} />
            <Check label="Needs an upper-case letter" checked={pp.require_upper} onChange={(e) => setS({ ...s, password_policy: { ...pp, require_upper: e.target.checked } })} />
            <Check label="Needs a lower-case letter" checked={pp.require_lower} onChange={(e) => setS({ ...s, password_policy: { ...pp, require_lower: e.target.checked } })} />
            <Check label="Needs a digit" checked={pp.require_digit} onChange={(e) => setS({ ...s, password_policy: { ...pp, require_digit: e.target.checked } })} />
            <Check label="Needs a symbol" checked={pp.require_symbol} onChange={(e) => setS({ ...s, password_policy: { ...pp, require_symbol: e.target.checked } })} />
            <Field label="Passwords expire after (days, 0 = never)" type="number" min={0} value={s.password_expiry_days} onChange={(e) => setS({ ...s, password_expiry_days: num(e.target.value) })} error={fieldError(error, 'password_expiry_days')} />
          </fieldset>
          <fieldset className="card">
            <legend>Lockout and sessions</legend>
            <Field label="Wrong passwords in a row before the account locks" type="number" min={1} value={s.lockout.threshold} onChange={(e) => setS({ ...s, lockout: { ...s.lockout, threshold: num(e.target.value) } })} error={fieldError(error, 'lockout.threshold')} />
            <Field label="Minutes an account stays locked" type="number" min={1} value={s.lockout.minutes} onChange={(e) => setS({ ...s, lockout: { ...s.lockout, minutes: num(e.target.value) } })} error={fieldError(error, 'lockout.minutes')} />
            <Field label="Log out after this many idle minutes" type="number" min={1} value={s.session_idle_minutes} onChange={(e) => setS({ ...s, session_idle_minutes: num(e.target.value) })} error={fieldError(error, 'session_idle_minutes')} />
          </fieldset>
          <fieldset className="card">
            <legend>Authenticator codes required for</legend>
            {roles.map(([r, text]) => (
              <Check key={r} label={text} checked={s.mfa_required_roles.includes(r)}
                onChange={(e) => setS({ ...s, mfa_required_roles: e.target.checked ? [...s.mfa_required_roles, r] : s.mfa_required_roles.filter((x) => x !== r) })} />
            ))}
          </fieldset>
          <div className="actions"><button type="submit">Save settings</button></div>
        </fieldset>
      </form>
    </section>
  );
}
