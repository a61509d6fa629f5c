"""Mobile VLA simulator: MuJoCo world, scripted expert, closed-loop runner and evaluation."""

#: Evaluation seeds start here, away from the seeds ``sim collect`` uses by default
#: (here, not in ``evaluate``: the command line reads it without loading the policy stack).
EVAL_SEED = 100_000
