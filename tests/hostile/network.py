# mypy: ignore-errors
"""Hostile: tries to reach the network. Expected with the sandbox: no interface but loopback,
and the connection fails at once (OSError)."""
import socket

print("INTERFACES", [name for _, name in socket.if_nameindex()])
socket.create_connection(("1.1.1.1", 53), timeout=2).close()
print("CONNECTED")
