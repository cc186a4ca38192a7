"""Stages 6-7: ESPnet's statistics in parallel jobs, and the training launcher (one process,
torchrun, or Slurm)."""
