"""Download with md5 verification and atomic write, against a local HTTP server on 127.0.0.1."""

import errno
import hashlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nst_numpy import weights as W
from nst_numpy.cli import main

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
FILENAME = W.KERAS_FILES["vgg19"].filename


class Handler(http.server.BaseHTTPRequestHandler):
    """/good: the payload; /cut: announces the whole payload, sends a third, hangs up; /slow: the
    same, but waits a minute before hanging up; else 404."""

    requests = []

    def do_GET(self):
        Handler.requests.append(self.path)
        if self.path == "/good":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/slow":   # a third, then nothing for a minute
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:len(PAYLOAD) // 3])
            self.wfile.flush()
            time.sleep(60)
            self.close_connection = True
        elif self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_good_download_verified_and_reused(server, tmp_path, capsys):
    Handler.requests.clear()
    path = W.download("vgg19", cache_dir=tmp_path, url=server + "/good", md5=PAYLOAD_MD5)
    assert path == tmp_path / FILENAME and path.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == [FILENAME]   # no temporary file left
    assert "100%" in capsys.readouterr().err
    # A cached file with the right md5 is not fetched again.
    assert W.download("vgg19", cache_dir=tmp_path, url=server + "/good", md5=PAYLOAD_MD5) == path
    assert Handler.requests == ["/good"]


def test_wrong_checksum_keeps_nothing(server, tmp_path):
    # The default md5 is the real Keras file's, which the small payload cannot match.
    with pytest.raises(ValueError, match="md5 .* does not match the expected 253f8cb5"):
        W.download("vgg19", cache_dir=tmp_path, url=server + "/good", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_connection_cut_midway_keeps_nothing(server, tmp_path):
    with pytest.raises(OSError, match="stopped after"):
        W.download("vgg19", cache_dir=tmp_path, url=server + "/cut", md5=PAYLOAD_MD5, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_keeps_nothing(server, tmp_path):
    with pytest.raises(OSError, match="failed .*Not Found"):
        W.download("vgg16", cache_dir=tmp_path, url=server + "/missing", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_stale_cache_file_is_replaced(server, tmp_path):
    (tmp_path / FILENAME).write_bytes(b"half a file")
    path = W.download("vgg19", cache_dir=tmp_path, url=server + "/good", md5=PAYLOAD_MD5, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_failed_download_keeps_the_old_cache_file(server, tmp_path):
    old = tmp_path / FILENAME
    old.write_bytes(b"previous")
    with pytest.raises(OSError):
        W.download("vgg19", cache_dir=tmp_path, url=server + "/cut", md5=PAYLOAD_MD5, progress=False)
    assert old.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == [FILENAME]


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(W.CACHE_ENV, str(tmp_path / "cache"))
    assert W.default_cache_dir() == tmp_path / "cache"
    monkeypatch.delenv(W.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.default_cache_dir() == tmp_path / "xdg" / "nst_numpy"


def test_unknown_architecture(tmp_path):
    with pytest.raises(ValueError, match="no download for 'vgg11'"):
        W.download("vgg11", cache_dir=tmp_path)


def test_cli_download_error_is_one_line(server, tmp_path, capsys):
    code = main(["weights", "download", "vgg16", "--cache-dir", str(tmp_path),
                 "--url", server + "/good", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "6d6bbae143d832006294945121d1f1fc" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_not_blamed_on_the_connection(server, tmp_path, monkeypatch, capsys):
    real = os.fdopen

    class FullDisk:
        """The file the download writes into, on a disk with no space left."""
        def __init__(self, f):
            self.f = f

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda *args, **kwargs: FullDisk(real(*args, **kwargs)))
    code = main(["weights", "download", "vgg19", "--cache-dir", str(tmp_path), "--url",
                 server + "/good", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"cannot write the download into {tmp_path} (No space left on device)" in err
    assert "--cache-dir" in err and "connection" not in err
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_a_download_keeps_nothing(server, tmp_path):
    # The download's docstring promises that a failed download leaves nothing behind: a
    # SIGTERM is a failure too (once it left a hidden .part in the cache).
    proc = subprocess.Popen([sys.executable, "-m", "nst_numpy.cli", "weights", "download",
                             "vgg19", "--cache-dir", str(tmp_path), "--url", server + "/slow",
                             "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)   # until the temporary file exists
    assert any(tmp_path.iterdir())
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.strip() == "nst-numpy weights: terminated by SIGTERM; nothing was written"
    assert list(tmp_path.iterdir()) == []
