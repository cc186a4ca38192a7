"""Stages 2-5: the training, validation and test sets made from a corpus's data dirs (speed
perturbation, the NB/WB versions, audio dumps, the BBPE token list, multitask examples)."""
