"""Every environment variable, declared once, and read through its declaration.

`spec` is the shape of a declaration; `models` and `service` declare the
variables (the model blocks; GitHub, Redis, quota, operations, Compose);
`read` collects them and reads one by name for worker.config.
"""
