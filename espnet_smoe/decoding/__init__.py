"""Decoding: the ``Speech2Text`` inference API and the beam searches it runs."""
