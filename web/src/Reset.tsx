import { useState, type FormEvent } from 'react';
import { post } from './lib/api';
import { useLocation } from './lib/router';
import { Field, FormError, fieldError } from './lib/ui';

/** /reset?token=…: the page a password-reset e-mail links to. */
export function Reset() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState('');
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    if (password !== again) {
      setMismatch('The two passwords differ.');
      return;
    }
    setMismatch('');
    try {
      await post('/v1/auth/password-reset/confirm', { token, new_password: password });
      setDone(true);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main className="narrow">
      <form onSubmit={submit} aria-labelledby="reset-title" noValidate>
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <p className="notice" role="status">Your password was changed and every session was ended. <a href="/">Log in</a> with the new password.</p>
        ) : (
          <>
            <FormError error={error} />
            {fieldError(error, 'token') && <p className="form-error" role="alert">{fieldError(error, 'token')}. Ask for a new link from the login page.</p>}
            <Field label="New password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" error={fieldError(error, 'new_password')} />
            <Field label="New password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" error={mismatch || undefined} />
            <div className="actions"><button type="submit">Save password</button></div>
          </>
        )}
      </form>
    </main>
  );
}
