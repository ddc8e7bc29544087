"""``textrnn serve RUN [RUN ...]``: saved runs behind a JSON API and a web page (FastAPI on uvicorn).

Needs the serve extra (``pip install "textrnn[serve]"``); ``textrnn.serve.app`` holds the routes, ``schemas`` the
bodies, ``runs`` the loading and naming of runs, ``static/`` the page.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import sys

from textrnn.errors import TextrnnError

NEEDED = ("fastapi", "uvicorn")


def require_serve_extra() -> None:
    """Raise a TextrnnError naming the install command when FastAPI or uvicorn is missing."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise TextrnnError(f"textrnn serve needs {' and '.join(missing)}: pip install \"textrnn[serve]\"")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_runs(specs: list[str], host: str = "127.0.0.1", port: int = 8000, threads: int = 1,
               device: str = "cpu", limits=None) -> None:
    """Load the runs of ``specs`` (``NAME=PATH`` or ``PATH``) and serve them until Ctrl-C, which uvicorn turns into
    a clean shutdown (requests in flight finish). ``threads``: torch's intra-op threads (0 leaves torch's default).
    Raises TextrnnError when the serve extra is missing, ConfigError or PipelineError for a bad run."""
    require_serve_extra()
    import torch
    import uvicorn

    from textrnn.serve.app import create_app
    from textrnn.serve.runs import load_runs

    if threads:
        torch.set_num_threads(threads)
    runs = load_runs(specs, device=device)
    app = create_app(runs, limits)
    shown = f"[{host}]" if ":" in host else host
    print(f"textrnn: serving {', '.join(f'{n} ({r.pipe.config.task})' for n, r in runs.items())} at "
          f"http://{shown}:{port}/ (API docs at /docs; Ctrl-C stops)", file=sys.stderr)
    if not _loopback(host):
        print(f"textrnn: warning: bound to {host}, so other machines can reach this server; it has no "
              "authentication", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
