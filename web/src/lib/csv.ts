// CSV import on the client side: read the file's header, let the user map each of carelog's columns
// to one of the file's, and rewrite the header so the server sees carelog's names. Records are
// sent as they are (RFC 4180 quoting kept); only the first line is replaced.

export const carelogColumns = ['first_name', 'last_name', 'date_of_birth', 'email', 'phone', 'external_id'] as const;
export type CarelogColumn = (typeof carelogColumns)[number];
export const requiredColumns: CarelogColumn[] = ['first_name', 'last_name', 'date_of_birth'];

export type ColumnMapping = Partial<Record<CarelogColumn, string>>;

/** Splits one CSV line into fields (quotes and doubled quotes handled). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** The file's header and the rest of the text (after the first line break). */
export function splitHeader(text: string): { header: string[]; rest: string } {
  const clean = text.replace(/^\uFEFF/, '');
  const nl = clean.search(/\r?\n/);
  const first = nl < 0 ? clean : clean.slice(0, nl);
  const rest = nl < 0 ? '' : clean.slice(nl).replace(/^\r?\n/, '');
  return { header: parseCsvLine(first), rest };
}

const normal = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

const synonyms: Record<CarelogColumn, string[]> = {
  first_name: ['firstname', 'first', 'given', 'givenname', 'forename'],
  last_name: ['lastname', 'last', 'surname', 'family', 'familyname'],
  date_of_birth: ['dateofbirth', 'dob', 'birthdate', 'birthday'],
  email: ['email', 'emailaddress', 'mail'],
  phone: ['phone', 'phonenumber', 'telephone', 'mobile', 'cell'],
  external_id: ['externalid', 'mrn', 'id', 'clientid', 'recordnumber'],
};

/** A first guess: each carelog column mapped to the file column whose name means the same. */
export function guessMapping(header: string[]): ColumnMapping {
  const m: ColumnMapping = {};
  for (const col of carelogColumns) {
    const hit = header.find((h) => synonyms[col].includes(normal(h)));
    if (hit) m[col] = hit;
  }
  return m;
}

/** Required carelog columns that map to nothing, and file columns mapped twice. */
export function mappingProblems(m: ColumnMapping): string[] {
  const problems: string[] = [];
  for (const col of requiredColumns) if (!m[col]) problems.push(`Choose the file's column for ${col.replace(/_/g, ' ')}.`);
  const used = Object.values(m).filter(Boolean) as string[];
  const twice = used.filter((u, i) => used.indexOf(u) !== i);
  for (const t of new Set(twice)) problems.push(`The column "${t}" is chosen more than once.`);
  return problems;
}

const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * The file in carelog's columns: each mapped column under carelog's name, in carelog's order;
 * the file's other and unmapped columns are left out (the server needs only first_name, last_name
 * and date_of_birth). One record out per record in, so the report's line numbers are the file's.
 */
export function remapCsv(text: string, m: ColumnMapping): string {
  const { header, rest } = splitHeader(text);
  const keep: { index: number; name: CarelogColumn }[] = [];
  for (const col of carelogColumns) {
    const src = m[col];
    const index = src ? header.indexOf(src) : -1;
    if (index >= 0) keep.push({ index, name: col });
  }
  const out = [keep.map((k) => k.name).join(',')];
  for (const rec of splitRecords(rest)) {
    const fields = parseCsvLine(rec);
    out.push(keep.map((k) => (k.index < 0 ? '' : quote(fields[k.index] ?? ''))).join(','));
  }
  return out.join('\r\n') + '\r\n';
}

/** Records of CSV text: line breaks inside quotes stay in their record. */
export function splitRecords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    if (!quoted && (c === '\n' || (c === '\r' && text[i + 1] === '\n'))) {
      if (c === '\r') i++;
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}
