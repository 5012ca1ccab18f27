"""The playground page through its API (gradio_client): every part's endpoint on a tiny trained run, slider
moves that compile nothing, bad input that comes back as a message, and ``gan-jax play``'s own errors.
Servers listen on 127.0.0.1 only and are stopped at the end of each test module."""
import importlib.util
import os
import socket

import numpy as np
import pytest
from PIL import Image

from gan_jax import configs

if importlib.util.find_spec("gradio") is None:  # (not imported here: the server sets up its environment first)
    pytest.skip("the playground needs the play extra: pip install -e '.[play]'", allow_module_level=True)
gradio_client = pytest.importorskip("gradio_client", reason="the app tests need gradio_client")

from test_play_handlers import (SRGAN, config_only, count_traces, shared_tiny_run, tiny_config,  # noqa: E402
                                untrained_run)

from gan_jax.play import server as play_server  # noqa: E402

pytestmark = [pytest.mark.xdist_group(__name__),  # Gradio's own use of pandas warns; not ours
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")]
SLIDERS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workdir, downloads):
    """A page for ``workdir`` on 127.0.0.1, warmed up, and a client of it that downloads into ``downloads``."""
    srv = play_server.serve(workdir, host="127.0.0.1", port=free_port())
    assert srv.warmed.wait(120)
    return srv, gradio_client.Client(srv.url, verbose=False, download_files=str(downloads))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    srv, client = start(shared_tiny_run(tmp_path_factory), tmp_path_factory.mktemp("downloads"))
    yield srv, client
    srv.close()


def png(path, array):
    Image.fromarray(array).save(path)
    return gradio_client.handle_file(str(path))


def pixels(path):
    return np.asarray(Image.open(path))


CONTROLS = ("latest", True, 1.0)  # checkpoint, EMA, truncation (an unconditional run has no class control)


def test_every_part_answers_on_a_trained_run(page, tmp_path):
    srv, client = page
    # Watch
    losses, d_outputs, grid, checkpoints, status = client.predict(None, api_name="/watch")
    assert status.startswith("step 60 of 60") and "finished" in status
    assert {row[2] for row in d_outputs["data"]} == {"d_real", "d_fake"} and len(losses["data"]) >= 12
    assert grid["label"] == "newest sample grid (step 60)" and pixels(grid["value"]).shape == (62, 62, 3)
    assert [c[0] for c in checkpoints["choices"]] == ["latest", "60", "30"]
    # Generate, with its PNG download
    grid, download, message = client.predict(*CONTROLS, 3, 4, api_name="/generate")
    assert message.startswith("4 images, seed 3, step 60") and pixels(grid).shape == (62, 62, 3)
    assert np.array_equal(pixels(download), pixels(grid)[..., 0])  # the download is the grey grid itself
    # Interpolate: a slider position and the GIF
    a0, _ = client.predict(*CONTROLS, 0, 0, 1, 0, "slerp", 0.0, api_name="/interpolate")
    a1, message = client.predict(*CONTROLS, 0, 0, 1, 0, "slerp", 1.0, api_name="/interpolate")
    assert "t = 1.00 (slerp)" in message and not np.array_equal(pixels(a0), pixels(a1))
    gif, gif_download, message = client.predict(*CONTROLS, 0, 0, 1, 0, "lerp", 5, api_name="/animation")
    for path in (gif, gif_download):  # shown animated, and downloaded
        with Image.open(path) as im:
            assert im.format == "GIF" and im.n_frames == 8 and message.startswith("5 frames (lerp)")
    # Edit: load a latent, move a slider
    unedited, edited, *zeros, message = client.predict(*CONTROLS, 0, 0, api_name="/load_latent")
    assert zeros == [0.0] * SLIDERS and "seed 0, image 0: unedited" in message
    moved, message = client.predict(*CONTROLS, 4.0, 0, 0, 0, 0, api_name="/edit")
    assert message.startswith("SeFa 0 +4") and not np.array_equal(pixels(moved), pixels(unedited))
    back, message = client.predict(*CONTROLS, 0, 0, 0, 0, 0, api_name="/edit")
    assert np.array_equal(pixels(back), pixels(unedited)) and message.startswith("unedited")
    # Bring your own image: preview, invert; the sliders then edit the inverted latent
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    upload = png(tmp_path / "digit.png", digit)
    target, message = client.predict(upload, api_name="/invert_preview")
    assert np.array_equal(pixels(target)[..., 0], digit) and message == "uploaded: press Invert"
    root = play_server.temporary_root()
    kept = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f == "digit.png"]
    assert kept  # the upload is kept in the page's temporary directory (removed when the process exits)
    target, reconstruction, original, *zeros, message = client.predict(*CONTROLS, upload, 500, 8,
                                                                       api_name="/invert")  # the defaults
    assert message.startswith("reconstruction PSNR") and "after 500 steps x 8 restarts" in message
    assert np.array_equal(pixels(original), pixels(reconstruction))
    again, message = client.predict(*CONTROLS, 0, 0, 0, 0, 0, api_name="/edit")
    assert np.array_equal(pixels(again), pixels(reconstruction))  # the edit part now starts from the inverted latent
    # Inpaint: a generated image into the editor, a brush mask, fill
    value, message = client.predict(*CONTROLS, 2, 1, api_name="/inpaint_image")
    shown = pixels(value["background"])
    assert shown.shape[:2] == (252, 252) and message.startswith("seed 2, image 1")  # 9 x 28 px
    brush = np.zeros((252, 252, 4), np.uint8)
    brush[90:180, 90:162, 3] = 255  # model pixels 10..19 x 10..17
    editor = {"background": png(tmp_path / "bg.png", shown), "layers": [png(tmp_path / "brush.png", brush)],
              "composite": None, "id": None}
    masked, baseline, filled, message = client.predict(*CONTROLS, editor, 100, api_name="/inpaint")
    assert message.startswith("80 of 784 pixels filled by latent optimisation (100 steps)"), message
    known = np.ones((28, 28), bool)
    known[10:20, 10:18] = False
    assert np.array_equal(pixels(filled)[known], shown[::9, ::9][known])  # the known pixels, unchanged
    assert (pixels(masked)[~known] == (255, 0, 255)).all()


