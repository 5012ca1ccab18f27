"""The playground in a real browser: ``gan-jax play`` (the command itself, in a subprocess, on 127.0.0.1) opened
in headless Chromium driven by Selenium, with Debian's ``chromium`` and ``chromium-driver`` (no browser
download). It watches a run that trains meanwhile, generates, moves a slider, paints a mask and fills it,
checks that each shown image changed and that the page fetched nothing from anywhere but the server, and saves
screenshots (a test artefact; the README's come from here:
``GAN_JAX_PLAY_WORKDIR=runs/dcgan_mnist GAN_JAX_PLAY_SCREENSHOTS=experiments/playground python -m pytest -n 0
tests/test_play_browser.py``). Without Chromium it skips and says why."""
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

if importlib.util.find_spec("gradio") is None:  # (not imported here: the server sets up its environment first)
    pytest.skip("the playground needs the play extra: pip install -e '.[play]'", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs Selenium (the test extra)")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from test_play_app import free_port  # noqa: E402
from test_play_handlers import shared_tiny_run  # noqa: E402

pytestmark = [pytest.mark.xdist_group(__name__),  # Gradio's own use of pandas warns; not ours
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TIMEOUT = 120  # seconds for any one thing the page should do


def _missing() -> str | None:
    if not CHROMIUM:
        return "no Chromium on PATH (Debian: apt-get install chromium chromium-driver)"
    if not CHROMEDRIVER:
        return "no chromedriver on PATH (Debian: apt-get install chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    if _missing():
        pytest.skip(_missing())
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1300", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    yield driver
    driver.quit()


class Play:
    """``gan-jax play --workdir WORKDIR`` in a subprocess, stopped with SIGINT like Ctrl-C."""

    def __init__(self, workdir: str, log_path: str):
        self.port = free_port()
        self.log = open(log_path, "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "gan_jax.cli", "play", "--workdir", workdir, "--port",
                                      str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.url = f"http://127.0.0.1:{self.port}/"
        until(lambda: "serving" in self.output() or self.proc.poll() is not None, "gan-jax play to start")
        assert self.proc.poll() is None, self.output()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def until(condition, what: str, timeout: float = TIMEOUT):
    """Wait until ``condition()`` is truthy (polled every 0.2 s), at most ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value is not None and value is not False and (not hasattr(value, "__len__") or len(value)):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def text(driver, elem_id: str) -> str:
    found = driver.find_elements(By.ID, elem_id)
    return found[0].text if found else ""


def shown(driver, elem_id: str) -> np.ndarray | None:
    """The pixels of the image the component ``elem_id`` shows now (as rendered), None if it shows none."""
    images = driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")
    images = [i for i in images if i.is_displayed() and i.size["width"] > 4]
    if not images or not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0",
                                               images[0]):
        return None
    return np.asarray(Image.open(io.BytesIO(images[0].screenshot_as_png)).convert("RGB"))


def changed(driver, elem_id: str, before: np.ndarray | None):
    now = shown(driver, elem_id)
    return now is not None and (before is None or now.shape != before.shape or np.abs(
        now.astype(int) - before.astype(int)).max() > 8)


def tab(driver, name: str) -> None:
    driver.find_element(By.ID, f"tab-{name}-button").click()
    time.sleep(0.5)


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def screenshot(driver, directory: str, name: str) -> str:
    path = os.path.join(directory, f"{name}.png")
    driver.save_screenshot(path)
    return path


def test_the_page_in_headless_chromium(browser, tmp_path, tmp_path_factory):
    given = os.environ.get("GAN_JAX_PLAY_WORKDIR")  # e.g. runs/dcgan_mnist, for the README's screenshots
    shots = os.environ.get("GAN_JAX_PLAY_SCREENSHOTS") or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    workdir = given
    if not given:  # a copy of the tiny trained run, which this test trains further
        workdir = str(tmp_path / "run")
        shutil.copytree(shared_tiny_run(tmp_path_factory), workdir)
    play = Play(workdir, str(tmp_path / "play.log"))
    trainer = None
    try:
        driver = browser
        driver.get(play.url)
        until(lambda: "step" in text(driver, "watch-status"), "the Watch part's status")
        until(lambda: shown(driver, "watch-grid") is not None, "the newest sample grid")
        until(lambda: "g_loss" in text(driver, "watch-losses") and "d_fake" in text(driver, "watch-d"),
              "the loss and D-output curves (their legends)")

        # Watch: a run that trains meanwhile (from another process) shows up by itself.
        if not given:
            config_steps = 90
            trainer = subprocess.Popen([sys.executable, "-m", "gan_jax.cli", "train", "--workdir", workdir,
                                        "--steps", str(config_steps), "--no-progress"],
                                       stdout=open(tmp_path / "train.log", "w"), stderr=subprocess.STDOUT)
            until(lambda: f"step {config_steps} of {config_steps}" in text(driver, "watch-status"),
                  "the page to show the steps trained meanwhile")
            until(lambda: f"(step {config_steps})" in driver.find_element(By.ID, "watch-grid").text,
                  "the newest sample grid of the steps trained meanwhile")
            assert trainer.wait(timeout=TIMEOUT) == 0, open(tmp_path / "train.log").read()
        screenshot(driver, shots, "watch")

        # Generate: press the button, then again with another seed; the grid changes each time.
        tab(driver, "generate")
        driver.find_element(By.ID, "gen-button").click()
        until(lambda: "images, seed 0" in text(driver, "gen-message"), "a generated grid")
        first = until(lambda: shown(driver, "gen-grid"), "the grid to show")
        seed = driver.find_element(By.CSS_SELECTOR, "#gen-seed input")
        seed.send_keys(Keys.CONTROL, "a")
        seed.send_keys("5", Keys.TAB)
        driver.find_element(By.ID, "gen-button").click()
        until(lambda: "images, seed 5" in text(driver, "gen-message"), "the grid of seed 5")
        until(lambda: changed(driver, "gen-grid", first), "the shown grid to change")
        screenshot(driver, shots, "generate")

        # Edit: the page loaded image 0 of seed 0; moving a slider changes the shown image.
        tab(driver, "edit")
        until(lambda: "unedited" in text(driver, "edit-message"), "the unedited image")
        before = until(lambda: shown(driver, "edit-image"), "the edited image to show")
        slider = driver.find_element(By.CSS_SELECTOR, "#edit-slider-0 input[type=range]")
        slider.click()  # the middle: 0
        for _ in range(30):
            slider.send_keys(Keys.ARROW_RIGHT)  # 0.1 a step
        until(lambda: "SeFa 0 +" in text(driver, "edit-message"), "the slider's image")
        until(lambda: changed(driver, "edit-image", before), "the shown image to change with the slider")
        screenshot(driver, shots, "edit")

        # Interpolate: the slider moves from image A towards image B; the GIF is made on request.
        tab(driver, "interpolate")
        t = driver.find_element(By.CSS_SELECTOR, "#interp-t input[type=range]")
        t.click()  # the middle
        until(lambda: "t = 0." in text(driver, "interp-message"), "an image on the way")
        middle = until(lambda: shown(driver, "interp-frame"), "the interpolated image")
        for _ in range(30):
            t.send_keys(Keys.ARROW_RIGHT)  # 0.01 a step
        until(lambda: changed(driver, "interp-frame", middle), "the image to move with the slider")
        driver.find_element(By.ID, "interp-gif-button").click()
        until(lambda: "16 frames (slerp)" in text(driver, "interp-message"), "the GIF")
        until(lambda: shown(driver, "interp-gif"), "the GIF to show")

        # Your image: upload a drawing, invert it (the message gives the PSNR); the sliders then edit it.
        tab(driver, "your")
        drawing = np.zeros((40, 40, 3), np.uint8)  # another size, in colour: converted, and the page says so
        drawing[8:32, 17:23] = (255, 255, 255)
        Image.fromarray(drawing).save(tmp_path / "my_digit.png")
        upload = driver.find_element(By.CSS_SELECTOR, "#invert-upload input[type=file]")
        upload.send_keys(str(tmp_path / "my_digit.png"))
        until(lambda: "resized from 40x40 to" in text(driver, "invert-message"), "the upload's preview")
        driver.find_element(By.ID, "invert-button").click()
        until(lambda: "reconstruction PSNR" in text(driver, "invert-message"), "the inversion")
        until(lambda: shown(driver, "invert-reconstruction"), "the reconstruction")
        screenshot(driver, shots, "invert")

        # Inpaint: paint a stroke over the image in the editor and fill it.
        tab(driver, "inpaint")
        canvas = until(lambda: [c for c in driver.find_elements(By.CSS_SELECTOR, "#inpaint-editor canvas")
                                if c.is_displayed() and c.size["width"] > 100], "the image editor")[0]
        until(lambda: "seed 0, image 0" in text(driver, "inpaint-message"), "the image in the editor")
        brush = driver.find_elements(By.CSS_SELECTOR, "#inpaint-editor button[aria-label='Brush'], "
                                                      "#inpaint-editor button[aria-label='Draw']")
        if brush:
            brush[0].click()
        stroke = ActionChains(driver).move_to_element_with_offset(canvas, -40, -40).click_and_hold()
        for dx, dy in ((20, 0), (20, 10), (20, 20), (20, 30), (-60, 10)):
            stroke = stroke.move_by_offset(dx, dy)
        stroke.release().perform()
        driver.find_element(By.ID, "inpaint-button").click()
        until(lambda: "pixels filled" in text(driver, "inpaint-message") or "⚠" in text(driver, "inpaint-message"),
              "the fill")
        assert "pixels filled by latent optimisation" in text(driver, "inpaint-message"), text(driver,
                                                                                                "inpaint-message")
        masked = until(lambda: shown(driver, "inpaint-masked"), "the masked input")
        filled = until(lambda: shown(driver, "inpaint-filled"), "the filled image")
        hole = (masked[..., 0] > 200) & (masked[..., 1] < 60) & (masked[..., 2] > 200)  # painted magenta
        assert hole.mean() > 0.01 and not ((filled[..., 0] > 200) & (filled[..., 1] < 60)).any()
        screenshot(driver, shots, "inpaint")

        # Nothing came from anywhere but the server: no CDN, no fonts, no analytics.
        outside = [u for u in requested_urls(driver)
                   if not u.startswith((play.url, "data:", "blob:", f"ws://127.0.0.1:{play.port}/"))]
        assert outside == []
    finally:
        if trainer is not None and trainer.poll() is None:
            trainer.kill()
            trainer.wait()
        code = play.stop()
    assert code == 0 and "gan-jax play: stopped" in open(tmp_path / "play.log").read()
