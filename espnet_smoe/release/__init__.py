"""Release: packing a trained model with its model card, the Hugging Face Hub, and exporting
one route as a dense ESPnet model."""
