"""Mobile VLA simulator: MuJoCo world, scripted expert, closed-loop runner and evaluation."""
