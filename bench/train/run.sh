#!/bin/sh
# Training-loop overhead (loss, optimiser) against PyTorch on CPU, same run.
set -e
cd "$(dirname "$0")/../.."
go test ./train -run '^$' -bench 'Loss|AdamW' -benchtime 5x -count 2
/usr/bin/python3 bench/train/loss_torch.py
