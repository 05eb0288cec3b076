"""A headless Chromium (Debian's `chromium`) driven over the DevTools
protocol, for the console's tests: navigate, evaluate JavaScript in the page,
wait for a condition, take screenshots. The protocol is spoken directly over
a WebSocket (Debian's python3-websocket), with no driver in between.

    with Browser() as b:
        b.goto("http://127.0.0.1:9644/")
        b.wait("document.querySelector('#ov-brokers').textContent === '1'")
        b.screenshot("/tmp/overview.png")
"""
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

try:
    import websocket  # python3-websocket
except ImportError:  # the test skips with the reason
    websocket = None


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def missing():
    """Why the browser cannot run here, or None."""
    if websocket is None:
        return "python3-websocket is not installed (make deps installs it)"
    if chromium_path() is None:
        return "chromium is not installed (make deps installs it)"
    return None


class Browser:
    def __init__(self, width=1400, height=1000):
        self.profile = tempfile.mkdtemp(prefix="runnel-chromium-")
        args = [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
                "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"]
        # Chromium puts its process-singleton socket in a directory of its own
        # under TMPDIR (org.chromium.Chromium.*) and leaves it behind when
        # terminated: under the profile it goes with the profile.
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=self.profile))
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not _read(port_file).count("\n") >= 1:
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(_read(port_file).split("\n")[0])
        targets = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10).read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.console = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Runtime.exceptionThrown":
                self.console.append(msg["params"]["exceptionDetails"].get("text", "exception"))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def goto(self, url):
        self.send("Page.navigate", url=url)

    def eval(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("page error in %r: %s" % (expression, r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def wait(self, expression, timeout=20.0, what=None):
        """Polls until the expression is truthy; returns its value."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                # An element is truthy here but would come back as {}.
                last = self.eval("(() => { try { const v = %s; return v instanceof Node ? true : v; }"
                                 " catch (e) { return null; } })()" % expression)
            except RuntimeError:
                last = None
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError("timed out waiting for %s (last value %r)" % (what or expression, last))

    def text(self, selector):
        return self.eval("(document.querySelector(%s) || {}).innerText || ''" % json.dumps(selector))

    def fill(self, selector, value):
        self.eval("""(() => { const el = document.querySelector(%s);
            el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true}));
            el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"""
                  % (json.dumps(selector), json.dumps(value)))

    def click(self, selector):
        self.eval("document.querySelector(%s).click(), true" % json.dumps(selector))

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
