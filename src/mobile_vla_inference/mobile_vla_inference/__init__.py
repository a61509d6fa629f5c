"""Mobile VLA inference: the streaming policy runner and the VLA inference node."""
