import { describe, expect, it } from 'vitest';
import { collectPages, withCursor, type Page } from './pages';

describe('collectPages', () => {
  const pages: Record<string, Page<number>> = {
    first: { items: [1, 2], next_cursor: 'b' },
    b: { items: [3, 4], next_cursor: 'c/d' },
    'c/d': { items: [5], next_cursor: null },
  };
  const asked: (string | undefined)[] = [];
  const fetchPage = async (cursor?: string) => {
    asked.push(cursor);
    return pages[cursor ?? 'first'];
  };

  it('follows next_cursor to the last page, in order', async () => {
    asked.length = 0;
    expect(await collectPages(fetchPage)).toEqual([1, 2, 3, 4, 5]);
    expect(asked).toEqual([undefined, 'b', 'c/d']);
  });

  it('stops after maxPages pages', async () => {
    asked.length = 0;
    expect(await collectPages(fetchPage, 2)).toEqual([1, 2, 3, 4]);
    expect(asked).toEqual([undefined, 'b']);
  });

  it('reads one page when there is no next one', async () => {
    expect(await collectPages(async () => ({ items: ['x'] }))).toEqual(['x']);
  });
});

describe('withCursor', () => {
  it('adds the cursor to the query, encoded', () => {
    expect(withCursor('/v1/staff/1/history?limit=500', 'a/b+c')).toBe('/v1/staff/1/history?limit=500&cursor=a%2Fb%2Bc');
    expect(withCursor('/v1/programs', 'x')).toBe('/v1/programs?cursor=x');
    expect(withCursor('/v1/programs')).toBe('/v1/programs');
  });
});
