import random
import struct
import zipfile
from pathlib import Path

import pytest

from service.ingest.sources import PartlyRead, iter_sources
from service.storage import Store
from tests.conftest import Runner
from tests.hostile import damage_member, zip_with
from tests.samples import ct_report_bytes


def text_bytes(size: int) -> bytes:
    """Return ``size`` bytes of numbered lines: they deflate, so damage in the middle breaks the stream."""
    lines = random.Random(size)
    return b"".join(b"line %d of %d\n" % (lines.randrange(10**6), n) for n in range(size // 10))[:size]


DAMAGED = r"cannot be read from its zip archive: (its compressed data are corrupt|it fails the archive's checks)"


def test_files_folders_and_zips(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.dcm").write_bytes(b"1")
    (tmp_path / "a" / "deeper").mkdir()
    (tmp_path / "a" / "deeper" / "two").write_bytes(b"22")
    (tmp_path / "a" / "DICOMDIR").write_bytes(b"dir")
    (tmp_path / "a" / ".hidden").write_bytes(b"h")
    with zipfile.ZipFile(tmp_path / "a" / "batch.zip", "w") as zf:
        zf.writestr("x/three.dcm", b"333")
        zf.writestr("x/.DS_Store", b"junk")
    single = tmp_path / "single.dcm"
    single.write_bytes(b"4444")
    sources = list(iter_sources([tmp_path / "a", single]))
    names = [source.name for source in sources]
    assert names == [
        f"{tmp_path}/a/batch.zip/x/three.dcm",
        f"{tmp_path}/a/deeper/two",
        f"{tmp_path}/a/one.dcm",
        f"{single}",
    ]
    assert [source.size for source in sources] == [3, 2, 1, 4]
    assert [source.read() for source in sources] == [b"333", b"22", b"1", b"4444"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        list(iter_sources([tmp_path / "nowhere"]))


def test_a_path_that_is_no_file_or_folder_is_named_as_such() -> None:
    with pytest.raises(OSError, match="/dev/null is neither a file nor a folder"):
        list(iter_sources([Path("/dev/null")]))


def test_a_damaged_member_raises_partly_read_with_the_bytes_before_the_damage(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "batch.zip", {"a.dcm": b"A" * 10, "b.dcm": text_bytes(3 << 20), "c.dcm": b"C"})
    damage_member(archive, "b.dcm")
    sources = list(iter_sources([archive]))
    assert [s.read() for s in sources[::2]] == [b"A" * 10, b"C"]
    with pytest.raises(PartlyRead, match=r"batch\.zip/b\.dcm " + DAMAGED) as e:
        sources[1].read()
    assert 64 << 10 < len(e.value.data) < 3 << 20 and e.value.data[:65536] == text_bytes(3 << 20)[:65536]


def test_a_member_that_inflates_past_its_declared_size_is_read_only_to_it(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "lying.zip", {"big.dcm": bytes(5 << 20)})
    data = bytearray(archive.read_bytes())
    for offset in (22, data.index(b"PK\x01\x02") + 24):  # local header and central directory: uncompressed size
        struct.pack_into("<L", data, offset, 1000)
    archive.write_bytes(bytes(data))
    (source,) = iter_sources([archive])
    assert source.size == 1000
    with pytest.raises(PartlyRead, match=r"lying\.zip/big\.dcm .* fails the archive's checks") as e:
        source.read()
    assert len(e.value.data) <= 1000 and e.value.data == bytes(len(e.value.data))  # never past the declared size


def test_an_archive_whose_directory_is_unreadable_is_one_rejected_object(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "broken.zip", {"a.dcm": b"A" * 100})
    data = bytearray(archive.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central : central + 4] = b"XXXX"
    archive.write_bytes(bytes(data))
    (source,) = iter_sources([archive])
    with pytest.raises(PartlyRead, match=r"broken\.zip looks like a zip archive but its directory cannot be read"):
        source.read()


def test_import_goes_on_past_a_damaged_member(runner: Runner, store: Store, tmp_path: Path) -> None:
    members = {"a.dcm": ct_report_bytes(dlp="1"), "b.dcm": text_bytes(3 << 20), "c.dcm": ct_report_bytes(dlp="3")}
    archive = zip_with(tmp_path / "batch.zip", members)
    damage_member(archive, "b.dcm")
    result = runner.invoke(["import", "--workers", "1", archive])
    assert result.exit_code == 1, result.stderr
    assert "2 created, 0 merged, 0 duplicate, 1 rejected" in result.stdout
    assert f"rejected (not-dicom): {archive}/b.dcm cannot be read from its zip archive" in result.stdout
    (entry,) = [e for e in store.events_after(0, 100) if e["type"] == "rejected"]
    assert entry["name"] == f"{archive}/b.dcm"
    kept = store.read_original(entry["sha256"])
    assert 64 << 10 < len(kept) < 3 << 20 and kept[:65536] == members["b.dcm"][:65536]
