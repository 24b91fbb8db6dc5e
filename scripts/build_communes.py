r"""Rebuild lifecycle/data/ from the npm package @etalab/decoupage-administratif 6.0.0 (MIT licence).

Usage, from the repository root:

    npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-decoupage-administratif-6.0.0.tgz \
        && python scripts/build_communes.py package/data

Writes, deterministically (rows sorted by code, gzip mtime 0, "\n" line endings):
- lifecycle/data/communes.csv.gz: code,name,departement,region,population — current communes only
  (type "commune-actuelle"; INSEE legal population as the package gives it, 0 when absent);
- lifecycle/data/departements.csv: code,name,region,type_liaison (INSEE TNCC, chooses the article);
- lifecycle/data/regions.csv: code,name.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "lifecycle" / "data"
COMMUNE_COLUMNS = ("code", "name", "departement", "region", "population")
DEPARTEMENT_COLUMNS = ("code", "name", "region", "type_liaison")
REGION_COLUMNS = ("code", "name")


def _read(source: Path, name: str) -> list[dict]:
    with (source / name).open(encoding="utf-8") as file:
        return json.load(file)


def _csv_text(columns: tuple[str, ...], rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(sorted(rows))
    return buffer.getvalue()


def commune_rows(raw: list[dict]) -> list[tuple]:
    """Current communes as (code, name, departement, region, population)."""
    return [
        (c["code"], c["nom"], c["departement"], c["region"], int(c.get("population") or 0))
        for c in raw
        if c.get("type") == "commune-actuelle"
    ]


def departement_rows(raw: list[dict]) -> list[tuple]:
    return [(d["code"], d["nom"], d["region"], int(d.get("typeLiaison") or 0)) for d in raw]


def region_rows(raw: list[dict]) -> list[tuple]:
    return [(r["code"], r["nom"]) for r in raw]


def build(source: Path, output: Path = OUTPUT) -> dict[str, int]:
    """Write the three files into `output`; return the number of rows of each."""
    communes = commune_rows(_read(source, "communes.json"))
    departements = departement_rows(_read(source, "departements.json"))
    regions = region_rows(_read(source, "regions.json"))
    if len({row[0] for row in communes}) != len(communes):
        raise SystemExit("duplicate commune codes in communes.json")

    output.mkdir(parents=True, exist_ok=True)
    payload = _csv_text(COMMUNE_COLUMNS, communes).encode("utf-8")
    # filename="" and mtime=0 keep the archive byte-identical from one run to the next.
    with (
        (output / "communes.csv.gz").open("wb") as raw_file,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw_file, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(payload)
    (output / "departements.csv").write_text(
        _csv_text(DEPARTEMENT_COLUMNS, departements), encoding="utf-8", newline=""
    )
    (output / "regions.csv").write_text(_csv_text(REGION_COLUMNS, regions), encoding="utf-8", newline="")
    return {"communes": len(communes), "departements": len(departements), "regions": len(regions)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the unpacked package/data directory")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: lifecycle/data")
    args = parser.parse_args(argv)
    counts = build(args.source, args.output)
    print(", ".join(f"{count} {name}" for name, count in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
