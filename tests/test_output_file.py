"""Output files written through a temporary file (spacy_rnn.output_file, issue 16)."""
import os
import stat

import pytest

from spacy_rnn.output_file import AtomicOutput, partial_path, same_file, write_bytes_atomically


def test_commit_replaces_and_abandon_keeps_the_old_file(tmp_path):
    path = tmp_path / "sub" / "out.jsonl"
    write_bytes_atomically(path, b"old\n")
    assert path.read_bytes() == b"old\n"
    output = AtomicOutput(path)
    output.open().write(b"new, but failed\n")
    assert path.read_bytes() == b"old\n"  # nothing is visible before commit
    assert output.abandon(keep=True) == partial_path(path) == tmp_path / "sub" / "out.jsonl.partial"
    assert path.read_bytes() == b"old\n" and partial_path(path).read_bytes() == b"new, but failed\n"
    output = AtomicOutput(path)
    output.open().write(b"discarded")
    assert output.abandon(keep=False) is None
    output = AtomicOutput(path)
    output.open().write(b"new\n")
    assert output.commit() == path and path.read_bytes() == b"new\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.jsonl", "out.jsonl.partial"]


def test_failed_write_leaves_nothing_behind(tmp_path):
    with pytest.raises(TypeError):
        write_bytes_atomically(tmp_path / "out.spacy", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and links")
def test_permissions_follow_the_umask_and_links_are_written_through(tmp_path):
    old = os.umask(0o027)
    try:
        write_bytes_atomically(tmp_path / "a.spacy", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.spacy").stat().st_mode) == 0o640
    target = tmp_path / "data" / "scores.jsonl"
    write_bytes_atomically(target, b"old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    write_bytes_atomically(link, b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"
    assert same_file(link, target) and not same_file(link, tmp_path / "a.spacy")
