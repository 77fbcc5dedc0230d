import * as fs from 'node:fs';

/** Whether two paths name one file (the same inode, links included); false when either does not exist. */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
