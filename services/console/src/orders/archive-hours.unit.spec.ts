import { archiveHours } from './orders.http';

const at = (iso: string) => Date.parse(iso);

describe("the archive's hour folders an order's events may be in", () => {
  it('given a window inside one hour, then that hour and the one before', () => {
    expect(archiveHours(at('2026-12-07T21:10:00Z'), at('2026-12-07T21:12:00Z'))).toEqual(['2026/12/07/20', '2026/12/07/21']);
  });

  it('given a window that crosses an hour, then the hour it ends in too', () => {
    // An order placed at 21:00:30 looks from 20:59:30: its events' blobs are under 21.
    expect(archiveHours(at('2026-12-07T20:59:30Z'), at('2026-12-07T21:01:30Z'))).toEqual(['2026/12/07/19', '2026/12/07/20', '2026/12/07/21']);
  });

  it('given a window across midnight, then the next day', () => {
    expect(archiveHours(at('2026-12-31T23:59:00Z'), at('2027-01-01T00:01:00Z'))).toEqual(['2026/12/31/22', '2026/12/31/23', '2027/01/01/00']);
  });
});
