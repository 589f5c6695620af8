"""The grading sandbox: the zygote that starts it (zygote.py), the trusted execution of a notebook's
test cells (trusted.py), and the code that runs inside it (inside/: worker.py and the plain-data codec
both sides share)."""
