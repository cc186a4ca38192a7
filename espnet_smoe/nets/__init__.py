"""The S-MoE network: the route (one expert per utterance), expert FFNs, and ESPnet's encoder,
decoder and S2T model with those FFNs. Nothing here reads files or knows the recipe."""
