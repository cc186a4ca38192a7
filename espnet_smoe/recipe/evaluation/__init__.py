"""Stages 8-9: decoding every test set under each decode condition, and scoring it into
results.json and ESPnet's RESULTS.md (with significance tests and the cascade baseline)."""
