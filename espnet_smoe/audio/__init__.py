"""Audio: waveforms in any form to the model's, the bandwidth labels that route the encoder,
narrowband channels that make NB audio, and bandwidth detection from the signal."""
