import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def draw_clr(*args):
    spec = importlib.util.spec_from_file_location("draw_clr_script", os.path.join(ROOT, "scripts", "draw_clr.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(args))


@pytest.mark.parametrize("name, magic", [("clr.png", b"\x89PNG"), ("clr.svg", b"<?xml")])
def test_draws_png_or_svg_by_extension(tmp_path, name, magic, capsys):
    draw_clr("--lr-min", "0.01", "--lr-max", "0.1", "--step-size", "10", "--cycles", "2", "--out", str(tmp_path / name))
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert os.listdir(tmp_path) == [name]
    assert "triangular CLR, 0.01 to 0.1, 2 cycles of 20 steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr-min", "0.1", "--lr-max", "0.01"], "--lr-min must be < --lr-max"),
        (["--mode", "cosine"], "--mode"),
        (["--step-size", "0"], "--step-size"),
        (["--gamma", "1.5"], "--gamma"),
        (["--out", "clr.jpg"], "use a .png, .svg or .pdf"),
        (["--out", "no/such/dir/clr.png"], "output folder no/such/dir does not exist"),
    ],
)
def test_bad_flags_give_one_error_line_and_no_file(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        draw_clr(*args)
    assert info.value.code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "clr.png"
    out.write_bytes(b"earlier")
    with pytest.raises(SystemExit):
        draw_clr("--out", str(out))
    assert out.read_bytes() == b"earlier" and "already exists" in capsys.readouterr().err
    draw_clr("--out", str(out), "--overwrite", "--step-size", "5")
    assert out.read_bytes().startswith(b"\x89PNG")
