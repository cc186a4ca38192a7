"""Reports over stage 9's results.json: runs side by side, the label-noise curves and the
experiment matrix."""
