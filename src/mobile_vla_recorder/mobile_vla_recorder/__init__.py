"""Mobile VLA recorder: the HDF5 episode recorder and its node."""
