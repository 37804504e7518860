import { useState } from 'react';
import { get } from '../lib/api';
import { viewDetail, viewSentence, type ViewEntry } from '../lib/audit';
import type { NameOf } from '../lib/timeline';
import { Status, useLoad } from '../lib/ui';

interface Page { items: ViewEntry[]; next_cursor: string | null }

/** Who opened a record (subject) or what a person opened (actor), newest first, from the audit
 *  trail; for holders of audit.read. Views reach the trail a moment after the read: Refresh. */
export function AccessLog({ query, title, nameOf, subjectName }: { query: string; title: string; nameOf: NameOf; subjectName?: NameOf }) {
  const [more, setMore] = useState<ViewEntry[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const first = useLoad(() => get<Page>(`/v1/audit/events?kind=view&limit=20&${query}`), [query]);
  const items = [...(first.data?.items ?? []), ...more];
  const next = cursor === undefined ? first.data?.next_cursor : cursor;
  const loadMore = async () => {
    if (!next) return;
    const page = await get<Page>(`/v1/audit/events?kind=view&limit=20&${query}&cursor=${encodeURIComponent(next)}`);
    setMore((m) => [...m, ...page.items]);
    setCursor(page.next_cursor);
  };
  const refresh = () => {
    setMore([]);
    setCursor(undefined);
    first.reload();
  };
  const id = `access-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <section aria-labelledby={id} className="timeline-section">
      <h2 id={id}>{title}</h2>
      <button type="button" className="small" onClick={refresh}>Refresh</button>
      <Status loading={first.loading && !first.data} error={first.error} empty={first.data !== undefined && items.length === 0} emptyText="No one has opened it yet." />
      {items.length > 0 && (
        <ol className="timeline" aria-label={title}>
          {items.map((v) => (
            <li key={v.event_id}>
              <time dateTime={v.occurred_at}>{new Date(v.occurred_at).toLocaleString()}</time>
              <span className="what">{viewSentence(v, nameOf, subjectName)}</span>
              {viewDetail(v) && <span className="muted"> · {viewDetail(v)}</span>}
            </li>
          ))}
        </ol>
      )}
      {next && <button type="button" className="small" onClick={() => loadMore().catch(() => undefined)}>Show older</button>}
    </section>
  );
}
