"""Webhooks from Git servers and image registries (DESIGN §8).

``signatures`` checks each provider's signature or token, one module per provider
turns its payload into a ``HookEvent``, ``triggers`` holds the pipeline's own event
filters, and ``service`` dedupes deliveries and starts executions. This package
module imports nothing, so ``sidecar.engine.pipelines`` can use ``triggers``.
"""
