import { useCallback, useEffect, useState } from 'react';
import { ApiError, get, post, sessionEndedEvent, setCsrf } from '../lib/api';
import { Link, navigate, useLocation } from '../lib/router';
import { Status } from '../lib/ui';
import { ClientPage, ClientsPage, ImportPage } from './Clients';
import { ChangePassword, EnrolMfa, Login } from './Login';
import { SessionContext, can, type SessionInfo } from './session';
import { SettingsPage } from './Settings';
import { StaffPage } from './Staff';
import { StaffDetailPage } from './StaffDetail';

export function Console() {
  const [session, setSession] = useState<SessionInfo | null>();
  const [error, setError] = useState<unknown>();
  const [endedWhy, setEndedWhy] = useState('');
  const load = useCallback(() => {
    get<SessionInfo>('/v1/auth/session')
      .then((s) => {
        setCsrf(s.csrf_token);
        setSession(s);
      })
      .catch((e) => {
        if (e instanceof ApiError && e.status === 401) setSession(null);
        else setError(e);
      });
  }, []);
  useEffect(load, [load]);
  // A session that ends while the page is open (idle timeout) shows the login with a reason.
  useEffect(() => {
    const ended = () => {
      setCsrf(undefined);
      setEndedWhy('You were logged out: your session ended after a period without activity, or you logged out elsewhere. Please log in again.');
      setSession(null);
    };
    window.addEventListener(sessionEndedEvent, ended);
    return () => window.removeEventListener(sessionEndedEvent, ended);
  }, []);
  const logout = useCallback(() => {
    post('/v1/auth/logout').finally(() => {
      setCsrf(undefined);
      setSession(null);
      navigate('/');
    });
  }, []);

  if (session === undefined) return <Status loading={!error} error={error} />;
  if (session === null)
    return (
      <>
        {endedWhy && <p className="notice" role="status">{endedWhy}</p>}
        <Login onLoggedIn={() => { setEndedWhy(''); load(); }} />
      </>
    );
  if (session.required_action === 'change_password') return <ChangePassword forced onDone={load} />;
  if (session.required_action === 'enrol_mfa') return <EnrolMfa onDone={load} />;
  return (
    <SessionContext.Provider value={{ session, logout }}>
      <Shell session={session} logout={logout} />
    </SessionContext.Provider>
  );
}

function Shell({ session, logout }: { session: SessionInfo; logout: () => void }) {
  const { path } = useLocation();
  let page;
  const client = path.match(/^\/clients\/([0-9a-f-]{36})$/);
  const member = path.match(/^\/staff\/([0-9a-f-]{36})$/);
  if (path === '/clients') page = <ClientsPage />;
  else if (path === '/clients/import') page = <ImportPage />;
  else if (client) page = <ClientPage id={client[1]} />;
  else if (member) page = <StaffDetailPage id={member[1]} />;
  else if (path === '/settings') page = <SettingsPage />;
  else page = <StaffPage />;
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">carelog</span>
        <nav aria-label="Main">
          {can(session, 'staff.read') && <Link to="/staff">Staff</Link>}
          {can(session, 'clients.read') && <Link to="/clients">Clients</Link>}
          {can(session, 'agency.read') && <Link to="/settings">Agency settings</Link>}
        </nav>
        <span className="who">
          {session.staff.username}
          <button className="link" onClick={logout}>Log out</button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}
