"""The code that runs inside the sandbox (bound read-only into it); it imports nothing of the course."""
