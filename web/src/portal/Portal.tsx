import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, get, post, sessionEndedEvent, setCsrf } from '../lib/api';
import { mustChoosePassword, repeatProblem, resetRequest, resetRequested } from '../lib/portalPassword';
import { portalUsernameProblem } from '../lib/portalUsername';
import { Link, navigate, useLocation } from '../lib/router';
import { Field, FormError, Select, Status, fieldError, useLoad } from '../lib/ui';

interface Me {
  client: { first_name: string; last_name: string };
  portal_account: { id: string; username: string; require_password_change?: boolean };
  agency: { slug: string; name: string; messaging_enabled: boolean };
  staff: { id: string; first_name: string; last_name: string; position: string; messaging: boolean }[];
  csrf_token?: string;
}

const lastAgency = () => localStorage.getItem('carelog.portal.agency') ?? '';

export function Portal() {
  const { path } = useLocation();
  if (path === '/portal/register') return <Register />;
  if (path === '/portal/reset') return <ResetPassword />;
  return <PortalHome />;
}

function PortalHome() {
  const [me, setMe] = useState<Me | null>();
  const [error, setError] = useState<unknown>();
  const load = useCallback(() => {
    get<Me>('/v1/portal/me')
      .then((m) => {
        setCsrf(m.csrf_token);
        setMe(m);
        localStorage.setItem('carelog.portal.agency', m.agency.slug);
      })
      .catch((e) => (e instanceof ApiError && e.status === 401 ? setMe(null) : setError(e)));
  }, []);
  useEffect(load, [load]);
  useEffect(() => {
    const ended = () => {
      setCsrf(undefined);
      setMe(null);
    };
    window.addEventListener(sessionEndedEvent, ended);
    return () => window.removeEventListener(sessionEndedEvent, ended);
  }, []);
  if (me === undefined) return <Status loading={!error} error={error} />;
  if (me === null) return <PortalLogin onLoggedIn={load} />;
  const logout = () => post('/v1/portal/logout').finally(() => { setCsrf(undefined); setMe(null); navigate('/portal'); });
  const header = (
    <header className="top portal">
      <span className="brand">{me.agency.name}</span>
      <span className="who">{me.portal_account.username}<button className="link" onClick={logout}>Log out</button></span>
    </header>
  );
  // A temporary password from an administrator: the server answers nothing else until the client
  // has chosen their own, so the page offers nothing else.
  if (mustChoosePassword(me.portal_account))
    return (
      <>
        {header}
        <ChoosePassword onDone={load} />
      </>
    );
  return (
    <>
      {header}
      <main id="main">
        <h1>Hello, {me.client.first_name}</h1>
        {me.agency.messaging_enabled ? <Messages me={me} /> : <p>Messaging is not offered by your agency.</p>}
      </main>
    </>
  );
}

