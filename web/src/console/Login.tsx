import { useState, type FormEvent } from 'react';
import { post, setCsrf } from '../lib/api';
import { Field, FormError, fieldError } from '../lib/ui';
import { QrCode } from './QrCode';

const lastAgency = () => localStorage.getItem('carelog.agency') ?? '';

export function Login({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [agency, setAgency] = useState(lastAgency());
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [forgot, setForgot] = useState(false);
  const [sent, setSent] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (forgot) {
        await post('/v1/auth/password-reset', { agency, username });
        setSent(true);
      } else {
        const body: Record<string, unknown> = { agency, username, password, cookie: true };
        if (totp) body.totp = totp;
        const r = await post<{ csrf_token: string }>('/v1/auth/login', body);
        localStorage.setItem('carelog.agency', agency);
        setCsrf(r.csrf_token);
        onLoggedIn();
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="narrow">
      <h1>carelog</h1>
      <form onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h2 id="login-title">{forgot ? 'Forgot your password?' : 'Staff login'}</h2>
        <FormError error={error} />
        <Field label="Agency" value={agency} onChange={(e) => setAgency(e.target.value)} autoComplete="organization" required error={fieldError(error, 'agency')} />
        <Field label="Username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" required error={fieldError(error, 'username')} />
        {forgot ? (
          sent && <p role="status">If that account exists, a link to choose a new password is on its way by e-mail. It works for one hour.</p>
        ) : (
          <>
            <Field label="Password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required error={fieldError(error, 'password')} />
            <Field label="Authenticator code (only if you set one up)" inputMode="numeric" value={totp} onChange={(e) => setTotp(e.target.value)} autoComplete="one-time-code" error={fieldError(error, 'totp')} />
          </>
        )}
        <div className="actions">
          <button type="submit" disabled={busy}>{forgot ? 'Send me a link' : 'Log in'}</button>
          <button type="button" className="link" onClick={() => { setForgot(!forgot); setSent(false); setError(undefined); }}>
            {forgot ? 'Back to login' : 'Forgot password?'}
          </button>
        </div>
      </form>
    </main>
  );
}

export function ChangePassword({ onDone, forced }: { onDone: () => void; forced: boolean }) {
  const [current, setCurrent] = useState('');
  const [fresh, setFresh] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>();
  const [mismatch, setMismatch] = useState('');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    if (fresh !== again) {
      setMismatch('The two new passwords differ.');
      return;
    }
    setMismatch('');
    try {
      await post('/v1/auth/password', { current_password: current, new_password: fresh });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="narrow">
      <form onSubmit={submit} aria-labelledby="pw-title" noValidate>
        <h1 id="pw-title">Choose your own password</h1>
        {forced && <p>Your account was given a temporary password. Choose a new one before you continue.</p>}
        <FormError error={error} />
        <Field label="Current (temporary) password" type="password" value={current} onChange={(e) => setCurrent(e.target.value)} autoComplete="current-password" error={fieldError(error, 'current_password')} />
        <Field label="New password" type="password" value={fresh} onChange={(e) => setFresh(e.target.value)} autoComplete="new-password" error={fieldError(error, 'new_password')} />
        <Field label="New password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" error={mismatch || undefined} />
        <div className="actions">
          <button type="submit">Save password</button>
        </div>
      </form>
    </main>
  );
}

export function EnrolMfa({ onDone }: { onDone: () => void }) {
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauth_uri?: string; uri?: string }>();
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>();
  const start = async () => {
    try {
      setEnrolment(await post('/v1/auth/mfa/enroll'));
    } catch (err) {
      setError(err);
    }
  };
  const uri = enrolment?.otpauth_uri ?? enrolment?.uri;
  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await post('/v1/auth/mfa/confirm', { code });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="narrow">
      <h1>Set up an authenticator</h1>
      <p>Your agency asks people in your role to confirm each login with a six-digit code from an authenticator app.</p>
      <FormError error={error} />
      {!enrolment ? (
        <button onClick={start}>Start</button>
      ) : (
        <form onSubmit={confirm} noValidate>
          {uri && (
            <>
              <p>Scan this code with your authenticator app (it is shown only now):</p>
              <QrCode text={uri} label="QR code for your authenticator app" />
            </>
          )}
          <p>{uri ? 'Or, if the app cannot scan, type in this key:' : 'Add this key to your authenticator app (it is shown only now):'}</p>
          <p className="secret" data-testid="mfa-secret">{enrolment.secret}</p>
          <Field label="Six-digit code from the app" inputMode="numeric" value={code} onChange={(e) => setCode(e.target.value)} error={fieldError(error, 'code')} />
          <div className="actions"><button type="submit">Confirm</button></div>
        </form>
      )}
    </main>
  );
}
