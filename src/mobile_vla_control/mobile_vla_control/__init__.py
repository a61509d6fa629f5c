"""Mobile VLA control: the control arbiter (manual / VLA / hybrid) and the WASD teleop."""
