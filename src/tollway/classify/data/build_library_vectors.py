"""Rebuild ``library_vectors.npz`` after editing the library or changing the default embedder:
``python src/tollway/classify/data/build_library_vectors.py``."""

from tollway.classify.vectors import build

if __name__ == "__main__":
    print(build())
