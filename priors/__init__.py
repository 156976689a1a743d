"""Priors: denoisers D(x, sigma) and scores behind one interface (the PaDIS patch prior lives here)."""
