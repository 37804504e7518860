import { describe, expect, it } from 'vitest';
import { viewDetail, viewSentence, type ViewEntry } from './audit';

const view = (over: Partial<ViewEntry> & { data?: ViewEntry['data'] }): ViewEntry => ({
  event_id: 'e1',
  occurred_at: '2026-12-01T10:00:00Z',
  actor_id: 'staff-1',
  aggregate_type: 'Client',
  aggregate_id: 'client-1',
  data: { actor_kind: 'staff', record_type: 'client', address: '10.0.0.9', user_agent: 'curl/8.0' },
  ...over,
});
const names = (id: string) => ({ 'staff-1': 'Dana Admin', 'client-1': 'Rosa Diaz' } as Record<string, string>)[id];

describe('record views in words', () => {
  it('names the reader and the record', () => {
    expect(viewSentence(view({}), names)).toBe('Dana Admin opened the client record');
    expect(viewSentence(view({}), names, names)).toBe("Dana Admin opened Rosa Diaz's record");
  });
  it('says how many a list showed, and who an unknown reader is', () => {
    expect(viewSentence(view({ actor_id: 'x1234567890', data: { record_type: 'client_list', item_count: 12 } }), names)).toBe(
      'Someone (x1234567) opened the client list (12 shown)',
    );
  });
  it('tells where a read came from', () => {
    expect(viewDetail(view({}))).toBe('from 10.0.0.9 · curl/8.0');
    expect(viewDetail(view({ data: {} }))).toBe('');
  });
});