def test_slider_moves_through_the_page_compile_nothing(page):
    srv, client = page
    client.predict(*CONTROLS, 0, 0, api_name="/load_latent")
    client.predict(*CONTROLS, 0.1, 0, 0, 0, 0, api_name="/edit")  # compiled by the warm-up already
    with count_traces() as traces:
        for value in (0.5, 1.5, -2.0, 3.0, -7.5, 8.0):
            client.predict(*CONTROLS, value, -value, 0, value / 2, 0, api_name="/edit")
    assert traces == []


def test_bad_input_is_a_message_on_the_page(page, tmp_path):
    srv, client = page
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    *_, message = client.predict(*CONTROLS, gradio_client.handle_file(str(text)), 50, 1, api_name="/invert")
    assert message == ("⚠️ upload notes.png: not an image (UnidentifiedImageError); expected an image file (PNG, "
                       "JPEG, ...)")
    rgb = np.zeros((60, 45, 3), np.uint8)
    rgb[..., 0] = 200
    _, message = client.predict(png(tmp_path / "rgb.png", rgb), api_name="/invert_preview")
    assert message == ("uploaded; converted RGB to greyscale; resized from 45x60 to 28x28 (centre-cropped to a "
                       "square): press Invert")
    shown = np.zeros((252, 252, 3), np.uint8)
    empty = {"background": png(tmp_path / "bg.png", shown), "layers": [], "composite": None, "id": None}
    masked, baseline, filled, message = client.predict(*CONTROLS, empty, 60, api_name="/inpaint")
    assert message.startswith("the mask covers nothing") and np.array_equal(pixels(filled), pixels(masked))
    everything = dict(empty, layers=[png(tmp_path / "all.png", np.full((252, 252, 4), 255, np.uint8))])
    *_, message = client.predict(*CONTROLS, everything, 60, api_name="/inpaint")
    assert message.startswith("⚠️ the mask covers everything")
    with pytest.raises(gradio_client.exceptions.AppError, match="greater than maximum value 1.0"):
        client.predict(*CONTROLS, 0, 0, 1, 0, "slerp", 3.0, api_name="/interpolate")  # Gradio checks a slider's range
    *_, message = client.predict(*CONTROLS, 0, 99, api_name="/load_latent")
    assert message == "⚠️ image 99: expected 0..63"
    *_, message = client.predict("12345", True, 1.0, 0, 4, api_name="/generate")
    assert message.startswith("⚠️ --checkpoint 12345: no such step")
    _, message = client.predict(None, api_name="/invert_preview")
    assert message == ""
    assert client.predict(None, api_name="/watch")[-1].startswith("step 60")  # still serving


