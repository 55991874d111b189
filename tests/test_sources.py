import zipfile
from pathlib import Path

import pytest

from service.ingest.sources import iter_sources


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
