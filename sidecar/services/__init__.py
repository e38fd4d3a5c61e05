"""Operations on pipelines, executions, approvals and settings shared by the API and the engine.

Each function takes an open session and changes or reads the store; none talks HTTP to
callers, so both the API workers and the engine process use them.
"""
