"""Text: the multitask token layout (language and task tokens, the decoder prefix, the
decoder's route over the token list) and the byte-level BPE tokenizer."""
