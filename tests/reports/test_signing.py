"""Content hash and detached Ed25519 signature of a report: sign, verify, and a report edited
after signing fails verification, naming the file."""

from __future__ import annotations

import hashlib

import pytest

from reports.__main__ import main
from reports.build import build_report
from tests.reports.sample_run import make_store


@pytest.fixture
def signed(tmp_path, capsys):
    runs, sample = make_store(tmp_path, positions=2)
    result = build_report(sample.run_id, runs, pdf=False)
    key = tmp_path / "lab.key"
    assert main(["keygen", str(key)]) == 0
    assert main(["sign", sample.run_id, "--key", str(key), "--runs-dir", str(runs)]) == 0
    capsys.readouterr()
    return runs, sample.run_id, result, key


def test_the_content_hash_is_the_sha256_of_the_hash_list(signed):
    runs, run_id, result, _ = signed
    folder = runs / run_id
    lines = (folder / "report.sha256").read_text().splitlines()
    # sha256sum's format: the hash of each content file, computed here with hashlib
    assert lines == [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}"
                     for n in ("report.html", "measurements.csv", "measurements.json")]
    manifest = (folder / "report.sha256").read_bytes()
    assert result.content_hash == hashlib.sha256(manifest).hexdigest()


def test_sign_then_verify(signed, capsys):
    runs, run_id, result, key = signed
    assert main(["verify", run_id, "--runs-dir", str(runs),
                 "--public-key", f"{key}.pub"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: report.html, measurements.csv, measurements.json as signed by "
                          "the key given")
    assert result.content_hash in out


@pytest.mark.parametrize("name", ["report.html", "measurements.csv", "measurements.json"])
def test_a_file_edited_after_signing_fails(signed, capsys, name):
    runs, run_id, _, key = signed
    path = runs / run_id / name
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("pass", "fail", 1), encoding="utf-8")
    assert main(["verify", run_id, "--runs-dir", str(runs), "--public-key", f"{key}.pub"]) == 1
    assert f"FAILED: {runs / run_id}: changed since the report was built: {name}" in (
        capsys.readouterr().err)


def test_a_rebuilt_hash_list_does_not_hide_the_edit(signed, capsys):
    """Editing a file and writing a matching report.sha256 still fails: the signature is over
    the hash list as signed."""
    runs, run_id, _, key = signed
    folder = runs / run_id
    (folder / "measurements.csv").write_text("position,value\n1,0.0\n", encoding="utf-8")
    (folder / "report.sha256").write_text("".join(
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("report.html", "measurements.csv", "measurements.json")), encoding="ascii")
    assert main(["verify", run_id, "--runs-dir", str(runs), "--public-key", f"{key}.pub"]) == 1
    assert "changed since it was signed: measurements.csv" in capsys.readouterr().err


def test_another_key_fails(signed, tmp_path, capsys):
    runs, run_id, _, _ = signed
    other = tmp_path / "other.key"
    assert main(["keygen", str(other)]) == 0
    assert main(["verify", run_id, "--runs-dir", str(runs), "--public-key", f"{other}.pub"]) == 1
    assert "the signature does not match the files and the key" in capsys.readouterr().err


def test_keygen_does_not_overwrite_and_sign_needs_a_key(signed, tmp_path, capsys):
    runs, run_id, _, key = signed
    assert main(["keygen", str(key)]) == 2
    assert "exists; not overwriting a key" in capsys.readouterr().err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    assert main(["sign", run_id, "--key", str(bad), "--runs-dir", str(runs)]) == 2
    assert f"{bad}: not an unencrypted PEM private key" in capsys.readouterr().err
