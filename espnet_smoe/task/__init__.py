"""ESPnet integration: the S2T task with the S-MoE classes registered among ESPnet's choices,
its preprocessor, and building a model from a config without data."""
