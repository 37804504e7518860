// Record views from the audit trail (GET /v1/audit/events?kind=view) as sentences an administrator
// reads: who opened what, from where.
import type { NameOf } from './timeline';

export interface ViewEntry {
  event_id: string;
  occurred_at: string;
  actor_id: string;
  aggregate_type: string;
  aggregate_id: string;
  data: { actor_kind?: string; record_type?: string; address?: string; user_agent?: string; item_count?: number };
}

const what: Record<string, string> = {
  client: 'the client record',
  client_history: "the client's history",
  kiosk_sessions: "the client's kiosk forms",
  portal_invitations: "the client's portal invitations",
  portal_account: "the client's portal account",
  thread: 'a message thread',
  thread_list: "the client's message threads",
  client_list: 'the client list',
  staff: 'the staff record',
  staff_history: "the staff member's history",
  staff_list: 'the staff directory',
};

/** "Dana Admin opened the client record" (or "Someone (id) …" when the page does not know the id). */
export function viewSentence(v: ViewEntry, nameOf: NameOf, subjectName?: NameOf): string {
  const who = nameOf(v.actor_id) ?? (v.data.actor_kind === 'portal' ? 'The client (portal)' : `Someone (${v.actor_id.slice(0, 8)})`);
  const record = v.data.record_type ?? '';
  let thing = what[record] ?? record.replace(/_/g, ' ');
  const subject = subjectName && v.aggregate_id ? subjectName(v.aggregate_id) : undefined;
  if (subject && thing.startsWith('the client')) thing = thing.replace('the client', subject).replace(' record', "'s record");
  if (subject && thing.startsWith('the staff')) thing = thing.replace('the staff record', `${subject}'s staff record`).replace("the staff member's", `${subject}'s`);
  const many = record.endsWith('_list') && typeof v.data.item_count === 'number' ? ` (${v.data.item_count} shown)` : '';
  return `${who} opened ${thing}${many}`;
}

/** "from 10.0.0.9 · Firefox on Linux" style detail: the address and a short user agent. */
export function viewDetail(v: ViewEntry): string {
  const parts: string[] = [];
  if (v.data.address) parts.push(`from ${v.data.address}`);
  const ua = v.data.user_agent ?? '';
  if (ua) parts.push(ua.length > 60 ? `${ua.slice(0, 57)}…` : ua);
  return parts.join(' · ');
}
