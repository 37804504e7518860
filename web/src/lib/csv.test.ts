import { describe, expect, it } from 'vitest';
import { guessMapping, mappingProblems, parseCsvLine, remapCsv, splitHeader, splitRecords } from './csv';

describe('parseCsvLine', () => {
  it('handles quotes, doubled quotes and commas inside quotes', () => {
    expect(parseCsvLine('a,"b,c","say ""hi""",')).toEqual(['a', 'b,c', 'say "hi"', '']);
  });
});

describe('guessMapping', () => {
  it('maps the usual column names of other systems to carelog columns', () => {
    const { header } = splitHeader('\uFEFFGiven Name,Surname,DOB,E-mail Address,Mobile,MRN,Notes\r\n');
    expect(guessMapping(header)).toEqual({
      first_name: 'Given Name',
      last_name: 'Surname',
      date_of_birth: 'DOB',
      email: 'E-mail Address',
      phone: 'Mobile',
      external_id: 'MRN',
    });
  });
  it('leaves unknown columns unmapped, and the problems say which required ones are missing', () => {
    const m = guessMapping(['Name', 'Born']);
    expect(m).toEqual({});
    expect(mappingProblems(m)).toEqual([
      "Choose the file's column for first name.",
      "Choose the file's column for last name.",
      "Choose the file's column for date of birth.",
    ]);
  });
  it('refuses one file column chosen twice', () => {
    expect(mappingProblems({ first_name: 'A', last_name: 'A', date_of_birth: 'B' })).toEqual(['The column "A" is chosen more than once.']);
  });
});

describe('remapCsv', () => {
  it('renames and reorders the columns, drops unmapped ones, one record per record', () => {
    const file = 'Surname,Given,Born,Notes\r\nDiaz,Rosa,1990-03-02,"likes ""tea"", mornings"\r\n,,,\r\nLee,"Ann, Jr",1985-04-12,x\r\n';
    const out = remapCsv(file, { first_name: 'Given', last_name: 'Surname', date_of_birth: 'Born' });
    expect(out).toBe(
      'first_name,last_name,date_of_birth\r\nRosa,Diaz,1990-03-02\r\n,,\r\n"Ann, Jr",Lee,1985-04-12\r\n',
    );
  });
  it('keeps line breaks inside quoted fields in their record', () => {
    expect(splitRecords('a,"b\nc"\nd,e')).toEqual(['a,"b\nc"', 'd,e']);
  });
});
