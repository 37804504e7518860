import { allOf } from '../lib/api';
import { timeline, type HistoryEvent, type NameOf } from '../lib/timeline';
import { Status, useLoad } from '../lib/ui';

/** A history endpoint's events as a list, newest first, each with when and by whom. */
export function Timeline({ path, title, nameOf, self }: { path: string; title: string; nameOf: NameOf; self?: string }) {
  // The history pages oldest first; the timeline shows it newest first, so it reads every page.
  const history = useLoad(() => allOf<HistoryEvent>(path), [path]);
  const entries = history.data ? timeline(history.data.items, nameOf, self) : [];
  return (
    <section aria-labelledby={`${title}-timeline`} className="timeline-section">
      <h2 id={`${title}-timeline`}>{title}</h2>
      <Status loading={history.loading && !history.data} error={history.error} empty={history.data !== undefined && entries.length === 0} emptyText="Nothing has happened yet." />
      {entries.length > 0 && (
        <ol className="timeline" aria-label={title}>
          {entries.map((e) => (
            <li key={e.id}>
              <time dateTime={e.when}>{new Date(e.when).toLocaleString()}</time>
              <span className="what">{e.text}</span>
              {e.by && <span className="muted"> · by {e.by}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
