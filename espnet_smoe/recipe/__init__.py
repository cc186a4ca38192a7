"""Recipe support: Kaldi data directories, the job layer, and the library code behind the
recipe's stages (data preparation, decoding, scoring, reports)."""
