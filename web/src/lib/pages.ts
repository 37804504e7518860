// Paged listings: every item of a listing that answers {items, next_cursor}.

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

/** Every item, page after page (`fetchPage(cursor)`, no cursor for the first), until a page names
 *  no next one or `maxPages` pages were read. */
export async function collectPages<T>(fetchPage: (cursor?: string) => Promise<Page<T>>, maxPages = 40): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let read = 0; read < maxPages; read++) {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return items;
}

/** `path` with `name`=`value` added to its query, encoded. */
export function withParam(path: string, name: string, value: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}`;
}

/** `path` with `cursor` added to its query when there is one. */
export function withCursor(path: string, cursor?: string): string {
  return cursor ? withParam(path, 'cursor', cursor) : path;
}
