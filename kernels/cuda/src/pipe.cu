// pipe.cu: the one translation unit compiled to PTX (go tool task cuda:ptx);
// every kernel of pipe's CUDA backend is in one module per architecture.
#include "scan.cu"
#include "conv.cu"
#include "gemm.cu"
#include "norm.cu"
#include "elementwise.cu"
#include "graph.cu"