// The login, and in the same place "forgot your password?": the agency code and username, then
// the same answer whether or not such an account exists (the link goes to the account's e-mail).
function PortalLogin({ onLoggedIn }: { onLoggedIn: () => void }) {
  const { query } = useLocation();
  const [agency, setAgency] = useState(query.get('agency') ?? lastAgency());
  const [username, setUsername] = useState(query.get('username') ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [forgot, setForgot] = useState(query.has('forgot'));
  const [missing, setMissing] = useState<{ agency?: string; username?: string }>({});
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSent(false);
    setBusy(true);
    try {
      if (forgot) {
        const req = resetRequest(agency, username);
        setMissing(req.missing ?? {});
        if (!req.body) return;
        await post('/v1/portal/password-reset', req.body);
        localStorage.setItem('carelog.portal.agency', req.body.agency);
        setSent(true);
      } else {
        const r = await post<{ csrf_token: string }>('/v1/portal/login', { agency, username, password, cookie: true });
        setCsrf(r.csrf_token);
        localStorage.setItem('carelog.portal.agency', agency);
        onLoggedIn();
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const switchMode = () => {
    setForgot(!forgot);
    setSent(false);
    setMissing({});
    setError(undefined);
  };
  return (
    <main className="narrow">
      <form onSubmit={submit} aria-labelledby="portal-login-title" noValidate>
        <h1 id="portal-login-title">{forgot ? 'Forgot your password?' : 'Client portal'}</h1>
        {!forgot && query.get('registered') && <p className="notice" role="status">Your account is ready. Log in with the username and password you chose.</p>}
        {!forgot && query.get('reset') && <p className="notice" role="status">Your new password is set. Log in with it.</p>}
        {forgot && <p>Enter your agency code and username. We send a link to choose a new password to the e-mail address of your account.</p>}
        <FormError error={error} />
        <Field label="Agency code" value={agency} onChange={(e) => setAgency(e.target.value)} autoComplete="organization" error={missing.agency ?? fieldError(error, 'agency')} />
        <Field label="Username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" error={missing.username ?? fieldError(error, 'username')} />
        {forgot ? (
          sent && <p className="notice" role="status">{resetRequested}</p>
        ) : (
          <Field label="Password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" error={fieldError(error, 'password')} />
        )}
        <div className="actions">
          <button type="submit" disabled={busy}>{forgot ? 'Send me a link' : 'Log in'}</button>
          <button type="button" className="link" onClick={switchMode}>{forgot ? 'Back to login' : 'Forgot your password?'}</button>
        </div>
      </form>
    </main>
  );
}

// After a temporary password: the client chooses their own (the staff console's forced change,
// for the portal). Success lifts the session's restriction; the page then loads the portal.
function ChoosePassword({ onDone }: { onDone: () => void }) {
  const [current, setCurrent] = useState('');
  const [fresh, setFresh] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>();
  const [mismatch, setMismatch] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const differ = repeatProblem(fresh, again);
    setMismatch(differ);
    if (differ) return;
    try {
      await post('/v1/portal/password', { current_password: current, new_password: fresh });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <main id="main" className="narrow">
      <form onSubmit={submit} aria-labelledby="portal-pw-title" noValidate>
        <h1 id="portal-pw-title">Choose your own password</h1>
        <p>Your account was given a temporary password. Choose a new one before you continue.</p>
        <FormError error={error} />
        <Field label="Current (temporary) password" type="password" value={current} onChange={(e) => setCurrent(e.target.value)} autoComplete="current-password" error={fieldError(error, 'current_password')} />
        <Field label="New password" type="password" value={fresh} onChange={(e) => setFresh(e.target.value)} autoComplete="new-password" error={fieldError(error, 'new_password')} />
        <Field label="New password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" error={mismatch} />
        <div className="actions"><button type="submit">Save password</button></div>
      </form>
    </main>
  );
}

/** /portal/reset?token=…: the page the portal's password-reset e-mail links to. */
function ResetPassword() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [fresh, setFresh] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const differ = repeatProblem(fresh, again);
    setMismatch(differ);
    if (differ) return;
    try {
      await post('/v1/portal/password-reset/confirm', { token, new_password: fresh });
      setDone(true);
    } catch (err) {
      setError(err);
    }
  };
  if (!token)
    return <main className="narrow"><h1>Choose a new password</h1><p className="form-error" role="alert">This page needs the link from your password reset e-mail. <Link to="/portal">Back to the portal login</Link></p></main>;
  const tokenError = fieldError(error, 'token');
  return (
    <main className="narrow">
      <form onSubmit={submit} aria-labelledby="portal-reset-title" noValidate>
        <h1 id="portal-reset-title">Choose a new password</h1>
        {done ? (
          <p className="notice" role="status">Your password was changed and every session of your portal account was ended. <Link to="/portal?reset=1">Log in</Link> with the new password.</p>
        ) : (
          <>
            {/* a refused link alone is said once, in its own words, with the way to a new one */}
            <FormError error={tokenError && !fieldError(error, 'new_password') ? undefined : error} />
            {tokenError && (
              <p className="form-error" role="alert">
                {tokenError[0].toUpperCase() + tokenError.slice(1)}. <Link to="/portal?forgot=1">Ask for a new link</Link>.
              </p>
            )}
            <Field label="New password" type="password" value={fresh} onChange={(e) => setFresh(e.target.value)} autoComplete="new-password" error={fieldError(error, 'new_password')} />
            <Field label="New password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" error={mismatch} />
            <div className="actions"><button type="submit">Save password</button></div>
          </>
        )}
      </form>
    </main>
  );
}

function Register() {
  const { query } = useLocation();
  const token = query.get('token') ?? '';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [touched, setTouched] = useState(false);
  const [error, setError] = useState<unknown>();
  const [mismatch, setMismatch] = useState('');
  const local = touched ? portalUsernameProblem(username) : undefined;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setError(undefined);
    if (portalUsernameProblem(username)) return;
    if (password !== again) {
      setMismatch('The two passwords differ.');
      return;
    }
    setMismatch('');
    try {
      const r = await post<{ username: string }>('/v1/portal/register', { token, username: username.trim(), password });
      navigate(`/portal?registered=1&username=${encodeURIComponent(r.username)}`);
    } catch (err) {
      setError(err);
    }
  };
  if (!token) return <main className="narrow"><h1>Register</h1><p className="form-error" role="alert">This page needs the link from your invitation e-mail.</p></main>;
  const usernameError = local ?? (error instanceof ApiError && error.status === 409 ? error.detail : fieldError(error, 'username'));
  return (
    <main className="narrow">
      <form onSubmit={submit} aria-labelledby="register-title" noValidate>
        <h1 id="register-title">Create your portal account</h1>
        <p className="notice">Choose your username carefully: <strong>it can never be changed</strong> later.</p>
        <FormError error={error instanceof ApiError && error.status === 409 ? undefined : error} />
        {fieldError(error, 'token') && <p className="form-error" role="alert">{fieldError(error, 'token')}</p>}
        <Field label="Username" value={username} onChange={(e) => setUsername(e.target.value)} onBlur={() => setTouched(true)} autoComplete="username" error={usernameError}
          hint="Letters, digits, '.', '_' or '-'; not your e-mail address." />
        <Field label="Password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" error={fieldError(error, 'password')} />
        <Field label="Password again" type="password" value={again} onChange={(e) => setAgain(e.target.value)} autoComplete="new-password" error={mismatch || undefined} />
        <div className="actions"><button type="submit">Create account</button></div>
      </form>
    </main>
  );
}

