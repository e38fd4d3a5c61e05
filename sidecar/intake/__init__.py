"""Webhooks from Git servers and image registries (DESIGN §8).

``signatures`` checks each provider's signature or token, one module per provider
turns its payload into a ``HookEvent`` (``sidecar.services.events``), and ``service``
dedupes deliveries and starts executions. A pipeline's own event filters live in
``sidecar.services.triggers``, which pipeline registration also uses.
"""
