import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Console } from './console/Console';
import { Kiosk } from './Kiosk';
import { useLocation } from './lib/router';
import { Portal } from './portal/Portal';
import { Reset } from './Reset';
import './styles.css';

// One app: the client portal under /portal, the staff password reset at /reset, the kiosk form at
// /kiosk, the staff console everywhere else.
function App() {
  const { path } = useLocation();
  if (path === '/portal' || path.startsWith('/portal/')) return <Portal />;
  if (path === '/reset') return <Reset />;
  if (path === '/kiosk') return <Kiosk />;
  return <Console />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
