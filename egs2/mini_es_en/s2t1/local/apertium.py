#!/usr/bin/env python3
"""Spanish sentences on standard input, one a line, through Apertium into the target language
(eng, cat or por): the corpus's references and stage 9's cascade (``--cascade_mt``).

Usage:
    echo "El archivo no existe." | python3 local/apertium.py cat
"""

import sys

from espnet_smoe.recipe.corpora.apertium import main

if __name__ == "__main__":
    main(sys.argv[1:], __doc__)
