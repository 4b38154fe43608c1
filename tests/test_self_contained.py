"""A clone must pass with nothing beside it: no code or test reads a path outside the repository, and the real
data the tests use (the ATOMIC-2020 example) ships inside it with its licence."""

import csv
import re
from pathlib import Path

from tests.conftest import ATOMIC, OUTSIDE_READS, OUTSIDE_WATCHED, REPO

#: Ways code has reached outside the repository: a team folder beside the clone, or the repository's parent.
ESCAPES = re.compile(
    r"""\.\./shared|["']shared["']\s*/|/\s*["']shared["']|REPO\.parent\b|parents\[\d+\]\s*/\s*["']\.\."""
)
SCANNED = ("mto_studio", "tests", "scripts", "packaging", ".ci")


def test_no_file_in_the_product_tests_scripts_packaging_or_ci_reaches_outside_the_repository():
    offenders = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            if (
                not path.is_file()
                or path.suffix not in ("", ".py", ".sh", ".spec", ".toml", ".cfg", ".txt")
                or path == Path(__file__).resolve()
            ):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if ESCAPES.search(line) and not line.rstrip().split("#")[-1].strip().startswith("guard"):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)
    assert (REPO / ".ci" / "run").is_file()  # the scan saw CI's script


def test_the_audit_guard_catches_a_read_of_a_sibling_folder():
    before = len(OUTSIDE_READS)
    target = OUTSIDE_WATCHED[0] / "probe-that-does-not-exist" / "rows.tsv"  # beside the clone, never created
    try:
        open(target)  # noqa: SIM115 - the audit event fires before the file system answers
    except OSError:
        pass
    caught = OUTSIDE_READS[before:]
    del OUTSIDE_READS[before:]  # this read was the test's own
    assert caught == [str(target)]


def test_the_atomic_example_ships_with_its_rows_and_attribution():
    counts = {}
    for split in ("train", "validation"):
        with open(ATOMIC / f"{split}.tsv", encoding="utf-8") as handle:
            rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        assert rows[0] == ["prefix", "input_text", "target_text"]
        assert {r[0] for r in rows[1:]} == {"xIntent"}
        counts[split] = (len(rows) - 1, len({r[1] for r in rows[1:]}))
    assert counts == {"train": (510, 200), "validation": (90, 34)}
    assert not (ATOMIC / "test.tsv").exists()
    readme = (ATOMIC / "README.md").read_text(encoding="utf-8")
    for needed in ("Hwang", "COMET-ATOMIC 2020".lower(), "CC BY 4.0", "creativecommons.org/licenses/by/4.0"):
        assert needed.lower() in readme.lower(), needed
