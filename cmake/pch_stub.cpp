// Compiled only to build the shared precompiled LibTorch header.
