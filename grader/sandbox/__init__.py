"""Code that runs inside the grading sandbox (worker.py) and the plain-data codec both sides share."""
