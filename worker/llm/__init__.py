"""Calling a model: clients per provider, the failover between main and fallback, the breaker.

It knows nothing about reviews: a request goes in, a typed answer or a
typed error (worker.llm.errors) comes out. It may import the foundation and
the interfaces of `worker.call_guards` (the gate and quota protocols it is
handed); it must not import `worker.github`, `worker.review`,
`worker.publish`, `worker.runner` or `app`. `worker.gate.redis` and `worker.quota`
are handed in as values, never imported.
"""
