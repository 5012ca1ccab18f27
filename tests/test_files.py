"""gan_jax.files: atomic writes (umask, failure, no leftovers) and output-path checks (as root too)."""
import os
import stat

import numpy as np
import pytest

from gan_jax import files, images, workdir as wd
from gan_jax.errors import UserError


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process umask for one test; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_file_mode_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    path = tmp_path / "a.bin"
    with files.atomic_write(path) as f:
        f.write(b"hello")
    assert path.read_bytes() == b"hello"
    assert _mode(path) == 0o666 & ~mask
    with open(tmp_path / "plain.bin", "wb") as f:  # what open() gives
        f.write(b"x")
    assert _mode(path) == _mode(tmp_path / "plain.bin")


def test_library_savers_respect_the_umask(tmp_path, umask):
    umask(0o022)
    images.save_image(np.zeros((4, 4, 1), np.uint8), str(tmp_path / "a.png"))
    images.save_array(np.zeros(3), str(tmp_path / "a.npy"))
    images.save_gif(np.zeros((2, 4, 4, 3), np.uint8), str(tmp_path / "a.gif"))
    wd.write_json(str(tmp_path / "a.json"), {"x": 1})
    for name in ("a.png", "a.npy", "a.gif", "a.json"):
        assert _mode(tmp_path / name) == 0o644, name
    assert sorted(os.listdir(tmp_path)) == ["a.gif", "a.json", "a.npy", "a.png"]


def test_replacing_keeps_the_files_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "a.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with files.atomic_write(path, "w") as f:
        f.write("new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓" and _mode(path) == 0o640


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_failed_writer_leaves_the_old_file_and_no_temp_file(tmp_path, error):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(error):
        with files.atomic_write(path, "w") as f:
            f.write("half of the new")
            f.flush()
            raise error("writer failed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]
    with pytest.raises(RuntimeError):  # a new file: nothing appears at all
        with files.atomic_write(tmp_path / "b.txt", "w") as f:
            raise RuntimeError
    assert os.listdir(tmp_path) == ["a.txt"]


def test_failing_savers_leave_nothing(tmp_path):
    with pytest.raises(ValueError):
        images.save_image(np.zeros((4, 4, 1), np.uint8), str(tmp_path / "a.unknown"))
    with pytest.raises(TypeError):  # an object array cannot be written without pickle
        wd.write_json(str(tmp_path / "a.json"), {"x": object()})
    assert os.listdir(tmp_path) == []


def test_atomic_write_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with files.atomic_write(tmp_path / "a", "a"):
            pass
    with pytest.raises(FileNotFoundError):  # no such directory: the error of open()
        with files.atomic_write(tmp_path / "missing" / "a"):
            pass


def test_check_output_file(tmp_path):
    a_file = tmp_path / "somefile.txt"
    a_file.write_text("x")
    assert files.check_output_file(str(tmp_path / "new.png")) == str(tmp_path / "new.png")
    cases = {str(a_file / "x.png"): "is a file, not a directory", str(tmp_path / "none" / "x.png"): "does not exist",
             str(tmp_path): "is a directory", "/proc/x.png": "not writable"}
    for path, message in cases.items():
        with pytest.raises(UserError, match=message) as e:
            files.check_output_file(path, "--out")
        assert str(e.value).startswith(f"--out {path}: ")
    assert sorted(os.listdir(tmp_path)) == ["somefile.txt"]  # the probe file is gone


def test_check_output_dir_creates_nothing(tmp_path):
    a_file = tmp_path / "somefile.txt"
    a_file.write_text("x")
    target = tmp_path / "a" / "b" / "c"
    assert files.check_output_dir(str(target)) == str(target)
    assert not (tmp_path / "a").exists()  # what the check made is removed again
    (tmp_path / "d").mkdir()
    assert files.check_output_dir(str(tmp_path / "d")) == str(tmp_path / "d")
    assert os.listdir(tmp_path / "d") == []
    cases = {str(a_file): "is a file", str(a_file / "sub"): "cannot create it", "/proc/sub": "cannot create it"}
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            files.check_output_dir(path, "--out")
    with pytest.raises(UserError, match="--workdir .*cannot create it"):
        wd.prepare(str(a_file / "run"))