interface Thread { id: string; staff_id: string; message_count: number }
interface Message { id: string; sender_kind: 'staff' | 'client'; body: string; sent_at: string }

function Messages({ me }: { me: Me }) {
  const threads = useLoad(() => get<{ items: Thread[] }>('/v1/portal/threads'), []);
  const writable = me.staff.filter((s) => s.messaging);
  const [to, setTo] = useState(writable[0]?.id ?? '');
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const [sent, setSent] = useState(false);
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSent(false);
    try {
      await post('/v1/portal/messages', { to_staff_id: to, body: text });
      setText('');
      setSent(true);
      threads.reload();
    } catch (err) {
      setError(err);
    }
  };
  const staffName = (id: string) => {
    const s = me.staff.find((x) => x.id === id);
    return s ? `${s.first_name} ${s.last_name}` : 'your care team';
  };
  return (
    <section aria-labelledby="messages-title">
      <h2 id="messages-title">Messages</h2>
      <Status loading={threads.loading && !threads.data} error={threads.error} empty={threads.data?.items.length === 0} emptyText="No messages yet." />
      {threads.data?.items.map((t) => <PortalThread key={t.id} thread={t} title={`With ${staffName(t.staff_id)}`} />)}
      {writable.length === 0 ? (
        <p className="muted">Nobody on your care team takes messages here yet.</p>
      ) : (
        <form className="card" onSubmit={send} noValidate>
          <h3>New message</h3>
          {sent && <p className="notice" role="status">Your message was sent.</p>}
          <FormError error={error} />
          <Select label="To" value={to} onChange={(e) => setTo(e.target.value)} options={writable.map((s) => [s.id, `${s.first_name} ${s.last_name}, ${s.position}`])} error={fieldError(error, 'to_staff_id')} />
          <Field label="Message" value={text} onChange={(e) => setText(e.target.value)} error={fieldError(error, 'body')} />
          <div className="actions"><button type="submit">Send</button></div>
        </form>
      )}
      <p className="muted"><Link to="/portal">Refresh</Link></p>
    </section>
  );
}

function PortalThread({ thread, title }: { thread: Thread; title: string }) {
  const msgs = useLoad(() => get<{ items: Message[] }>(`/v1/portal/threads/${thread.id}/messages`), [thread.id, thread.message_count]);
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>();
  const reply = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await post('/v1/portal/messages', { thread_id: thread.id, body: text });
      setText('');
      msgs.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="card thread">
      <h3>{title}</h3>
      <ol className="messages">
        {msgs.data?.items.map((m) => (
          <li key={m.id} className={m.sender_kind}><span className="muted">{m.sender_kind === 'client' ? 'You' : 'Care team'} · {new Date(m.sent_at).toLocaleString()}</span><p>{m.body}</p></li>
        ))}
      </ol>
      <form onSubmit={reply} noValidate>
        <FormError error={error} />
        <Field label={`Reply (${title.toLowerCase()})`} value={text} onChange={(e) => setText(e.target.value)} error={fieldError(error, 'body')} />
        <div className="actions"><button type="submit">Send reply</button></div>
      </form>
    </div>
  );
}
