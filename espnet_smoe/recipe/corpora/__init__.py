"""Data preparation of the recipes' corpora, one module per corpus; each writes Kaldi data
directories (:mod:`espnet_smoe.recipe.datadir`), and ``egs2/<corpus>/s2t1/local/*.py`` are their
command lines."""