def test_a_run_without_checkpoints_and_a_class_out_of_range(tmp_path):
    run = config_only(tmp_path / "cond", tiny_config(name="dcgan_cond_mnist"))
    srv, client = start(run, tmp_path)
    try:
        *_, status = client.predict(None, api_name="/watch")
        assert status == "no metrics logged yet; no checkpoint yet (the page keeps watching)"
        *_, message = client.predict("latest", True, 12, 1.0, 0, 4, api_name="/generate")
        assert message == "⚠️ class 12: expected a class in 0..9"
        *_, message = client.predict("latest", True, 3, 1.0, 0, 4, api_name="/generate")
        assert message.startswith("⏳ no checkpoint yet in ") and "the page keeps watching" in message
    finally:
        srv.close()
    assert not os.path.exists(srv.tmpdir)


def test_an_image_to_image_run_shows_its_result_beside_the_baseline(tmp_path):
    run = untrained_run(tmp_path / "srgan", configs.override(configs.get("srgan_x4"), SRGAN))
    srv, client = start(run, tmp_path)
    try:
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert "/translate" in api and "/generate" not in api and "/edit" not in api
        photo = np.random.default_rng(0).integers(0, 256, (12, 20, 3), np.uint8)
        source, baseline, output, message = client.predict("latest", True, 1.0,
                                                           png(tmp_path / "p.png", photo), "a2b",
                                                           api_name="/translate")
        assert pixels(source).shape == (12, 20, 3) and pixels(output).shape == pixels(baseline).shape == (24, 40, 3)
        assert message == "srgan a2b, step 0; beside it bicubic x2"
    finally:
        srv.close()


def test_the_page_is_served_with_nothing_from_elsewhere(page):
    import re
    import urllib.request

    srv, _ = page
    html = urllib.request.urlopen(srv.url).read().decode()
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html)
    assert sources and all(not s.startswith(("http:", "https:", "//")) or s.startswith(srv.url) for s in sources)
    theme = urllib.request.urlopen(srv.url + "theme.css").read().decode()
    assert "googleapis" not in theme and "@import url(http" not in theme
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"  # and so no version check either


def test_gan_jax_play_on_a_path_that_is_not_a_run_is_one_line_and_status_2(page, tmp_path, capsys):
    from gan_jax.cli import main

    assert main(["play", "--workdir", str(tmp_path / "missing")]) == 2
    assert main(["play", "--workdir", str(tmp_path)]) == 2
    assert main(["play", "--workdir", page[0].playground.workdir, "--port", "70000"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"gan-jax: error: --workdir {tmp_path / 'missing'}: no such directory; expected a run directory "
                   f"from gan-jax train",
                   f"gan-jax: error: --workdir {tmp_path}: no config.json; expected a run directory from gan-jax train",
                   "gan-jax: error: --port 70000: expected a port in 1..65535"]


def test_only_loopback_hosts_go_without_a_warning():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert play_server.host_warning(host) is None
    for host in ("0.0.0.0", "192.168.1.5", "example.org", "::"):
        assert "served to every machine that can reach this one" in play_server.host_warning(host)


def test_the_core_library_never_imports_the_playground():
    import ast
    import pathlib
    import subprocess
    import sys

    package = pathlib.Path(__file__).resolve().parents[1] / "gan_jax"
    importers = []
    for path in package.rglob("*.py"):
        inside = path.relative_to(package).parts
        if inside[0] == "play" or inside == ("cli", "play.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module \
                else []
            if any(n == "gan_jax.play" or n.startswith("gan_jax.play.") for n in names):
                importers.append(str(path.relative_to(package)))
    assert importers == []
    # Building the command line (every command's parser, gan-jax play's included) imports neither.
    code = ("import sys, gan_jax, gan_jax.cli; gan_jax.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m == 'gradio' or m.startswith('gan_jax.play')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
