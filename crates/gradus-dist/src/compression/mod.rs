//! Compressors, CGD, EF and EF21 (paper 06). Work in progress.
