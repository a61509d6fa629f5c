"""Mobile VLA camera: frame sources and the camera publisher node."""
