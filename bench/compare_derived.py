"""Compare the tables the jobs write on two platforms, row for row.

The tables are every table in the catalogue's ``writes`` (derived tables and the platform tables
jobs update). Each is dumped as its rows sorted (floats by their exact repr), hashed, and the two
platforms compared table by table. Exit status 0 when every table is identical, 1 otherwise.

    .venv/bin/python bench/compare_derived.py /tmp/base10k/platform.db /tmp/new10k/platform.db
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys

from jobctl.registry import load_catalogue


def _key(row: tuple) -> tuple:
    return tuple((v is not None, type(v).__name__, v if v is not None else 0) for v in row)


def dump(conn: sqlite3.Connection, table: str) -> tuple[int, str] | None:
    """(row count, sha256 of the sorted rows' reprs), or None when the table does not exist."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is None:
        return None
    virtual = "VIRTUAL" in (conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
                            or "").upper()
    cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    rows = conn.execute(f'SELECT {"rowid, " if virtual else ""}{", ".join(chr(34) + c + chr(34) for c in cols)} '
                        f'FROM "{table}"').fetchall()
    rows.sort(key=_key)
    digest = hashlib.sha256()
    digest.update(repr(cols).encode())
    for row in rows:
        digest.update(repr(row).encode())
        digest.update(b"\n")
    return len(rows), digest.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="platform database A")
    ap.add_argument("after", help="platform database B")
    args = ap.parse_args()
    tables = load_catalogue().tables()
    a, b = (sqlite3.connect(f"file:{p}?mode=ro", uri=True) for p in (args.before, args.after))
    differ = 0
    print(f"{'table':28} {'rows A':>9} {'rows B':>9}  sha256 (first 16)   result")
    for table in tables:
        da, db_ = dump(a, table), dump(b, table)
        same = da == db_
        differ += not same
        ra, rb = (str(d[0]) if d else "-" for d in (da, db_))
        digest = (da or db_ or (0, "-"))[1][:16]
        print(f"{table:28} {ra:>9} {rb:>9}  {digest:18}  {'same' if same else 'DIFFERENT'}"
              + ("" if same or not (da and db_) else f" (B: {db_[1][:16]})"))
    print(f"{len(tables) - differ} of {len(tables)} tables identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
