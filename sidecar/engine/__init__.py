"""Pipelines and executions: the service logic between the HTTP layer and the store."""
