"""Test doubles that speak the real protocols over real sockets."""
