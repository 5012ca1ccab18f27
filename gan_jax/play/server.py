"""Serving the page: offline, local by default, uploads kept in a temporary directory.

:func:`serve` sets up what Gradio reads from the environment before it is imported (no
analytics and so no version check, no Hugging Face telemetry, its upload and cache
directory inside a temporary directory that is removed when the process exits),
builds the page (:mod:`gan_jax.play.app`) and starts it on ``host:port``. The page loads
every script, style sheet and font from the server itself (the theme uses system fonts).
"""
from __future__ import annotations

import atexit
import dataclasses
import ipaddress
import os
import shutil
import tempfile
import threading

LOOPBACK_NAMES = ("localhost",)

_OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no analytics, and with them no version check
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",  # no Node server
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The warning ``--host`` prints when it exposes the page beyond this machine (None for loopback)."""
    if is_loopback(host):
        return None
    return (f"--host {host}: the page is served to every machine that can reach this one, without a "
            f"password; anyone there can run the model and upload images")


_ROOT: list[str] = []


def temporary_root() -> str:
    """This process's temporary directory for the page (made on first use, removed when the process exits):
    Gradio keeps uploads in its ``gradio/`` folder (Gradio reads the place once per process), each server
    its downloads in a folder of its own."""
    if not _ROOT:
        _ROOT.append(tempfile.mkdtemp(prefix="gan_jax_play_"))
        atexit.register(shutil.rmtree, _ROOT[0], ignore_errors=True)
        os.environ["GRADIO_TEMP_DIR"] = os.path.join(_ROOT[0], "gradio")
    return _ROOT[0]


@dataclasses.dataclass
class Server:
    """A running page: its ``url``, the Gradio ``app``, the :class:`~gan_jax.play.handlers.Playground`
    and ``tmpdir``, the folder of its downloads (removed by :meth:`close`; uploads are in
    :func:`temporary_root`, removed when the process exits)."""
    url: str
    app: object
    playground: object
    tmpdir: str
    warmed: threading.Event

    def close(self) -> None:
        """Stop the server, wait for the warm-up (a thread left compiling would abort the process at
        exit) and remove the temporary directory."""
        try:
            self.app.close()
        finally:
            self.warmed.wait(timeout=120)
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def wait(self) -> None:
        """Serve until interrupted (KeyboardInterrupt), then :meth:`close`."""
        try:
            threading.Event().wait()
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(workdir: str, *, host: str = "127.0.0.1", port: int | None = None, sefa: int = 5,
          classifier=None, warm: bool = True, quiet: bool = True) -> Server:
    """Start the page for the run in ``workdir`` on ``host:port`` (``port`` None: the first free one
    from 7860) and return at once; :meth:`Server.close` stops it.

    ``sefa``: SeFa sliders; ``classifier``: a loaded classifier whose classes also get sliders.
    ``warm``: compile the slider, generate and interpolation programs in a background thread
    (:attr:`Server.warmed` is set when done). UserError when ``workdir`` is not a run directory.
    """
    from gan_jax.play.handlers import Playground

    os.environ.update(_OFFLINE_ENV)
    tmpdir = tempfile.mkdtemp(prefix="server_", dir=temporary_root())  # before Gradio is imported
    try:
        pg = Playground.open(workdir, tmpdir, sefa=sefa, classifier=classifier)

        from gan_jax.play import app as page

        demo = page.build(pg)
        demo.queue(default_concurrency_limit=1)
        _, url, _ = demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, share=False,
                                inbrowser=False, quiet=quiet, show_error=False, ssr_mode=False, pwa=False,
                                mcp_server=False, footer_links=["api"], theme=page.theme(), css=page.CSS,
                                allowed_paths=[tmpdir], enable_monitoring=False)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    warmed = threading.Event()

    def warm_up():
        try:
            page.warm_up(pg)
        finally:
            warmed.set()

    if warm:
        threading.Thread(target=warm_up, name="gan_jax_play_warm_up", daemon=True).start()
    else:
        warmed.set()
    return Server(url, demo, pg, tmpdir, warmed)
